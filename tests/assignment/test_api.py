"""The assignment endpoints: claim, submit, return, extend, image, and blocks."""

import json

import psycopg
import pytest
from django.db import close_old_connections, connection

from crowd.assignment.models import Assignment, Block
from crowd.assignment.selectors import lease_brief
from crowd.assignment.serializers import LeaseSerializer, lease_data
from tests import factories

pytestmark = pytest.mark.django_db


def next_url(project):
    return f"/api/v1/projects/{project.pk}/assignments/next/"


def box(project):
    category = project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": [1, 1, 10, 10]}]}


def test_claim_returns_a_lease_with_what_the_worker_needs(api, project, wendy):
    item = factories.make_item(project=project)
    response = api(wendy).post(next_url(project))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["item"] == item.pk and body["status"] == "leased"
    assert (body["width"], body["height"], body["kind"]) == (64, 48, "bbox")
    assert [c["name"] for c in body["categories"]] == ["cat", "dog"]
    assert "gold" not in response.content.decode()
    again = api(wendy).post(next_url(project))
    assert again.status_code == 200 and again.json()["id"] == body["id"]


@pytest.mark.parametrize("kind", ["bbox", "keypoints"])
def test_the_claim_answers_exactly_what_the_lease_serializer_documents(api, alice, wendy, kind):
    """The claim endpoint builds its answer directly (lease_data); the OpenAPI schema and the
    extend endpoint use LeaseSerializer: the two must say the same, field for field."""
    schema = factories.make_schema(owner=alice, kind=kind, names=("b", "a", "c"))
    project = factories.make_project(
        owner=alice, schema=schema, instructions="Box every *cat*.", max_lease_extensions=3
    )
    factories.make_item(project=project, width=320, height=200)
    response = api(wendy).post(next_url(project))
    assert response.status_code == 201, response.content
    assignment = Assignment.objects.get(pk=response.json()["id"])
    documented = json.loads(json.dumps(LeaseSerializer(assignment).data))
    assert response.json() == documented
    assert [c["name"] for c in documented["categories"]] == ["b", "a", "c"]
    Assignment.objects.filter(pk=assignment.pk).update(extensions=1)
    assignment.refresh_from_db()
    assert lease_data(assignment, lease_brief(assignment)) == LeaseSerializer(assignment).data


def test_nothing_left_is_a_documented_409(api, project, wendy):
    response = api(wendy).post(next_url(project))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "nothing_for_you" and error["details"]["reason"] == "nothing_left"


@pytest.mark.parametrize("persona", ["alice", "rita", "aldo"])
def test_only_workers_claim(api, request, project, persona):
    factories.make_item(project=project)
    assert api(request.getfixturevalue(persona)).post(next_url(project)).status_code == 403
    assert Assignment.objects.count() == 0


def test_claim_on_unknown_project_is_404(api, wendy):
    assert api(wendy).post("/api/v1/projects/424242/assignments/next/").status_code == 404


def test_submit_return_extend_over_http(api, project, wendy):
    factories.make_item(project=project)
    factories.make_item(project=project)
    client = api(wendy)
    lease = client.post(next_url(project)).json()
    extended = client.post(f"/api/v1/assignments/{lease['id']}/extend/")
    assert extended.status_code == 200 and extended.json()["extensions"] == 1
    submitted = client.post(
        f"/api/v1/assignments/{lease['id']}/submit/", {"payload": box(project)}, format="json"
    )
    assert submitted.status_code == 201, submitted.content
    repeat = client.post(
        f"/api/v1/assignments/{lease['id']}/submit/", {"payload": box(project)}, format="json"
    )
    assert repeat.status_code == 200 and repeat.json()["id"] == submitted.json()["id"]
    second = client.post(next_url(project)).json()
    returned = client.post(f"/api/v1/assignments/{second['id']}/return/")
    assert returned.status_code == 200 and returned.json()["status"] == "returned"


def test_bad_submissions_get_4xx_with_a_message(api, project, wendy):
    factories.make_item(project=project)
    client = api(wendy)
    lease = client.post(next_url(project)).json()
    url = f"/api/v1/assignments/{lease['id']}/submit/"
    assert client.post(url, {}, format="json").status_code == 400
    response = client.post(url, {"payload": {"regions": [{"category_id": 1}]}}, format="json")
    assert response.status_code == 400 and "region 0" in response.json()["error"]["message"]
    too_big = client.generic(
        "POST", url, '{"payload": "' + "x" * (11 * 1024 * 1024) + '"}',
        content_type="application/json",
    )  # fmt: skip
    assert too_big.status_code in (400, 413)
    assert Assignment.objects.get().status == "leased"


def test_other_workers_cannot_touch_a_lease(api, project, wendy):
    factories.make_item(project=project)
    lease = api(wendy).post(next_url(project)).json()
    other = api(factories.make_user())
    for action in ("submit", "return", "extend"):
        response = other.post(
            f"/api/v1/assignments/{lease['id']}/{action}/", {"payload": box(project)}, format="json"
        )
        assert response.status_code == 404, action
    assert other.get(f"/api/v1/assignments/{lease['id']}/image/").status_code == 404
    assert Assignment.objects.get().status == "leased"


def test_the_worker_gets_the_image_of_its_lease(api, project, wendy):
    item = factories.make_item(project=project)
    lease = api(wendy).post(next_url(project)).json()
    response = api(wendy).get(lease["image_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == item.image.open("rb").read()


def test_manager_blocks_and_unblocks_a_worker(api, project, alice, wendy):
    factories.make_item(project=project)
    factories.make_item(project=project)  # the first goes back to the pool, not to wendy
    api(wendy).post(next_url(project))
    response = api(alice).post(
        "/api/v1/blocks/",
        {"worker": wendy.pk, "project": project.pk, "reason": "spam"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Assignment.objects.get().status == "returned"
    refused = api(wendy).post(next_url(project))
    assert refused.status_code == 409 and refused.json()["error"]["details"]["reason"] == "blocked"
    lifted = api(alice).post(f"/api/v1/blocks/{response.json()['id']}/lift/")
    assert lifted.status_code == 200 and lifted.json()["lifted_at"]
    assert api(wendy).post(next_url(project)).status_code == 201


@pytest.mark.parametrize(
    "case, message",
    [
        ("worker not an id", "worker"),
        ("no worker", "worker"),
        ("empty reason", "reason"),
        ("block a manager", "only workers"),
    ],
)
def test_bad_block_requests_are_refused(api, project, alice, wendy, case, message):
    body = {"worker": wendy.pk, "project": project.pk, "reason": "spam"}
    if case == "worker not an id":
        body["worker"] = "not-an-id"
    elif case == "no worker":
        del body["worker"]
    elif case == "empty reason":
        body["reason"] = ""
    else:
        body["worker"] = alice.pk
    response = api(alice).post("/api/v1/blocks/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]["message"]
    assert Block.objects.count() == 0


def test_blocks_need_a_manager_of_the_project(api, project, bob, aldo, wendy):
    """Bob may not see Alice's project (404); Aldo and Wendy see it but change nothing (403)."""
    body = {"worker": wendy.pk, "project": project.pk, "reason": "spam"}
    assert api(bob).post("/api/v1/blocks/", body, format="json").status_code == 404
    assert api(aldo).post("/api/v1/blocks/", body, format="json").status_code == 403
    assert api(wendy).post("/api/v1/blocks/", body, format="json").status_code == 403
    assert Block.objects.count() == 0


def test_blocking_twice_is_a_conflict(api, project, alice, wendy):
    body = {"worker": wendy.pk, "project": project.pk, "reason": "spam"}
    assert api(alice).post("/api/v1/blocks/", body, format="json").status_code == 201
    assert api(alice).post("/api/v1/blocks/", body, format="json").status_code == 409
    assert Block.objects.count() == 1


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_restart_mid_claim_is_a_clean_503_and_claims_resume(api, project, wendy):
    """PERF-NOTES F4: the server ends this process's connection (as a restart does). The next
    claim gets a retryable 503, nothing half written; after the request ends, the broken
    connection is dropped and the next claim works."""
    factories.make_item(project=project)
    client = api(wendy)
    first = client.post(next_url(project))
    assert first.status_code == 201, first.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"),
        dbname=params["dbname"], autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    refused = client.post(next_url(project))
    assert refused.status_code == 503, refused.content
    assert refused.json()["error"]["code"] == "unavailable" and refused["Retry-After"] == "1"
    close_old_connections()  # what the end of every request does in a server
    again = client.post(next_url(project))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Assignment.objects.filter(worker=wendy).count() == 1
