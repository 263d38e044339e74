"""answer_score: hand-computed cases for every annotation kind (pure, no database)."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from crowd.qualifications.scoring import answer_score, count_matches, pose_area


def score(kind, answer, gold, iou_threshold=0.5):
    return answer_score(kind=kind, answer=answer, gold=gold, iou_threshold=iou_threshold)


def boxes(*items):
    return {"regions": [{"category_id": c, "bbox": list(b)} for c, b in items]}


def test_classification_scores_one_for_the_gold_category_and_zero_otherwise():
    assert score("classification", {"category_id": 3}, {"category_id": 3}) == 1.0
    assert score("classification", {"category_id": 4}, {"category_id": 3}) == 0.0


def test_two_empty_answers_agree_that_nothing_is_there():
    assert score("bbox", {"regions": []}, {"regions": []}) == 1.0


def test_an_empty_answer_to_a_gold_with_objects_scores_zero():
    assert score("bbox", {"regions": []}, boxes((1, (0, 0, 10, 10)))) == 0.0
    assert score("bbox", boxes((1, (0, 0, 10, 10))), {"regions": []}) == 0.0


def test_box_score_is_f1_of_matches_at_the_iou_threshold():
    gold = boxes((1, (0, 0, 10, 10)), (1, (20, 0, 10, 10)))
    # First box shifted by 2 px: IoU = 80 / 120 = 0.667; second box missed; one extra box.
    answer = boxes((1, (2, 0, 10, 10)), (1, (40, 30, 5, 5)))
    assert score("bbox", answer, gold, 0.5) == pytest.approx(2 * 1 / 4)
    assert score("bbox", answer, gold, 0.7) == 0.0


def test_boxes_of_another_category_never_match():
    gold = boxes((1, (0, 0, 10, 10)))
    assert score("bbox", boxes((2, (0, 0, 10, 10))), gold) == 0.0


def test_matching_is_one_to_one():
    gold = boxes((1, (0, 0, 10, 10)))
    answer = boxes((1, (0, 0, 10, 10)), (1, (0, 0, 10, 10)))
    assert score("bbox", answer, gold) == pytest.approx(2 / 3)


def test_matching_prefers_more_matches_over_one_better_pair():
    # a0-g0 is the best pair (0.99), but a0-g1 and a1-g0 give two matches above 0.45.
    similarity = np.array([[0.99, 0.5], [0.48, 0.0]])
    assert count_matches(similarity, 0.45) == 2


def test_polygon_iou_is_computed_on_the_rasterised_shapes():
    square = [0, 0, 10, 0, 10, 10, 0, 10]
    half = [0, 0, 5, 0, 5, 10, 0, 10]  # IoU with the square: 50 / 100
    gold = {"regions": [{"category_id": 1, "polygon": square}]}
    assert score("polygon", gold, gold) == 1.0
    answer = {"regions": [{"category_id": 1, "polygon": half}]}
    assert score("polygon", answer, gold, 0.45) == 1.0
    assert score("polygon", answer, gold, 0.55) == 0.0


def _rle(mask) -> dict:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded["size"]), "counts": encoded["counts"].decode()}


def test_mask_iou_uses_the_run_length_encodings():
    gold_mask = np.zeros((20, 20), dtype=bool)
    gold_mask[0:10, 0:10] = True
    answer_mask = np.zeros((20, 20), dtype=bool)
    answer_mask[0:10, 0:8] = True  # IoU 80 / 100
    gold = {"regions": [{"category_id": 1, "rle": _rle(gold_mask)}]}
    answer = {"regions": [{"category_id": 1, "rle": _rle(answer_mask)}]}
    assert score("mask", answer, gold, 0.75) == 1.0
    assert score("mask", answer, gold, 0.85) == 0.0


def test_keypoints_are_matched_by_object_keypoint_similarity():
    gold = {"regions": [{"category_id": 1, "keypoints": [0, 0, 2, 100, 100, 2]}]}
    assert score("keypoints", gold, gold, 0.9) == 1.0
    # Both points 10 px off: the scale is 100 x 100, sigma 0.05, so
    # OKS = exp(-100 / (2 * 0.01 * 10_000)) = exp(-0.5) = 0.607.
    near = {"regions": [{"category_id": 1, "keypoints": [10, 0, 2, 110, 100, 2]}]}
    assert score("keypoints", near, gold, 0.6) == 1.0
    assert score("keypoints", near, gold, 0.62) == 0.0


def test_a_pose_along_a_line_keeps_a_usable_scale():
    pose = np.array([[0.0, 0.0, 2.0], [100.0, 0.0, 2.0]])
    assert pose_area(pose) == pytest.approx(100 * 50)


def test_scores_stay_in_the_unit_interval_for_many_regions():
    gold = boxes(*[(1, (10 * i, 0, 8, 8)) for i in range(5)])
    answer = boxes(*[(1, (10 * i + 1, 1, 8, 8)) for i in range(7)])
    value = score("bbox", answer, gold, 0.5)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(2 * 5 / 12)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown annotation kind"):
        score("video", {"regions": []}, {"regions": [{"category_id": 1}]})
