"""Expert review of escalated items, over the API."""

import pytest

from tests import factories
from workflows.golden.models import GoldenAnnotation
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.submit import annotation_submit

pytestmark = pytest.mark.django_db

SPOTS = [(5, 5, 30, 30), (60, 60, 30, 30), (120, 20, 30, 30)]


def boxes(project, *bboxes):
    category = project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": list(b)} for b in bboxes]}


@pytest.fixture
def escalated(alice, rita, aldo, django_capture_on_commit_callbacks):
    project = factories.make_project(
        owner=alice, min_redundancy=3, max_redundancy=3, accept_agreement=0.8, reviewers=[rita],
        auditors=[aldo],
    )  # fmt: skip
    item = factories.make_item(project=project, width=200, height=150)
    for bbox in SPOTS:
        worker = factories.make_user()
        with django_capture_on_commit_callbacks(execute=True):
            lease = assignment_claim_next(worker=worker, project_id=project.pk).assignment
            annotation_submit(worker=worker, assignment_id=lease.pk, payload=boxes(project, bbox))
    item.refresh_from_db()
    assert item.state == "escalated"
    return project, item


def test_reviewer_sees_the_queue_with_every_candidate(api, escalated, rita):
    project, item = escalated
    queue = api(rita).get(f"/api/v1/projects/{project.pk}/review-queue/").json()
    assert [entry["item"] for entry in queue] == [item.pk]
    candidates = queue[0]["candidates"]
    assert candidates[0]["id"] == "consensus" and len(candidates) == 4
    image = api(rita).get(queue[0]["image_url"])
    assert image.status_code == 200


def test_reviewer_accepts_a_worker_answer_and_it_is_promoted(api, escalated, rita):
    project, item = escalated
    chosen = item.annotations.order_by("pk")[1]
    response = api(rita).post(
        f"/api/v1/items/{item.pk}/review/", {"action": "accept", "candidate": str(chosen.pk)}
    )
    assert response.status_code == 201, response.content
    golden = GoldenAnnotation.objects.get(item=item)
    assert golden.reviewed_by == rita and golden.payload == chosen.payload
    assert golden.consensus_result is not None  # the evidence the reviewer decided on
    item.refresh_from_db()
    assert item.state == "promoted"
    again = api(rita).post(f"/api/v1/items/{item.pk}/review/", {"action": "reject", "reason": "x"})
    assert again.status_code == 409


def test_reviewer_edits_the_label(api, escalated, rita):
    project, item = escalated
    edited = boxes(project, (60, 60, 31, 30))
    response = api(rita).post(
        f"/api/v1/items/{item.pk}/review/", {"action": "edit", "payload": edited}, format="json"
    )
    assert response.status_code == 201, response.content
    assert GoldenAnnotation.objects.get(item=item).payload == edited


def test_reviewer_rejects_the_item_with_a_reason(api, escalated, rita):
    project, item = escalated
    url = f"/api/v1/items/{item.pk}/review/"
    assert api(rita).post(url, {"action": "reject"}).status_code == 400
    assert api(rita).post(url, {"action": "reject", "reason": "blurry"}).status_code == 204
    item.refresh_from_db()
    assert item.state == "rejected" and not GoldenAnnotation.objects.exists()


@pytest.mark.parametrize(
    "body, status",
    [
        ({"action": "accept", "candidate": "999999"}, 400),
        ({"action": "accept"}, 400),
        ({"action": "edit"}, 400),
        (
            {"action": "edit", "payload": {"regions": [{"category_id": 1, "bbox": [0, 0, 0, 0]}]}},
            400,
        ),
        ({"action": "promote"}, 400),
    ],
)
def test_bad_review_requests_are_refused_and_nothing_changes(api, escalated, rita, body, status):
    project, item = escalated
    response = api(rita).post(f"/api/v1/items/{item.pk}/review/", body, format="json")
    assert response.status_code == status, response.content
    item.refresh_from_db()
    assert item.state == "escalated" and not GoldenAnnotation.objects.exists()


def test_only_the_projects_reviewers_decide(api, escalated, alice, wendy, aldo):
    project, item = escalated
    stranger = factories.make_user("other-reviewer", role="reviewer")
    url = f"/api/v1/items/{item.pk}/review/"
    # The project's auditor and manager read the item (403); the others may not see it (404).
    for user, code in ((stranger, 404), (wendy, 404), (aldo, 403), (alice, 403)):
        response = api(user).post(url, {"action": "accept", "candidate": "consensus"})
        assert response.status_code == code, user
    assert api(wendy).get(f"/api/v1/projects/{project.pk}/review-queue/").status_code == 404
    assert api(stranger).get(f"/api/v1/projects/{project.pk}/review-queue/").status_code == 404
    assert not GoldenAnnotation.objects.exists()


def test_auditor_traces_a_golden_label_to_its_raw_answers(api, escalated, rita, aldo):
    project, item = escalated
    api(rita).post(
        f"/api/v1/items/{item.pk}/review/", {"action": "accept", "candidate": "consensus"}
    )
    (golden,) = api(aldo).get(f"/api/v1/golden-annotations/?project={project.pk}").json()["results"]
    assert sorted(golden["source_annotations"]) == sorted(
        item.annotations.values_list("pk", flat=True)
    )
    result = api(aldo).get(f"/api/v1/consensus-results/{golden['consensus_result']}/").json()
    assert result["decision"] == "escalate" and result["package_version"]
