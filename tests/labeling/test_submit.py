"""Submitting answers: validated against schema and image, stored once, gold scored."""

import pytest

from crowd.assignment.models import Assignment
from crowd.common.exceptions import AlreadySubmitted, InvalidInput, NotFound, PayloadTooLarge
from crowd.labeling.models import Annotation
from tests import factories
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.submit import annotation_submit
from workflows.projects.validation import MAX_REGIONS

pytestmark = pytest.mark.django_db


def box(project, bbox, category=None):
    category = category or project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": bbox}]}


@pytest.fixture
def lease(project, wendy):
    factories.make_item(project=project)  # 64 x 48
    return assignment_claim_next(worker=wendy, project_id=project.pk).assignment


def submit(worker, lease, payload):
    return annotation_submit(worker=worker, assignment_id=lease.pk, payload=payload)


def test_submit_stores_the_answer_and_marks_the_assignment(lease, wendy, project):
    result = submit(wendy, lease, box(project, [1, 2, 30, 20]))
    assert result.created
    lease.refresh_from_db()
    assert lease.status == "submitted" and lease.submitted_at is not None
    assert result.annotation.payload == box(project, [1, 2, 30, 20])
    assert result.annotation.worker == wendy and result.annotation.kind == "bbox"


def test_same_answer_twice_returns_the_first_result(lease, wendy, project):
    first = submit(wendy, lease, box(project, [1, 2, 30, 20]))
    again = submit(wendy, lease, box(project, [1, 2, 30, 20]))
    assert not again.created and again.annotation.pk == first.annotation.pk
    assert Annotation.objects.count() == 1


def test_different_answer_after_submit_is_a_conflict(lease, wendy, project):
    submit(wendy, lease, box(project, [1, 2, 30, 20]))
    with pytest.raises(AlreadySubmitted):
        submit(wendy, lease, box(project, [5, 5, 5, 5]))
    assert Annotation.objects.get().payload == box(project, [1, 2, 30, 20])


def test_someone_elses_assignment_is_not_found(lease, project):
    with pytest.raises(NotFound):
        submit(factories.make_user(), lease, box(project, [1, 2, 3, 4]))


@pytest.mark.parametrize(
    "payload, message",
    [
        ([], "must be a JSON object"),
        ({}, "'regions' list"),
        ({"regions": [{"bbox": [1, 1, 5, 5]}]}, "category_id must be an integer"),
        ({"regions": [{"category_id": 999999, "bbox": [1, 1, 5, 5]}]}, "not in this project"),
        ("BOX", "must be a JSON object"),
    ],
)
def test_malformed_answers_are_refused_and_nothing_is_written(lease, wendy, payload, message):
    with pytest.raises(InvalidInput, match=message):
        submit(wendy, lease, payload)
    lease.refresh_from_db()
    assert lease.status == "leased" and Annotation.objects.count() == 0


@pytest.mark.parametrize(
    "bbox, message",
    [
        ([1, 1, 0, 5], "zero or negative"),
        ([1, 1, -3, 5], "zero or negative"),
        ([60, 40, 10, 10], "outside the 64x48 image"),
        ([-1, 0, 5, 5], "outside"),
        ([1, 1, 5], r"\[x, y, width, height\]"),
        ([1, 1, "5", 5], "finite numbers"),
        ([1, 1, float("nan"), 5], "finite numbers"),
    ],
)
def test_invalid_boxes_are_refused_with_a_clear_message(lease, wendy, project, bbox, message):
    with pytest.raises(InvalidInput, match=message):
        submit(wendy, lease, box(project, bbox))
    assert Annotation.objects.count() == 0


def test_too_many_regions_is_payload_too_large(lease, wendy, project):
    category = project.label_schema.categories.first().pk
    regions = [{"category_id": category, "bbox": [1, 1, 2, 2]}] * (MAX_REGIONS + 1)
    with pytest.raises(PayloadTooLarge):
        submit(wendy, lease, {"regions": regions})


def test_empty_answer_means_nothing_here_and_is_valid(lease, wendy):
    assert submit(wendy, lease, {"regions": []}).created


def polygon_project(alice, kind="polygon"):
    project = factories.make_project(
        owner=alice, schema=factories.make_schema(owner=alice, kind=kind)
    )
    factories.make_item(project=project, width=64, height=48)
    return project


@pytest.mark.parametrize(
    "polygon, message",
    [
        ([1, 1, 10, 1], "at least 3 vertices"),
        ([1, 1, 10, 1, 20, 1], "zero area"),
        ([1, 1, 10, 1, 10], "flat list"),
        ([1, 1, 100, 1, 10, 10], "outside"),
        ([0, 0, 20, 20, 20, 0, 0, 20], "self-intersecting"),
    ],
)
def test_invalid_polygons_are_refused(alice, wendy, polygon, message):
    project = polygon_project(alice)
    lease = assignment_claim_next(worker=wendy, project_id=project.pk).assignment
    category = project.label_schema.categories.first().pk
    with pytest.raises(InvalidInput, match=message):
        submit(wendy, lease, {"regions": [{"category_id": category, "polygon": polygon}]})


def test_mask_answers_must_match_the_image_and_decode(alice, wendy):
    import numpy as np
    from pycocotools import mask as mask_utils

    project = polygon_project(alice, kind="mask")
    lease = assignment_claim_next(worker=wendy, project_id=project.pk).assignment
    category = project.label_schema.categories.first().pk
    dense = np.zeros((48, 64), dtype=np.uint8, order="F")
    dense[5:20, 5:30] = 1
    rle = mask_utils.encode(dense)
    good = {"size": [48, 64], "counts": rle["counts"].decode()}
    for bad, message in (
        ({**good, "size": [64, 48]}, "does not match the image"),
        ({"size": [48, 64], "counts": "!!!"}, "not valid COCO RLE|empty"),
        ({"size": [48, 64]}, "COCO RLE"),
    ):
        with pytest.raises(InvalidInput, match=message):
            submit(wendy, lease, {"regions": [{"category_id": category, "rle": bad}]})
    assert submit(wendy, lease, {"regions": [{"category_id": category, "rle": good}]}).created


def test_gold_answer_is_scored_and_the_score_never_reaches_the_worker(alice, wendy, api):
    project = factories.make_project(owner=alice)
    category = project.label_schema.categories.first().pk
    gold = {"regions": [{"category_id": category, "bbox": [10, 10, 20, 20]}]}
    # Leased directly: the gold draw of a claim is the assignment tests' business.
    item = factories.make_item(project=project, gold_answer=gold)
    lease = factories.make_assignment(item=item, worker=wendy)
    submit(wendy, lease, {"regions": [{"category_id": category, "bbox": [11, 10, 20, 20]}]})
    lease.refresh_from_db()
    assert lease.gold_score == pytest.approx(1.0)
    body = api(wendy).get(f"/api/v1/assignments/{lease.pk}/").content.decode()
    assert "gold" not in body


def test_wrong_gold_answer_scores_zero(alice, wendy):
    project = factories.make_project(owner=alice)
    category = project.label_schema.categories.first().pk
    gold = {"regions": [{"category_id": category, "bbox": [10, 10, 20, 20]}]}
    # Leased directly: the gold draw of a claim is the assignment tests' business.
    item = factories.make_item(project=project, gold_answer=gold)
    lease = factories.make_assignment(item=item, worker=wendy)
    submit(wendy, lease, {"regions": [{"category_id": category, "bbox": [40, 30, 10, 10]}]})
    assert Assignment.objects.get(pk=lease.pk).gold_score == 0.0
