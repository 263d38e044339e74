"""Review and budget endpoints: status codes, shapes, and nothing written on refusal."""

import pytest

from crowd.pay.models import Appeal, LedgerEntry
from tests import factories
from tests.pay.review_support import paid_project, payable, submitted

pytestmark = pytest.mark.urls("tests.pay.review_support")


def test_approve_and_reject_endpoints(alice, wendy, api):
    project = paid_project(alice, reward=10)
    one, two = submitted(wendy, project), submitted(factories.make_user(), project)
    response = api(alice).post("/api/v1/assignments/approve/", {"ids": [one.pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"changed": [one.pk], "unchanged": []}
    response = api(alice).post(
        "/api/v1/assignments/reject/", {"ids": [two.pk], "reason": "empty"}, format="json"
    )
    assert response.status_code == 200 and response.json()["changed"] == [two.pk]
    assert payable(wendy) == 10


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 400),
        ({"ids": []}, 400),
        ({"ids": "abc"}, 400),
        ({"ids": [-1]}, 400),
        ({"ids": [99999]}, 404),
    ],
)
def test_bad_approve_bodies_are_clear_4xx(alice, api, body, status):
    response = api(alice).post("/api/v1/assignments/approve/", body, format="json")
    assert response.status_code == status
    assert "error" in response.json()


def test_someone_elses_project_is_404_and_nothing_is_written(alice, bob, wendy, api):
    """Bob may not see work on Alice's project: a 404, as for an id that does not exist."""
    project = paid_project(alice, reward=10)
    assignment = submitted(wendy, project)
    before = LedgerEntry.objects.count()
    response = api(bob).post(
        "/api/v1/assignments/approve/", {"ids": [assignment.pk]}, format="json"
    )
    assert response.status_code == 404
    assert LedgerEntry.objects.count() == before


def test_approving_a_returned_assignment_is_409(alice, wendy, api):
    project = paid_project(alice)
    returned = factories.make_assignment(
        item=project.items.first(), worker=wendy, status="returned"
    )
    response = api(alice).post(
        "/api/v1/assignments/approve/", {"ids": [returned.pk]}, format="json"
    )
    assert response.status_code == 409
    assert "returned" in response.json()["error"]["message"]


def test_reject_needs_a_reason(alice, wendy, api):
    project = paid_project(alice)
    assignment = submitted(wendy, project)
    response = api(alice).post(
        "/api/v1/assignments/reject/", {"ids": [assignment.pk], "reason": ""}, format="json"
    )
    assert response.status_code == 400


def test_reverse_appeal_and_answer(alice, wendy, api):
    project = paid_project(alice, reward=10)
    assignment = submitted(wendy, project)
    api(alice).post(
        "/api/v1/assignments/reject/", {"ids": [assignment.pk], "reason": "blurry"}, format="json"
    )
    response = api(wendy).post(
        f"/api/v1/assignments/{assignment.pk}/appeal/", {"message": "look again"}, format="json"
    )
    assert response.status_code == 201
    appeal_id = response.json()["id"]
    assert (
        api(wendy)
        .post(f"/api/v1/assignments/{assignment.pk}/appeal/", {"message": "again"}, format="json")
        .status_code
        == 409
    )
    assert api(wendy).post(f"/api/v1/assignments/{assignment.pk}/reverse/").status_code == 403
    response = api(alice).post(
        f"/api/v1/appeals/{appeal_id}/answer/", {"outcome": "upheld", "answer": "no"}, format="json"
    )
    assert response.status_code == 200 and Appeal.objects.get().outcome == "upheld"
    response = api(alice).post(f"/api/v1/assignments/{assignment.pk}/reverse/")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert payable(wendy) == 10


def test_budget_endpoint_reads_and_sets(alice, bob, wendy, aldo, api):
    project = paid_project(alice, reward=10, budget=100, auditors=[aldo])
    submitted(wendy, project)
    url = f"/api/v1/projects/{project.pk}/budget/"
    body = api(alice).get(url).json()
    # Reserved: the submitted work's reward and the other two items' funded slots.
    assert body == {
        "authorised_minor": 100, "funded_minor": 100, "reserved_minor": 30, "spent_minor": 0,
        "available_minor": 70, "currency": "USD",
    }  # fmt: skip
    assert api(aldo).get(url).status_code == 200
    assert api(bob).get(url).status_code == 404
    assert api(wendy).get(url).status_code == 404
    assert api(aldo).post(url, {"budget_minor": 5}, format="json").status_code == 403
    for bad in (-5, "ten", 1.5):
        assert api(alice).post(url, {"budget_minor": bad}, format="json").status_code == 400
    response = api(alice).post(url, {"budget_minor": "250"}, format="json")
    assert response.status_code == 200 and response.json()["available_minor"] == 220
