"""Grants, revocations, the audit trail and starting a test over the API."""

import pytest

from crowd.qualifications import services
from crowd.qualifications.models import QualificationEvent, QualificationGrant
from tests import factories
from tests.qualifications.conftest import box_answer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.qualifications.urls")]

GRANTS = "/api/v1/qualification-grants/"
EVENTS = "/api/v1/qualification-events/"


def test_a_manager_grants_and_revokes_over_the_api(api, alice, wendy, make_type):
    qtype = make_type("Birds expert")
    body = {"qualification_type": qtype.pk, "worker": wendy.pk, "value": 80, "reason": "interview"}
    response = api(alice).post(GRANTS, body)
    assert response.status_code == 201, response.content
    assert response.json()["value"] == 80 and response.json()["is_held"] is True
    response = api(alice).post(
        f"{GRANTS}revoke/", {"qualification_type": qtype.pk, "worker": wendy.pk, "reason": "spam"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_held"] is False
    kinds = list(QualificationEvent.objects.values_list("kind", "reason"))
    assert kinds == [("granted", "interview"), ("revoked", "spam")]


@pytest.mark.parametrize("persona", ["bob", "wendy", "rita", "aldo"])
def test_others_cannot_grant_a_type_they_do_not_own(api, request, wendy, make_type, persona):
    qtype = make_type("Birds expert")
    body = {"qualification_type": qtype.pk, "worker": wendy.pk, "value": 80}
    response = api(request.getfixturevalue(persona)).post(GRANTS, body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not QualificationGrant.objects.exists()


def test_a_revocation_without_a_reason_is_refused_and_changes_nothing(
    api, alice, wendy, make_type, grant
):
    qtype = make_type()
    grant(qtype, wendy, 5)
    response = api(alice).post(
        f"{GRANTS}revoke/", {"qualification_type": qtype.pk, "worker": wendy.pk}
    )
    assert response.status_code == 400
    assert "needs a reason" in response.json()["error"]["message"]
    assert QualificationGrant.objects.get().revoked_at is None


def test_bad_grant_input_is_refused_with_the_field(api, alice, wendy, make_type):
    qtype = make_type()
    response = api(alice).post(GRANTS, {"qualification_type": qtype.pk, "worker": wendy.pk})
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("value")
    response = api(alice).post(
        GRANTS, {"qualification_type": qtype.pk, "worker": alice.pk, "value": 1}
    )
    assert response.status_code == 400
    assert "only workers hold qualifications" in response.json()["error"]["message"]
    assert not QualificationGrant.objects.exists()


def test_a_worker_sees_only_its_own_grants_and_a_manager_those_of_its_types(
    api, alice, bob, wendy, make_type, grant, django_assert_max_num_queries
):
    other_worker = factories.make_user(role="worker")
    mine, bobs = make_type("Alice's"), make_type("Bob's", owner=bob)
    grant(mine, wendy, 1)
    grant(mine, other_worker, 2)
    grant(bobs, wendy, 3, actor=bob)
    as_worker = api(wendy).get(GRANTS).json()["results"]
    assert sorted(g["value"] for g in as_worker) == [1, 3]
    client = api(alice)
    with django_assert_max_num_queries(4):
        as_alice = client.get(GRANTS).json()["results"]
    assert sorted(g["value"] for g in as_alice) == [1, 2]
    assert api(bob).get(f"{GRANTS}?worker={wendy.pk}").json()["results"][0]["value"] == 3


def test_the_audit_trail_is_visible_to_the_types_manager_auditors_and_the_worker(
    api, alice, bob, wendy, aldo, rita, make_type, grant
):
    qtype = make_type("Birds expert")
    grant(qtype, wendy, 1, reason="first")
    services.qualification_revoke(qualification_type=qtype, worker=wendy, actor=alice, reason="r")
    query = f"{EVENTS}?worker={wendy.pk}&type={qtype.pk}"
    for persona in (alice, aldo, wendy):
        kinds = [e["kind"] for e in api(persona).get(query).json()["results"]]
        assert kinds == ["granted", "revoked"], persona
    assert api(bob).get(query).json()["results"] == []
    assert api(rita).get(query).json()["results"] == []
    other = factories.make_user(role="worker")
    assert api(other).get(EVENTS).json()["results"] == []


def test_a_project_manager_sees_the_gate_events_of_its_project(
    api, alice, bob, wendy, gold_answers
):
    gated = factories.make_project(owner=alice, gate_min_gold_accuracy=0.8, gate_action="warn")
    answers = gold_answers(gated, [0.0] * 6)
    services.gold_result_record(assignment=answers[-1])
    kinds = [e["kind"] for e in api(alice).get(EVENTS).json()["results"]]
    assert kinds == ["gate_warned"]
    assert api(bob).get(EVENTS).json()["results"] == []


def test_event_filters_must_be_ids(api, alice):
    response = api(alice).get(f"{EVENTS}?worker=wendy")
    assert response.status_code == 400 and "worker must be an integer id" in response.text


def test_a_worker_starts_a_test_and_is_told_where_to_claim(api, alice, wendy, make_type):
    test_project = factories.make_project(owner=alice)
    for _ in range(2):
        factories.make_item(
            project=test_project, gold_answer=box_answer(test_project, (0, 0, 5, 5))
        )
    qtype = make_type("Birds expert", test_project=test_project, test_size=2)
    response = api(wendy).post(f"/api/v1/qualification-types/{qtype.pk}/test/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["test_project"] == test_project.pk
    assert (body["items_total"], body["items_remaining"], body["score"]) == (2, 2, None)
    assert "item_ids" not in body
    again = api(wendy).post(f"/api/v1/qualification-types/{qtype.pk}/test/").json()
    assert again["id"] == body["id"]


def test_starting_a_test_that_does_not_exist_is_a_clear_refusal(api, wendy, make_type):
    qtype = make_type("Plain")
    response = api(wendy).post(f"/api/v1/qualification-types/{qtype.pk}/test/")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "not_eligible",
        "message": "'Plain' has no qualification test",
        "details": {},
    }
    assert api(wendy).post("/api/v1/qualification-types/999999/test/").status_code == 404
