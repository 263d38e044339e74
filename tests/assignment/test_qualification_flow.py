"""Qualification tests and the quality gate, driven end to end through the HTTP API."""

import pytest

from crowd.qualifications.models import QualificationEvent
from crowd.qualifications.services import qualification_type_create, requirement_create
from tests import factories

pytestmark = pytest.mark.django_db


def answer(project, bbox):
    category = project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": bbox}]}


GOLD_BOX = [10, 10, 20, 20]


def claim(client, project):
    return client.post(f"/api/v1/projects/{project.pk}/assignments/next/")


def submit(client, lease_id, payload):
    return client.post(
        f"/api/v1/assignments/{lease_id}/submit/", {"payload": payload}, format="json"
    )


def test_worker_passes_a_qualification_test_through_the_normal_flow(api, alice, wendy):
    main = factories.make_project(owner=alice)
    factories.make_item(project=main)
    test_project = factories.make_project(owner=alice, name="Birds test")
    for _ in range(4):
        factories.make_item(project=test_project, gold_answer=answer(test_project, GOLD_BOX))
    birds = qualification_type_create(
        owner=alice, name="Birds expert", test_project=test_project, test_size=3
    )
    requirement_create(project=main, qualification_type=birds, comparator="gte", value=60)
    client = api(wendy)

    refused = claim(client, main)
    assert refused.json()["error"]["details"]["reason"] == "not_qualified"
    assert "Birds expert" in refused.json()["error"]["message"]
    assert claim(client, test_project).json()["error"]["details"]["reason"] == "test_not_started"

    started = client.post(f"/api/v1/qualification-types/{birds.pk}/test/")
    assert started.status_code in (200, 201), started.content
    answers = [GOLD_BOX, GOLD_BOX, [40, 30, 10, 10]]  # two right, one wrong: 67
    for bbox in answers:
        lease = claim(client, test_project)
        assert lease.status_code == 201, lease.content
        assert submit(client, lease.json()["id"], answer(test_project, bbox)).status_code == 201
    assert claim(client, test_project).json()["error"]["details"]["reason"] == "test_not_started"

    grant = wendy.qualification_grants.get(qualification_type=birds)
    assert grant.value == 67
    assert QualificationEvent.objects.filter(grant=grant, kind="test_scored").exists()
    assert claim(client, main).status_code == 201


def test_quality_gate_blocks_a_worker_who_keeps_failing_gold(api, alice, wendy):
    project = factories.make_project(
        owner=alice, gold_rate=0.99, gate_min_gold_accuracy=0.8, gate_window=10,
        gate_action="block",
    )  # fmt: skip
    for _ in range(12):
        factories.make_item(project=project, gold_answer=answer(project, GOLD_BOX))
    factories.make_item(project=project)
    client = api(wendy)
    for _ in range(12):
        lease = claim(client, project)
        if lease.status_code == 409:
            break
        assert (
            submit(client, lease.json()["id"], answer(project, [40, 30, 10, 10])).status_code == 201
        )
    refused = claim(client, project)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["reason"] == "blocked"
    assert project.blocks.filter(worker=wendy, lifted_at__isnull=True).exists()
    assert QualificationEvent.objects.filter(kind="gate_warned", grant__worker=wendy).exists()


def test_one_unlucky_gold_answer_does_not_trip_the_gate(api, alice, wendy):
    project = factories.make_project(
        owner=alice, gold_rate=0.99, gate_min_gold_accuracy=0.7, gate_window=20,
        gate_action="block",
    )  # fmt: skip
    for _ in range(6):
        factories.make_item(project=project, gold_answer=answer(project, GOLD_BOX))
    for _ in range(6):  # a claim that is not a gold turn takes a regular item
        factories.make_item(project=project)
    client = api(wendy)
    first = True
    for _ in range(6):
        lease = claim(client, project)
        assert lease.status_code == 201, lease.content
        submit(client, lease.json()["id"], answer(project, [40, 30, 10, 10] if first else GOLD_BOX))
        first = False
    assert wendy.assignments.filter(gold_score=0).count() == 1
    assert not project.blocks.exists()
