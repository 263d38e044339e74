"""Tests for the crowd simulator: determinism, error rates, worker kinds and COCO validity."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from scipy.optimize import linear_sum_assignment

from workflows.consensus.simulate import (
    CrowdProfile,
    WorkerProfile,
    make_synthetic_gt,
    make_workers,
    simulate_crowd,
)

QUIET = dict(  # a crowd without random extras, so counts follow the miss rate alone
    extra_rate=(0.0, 0.0),
    duplicate_rate=(0.0, 0.0),
    merge_rate=(0.0, 0.0),
    confusion_rate=(0.0, 0.0),
)


def _xyxy(bboxes: list[list[float]]) -> np.ndarray:
    arr = np.asarray(bboxes, dtype=float).reshape(-1, 4)
    return np.column_stack([arr[:, :2], arr[:, :2] + arr[:, 2:]])


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _recall_iou_per_worker(gt: dict, coco: dict) -> dict[int, float]:
    """Mean over truth objects of the IoU of the Hungarian-matched worker box (0 if none)."""
    gt_boxes: dict[int, list] = {}
    for ann in gt["annotations"]:
        gt_boxes.setdefault(ann["image_id"], []).append(ann["bbox"])
    drawn: dict[tuple[int, int], list] = {}
    for ann in coco["annotations"]:
        drawn.setdefault((ann["image_id"], ann["annotator_id"]), []).append(ann["bbox"])
    scores: dict[int, list[float]] = {}
    for img in coco["images"]:
        truth = _xyxy(gt_boxes.get(img["id"], []))
        for worker in img["annotator_ids"]:
            mine = _xyxy(drawn.get((img["id"], worker), []))
            got = np.zeros(len(truth))
            if len(truth) and len(mine):
                iou = _iou(truth, mine)
                rows, cols = linear_sum_assignment(-iou)
                got[rows] = iou[rows, cols]
            scores.setdefault(worker, []).extend(got.tolist())
    return {worker: float(np.mean(values)) for worker, values in scores.items()}


@pytest.fixture(scope="module")
def gt() -> dict:
    return make_synthetic_gt(120, np.random.default_rng(7), n_keypoints=2)


def test_same_seed_gives_identical_crowd_and_workers(gt: dict) -> None:
    profile = CrowdProfile(n_workers=8, workers_per_image=4, spammer_share=0.25)
    first = simulate_crowd(gt, profile, np.random.default_rng(3))
    second = simulate_crowd(gt, profile, np.random.default_rng(3))
    other = simulate_crowd(gt, profile, np.random.default_rng(4))
    assert json.dumps(first.coco, sort_keys=True) == json.dumps(second.coco, sort_keys=True)
    assert first.workers == second.workers
    assert json.dumps(first.coco, sort_keys=True) != json.dumps(other.coco, sort_keys=True)


def test_synthetic_gt_is_deterministic_and_keeps_objects_apart() -> None:
    a = make_synthetic_gt(30, np.random.default_rng(1), max_overlap=0.2)
    b = make_synthetic_gt(30, np.random.default_rng(1), max_overlap=0.2)
    assert a == b
    kinds = {"segmentation" in ann for ann in a["annotations"]}
    assert kinds == {True, False}  # "mixed" gives boxes and polygons
    for img in a["images"]:
        boxes = _xyxy([x["bbox"] for x in a["annotations"] if x["image_id"] == img["id"]])
        iou = _iou(boxes, boxes)
        np.fill_diagonal(iou, 0.0)
        assert iou.max(initial=0.0) <= 0.2 + 0.02  # polygon boxes are a little inside the draw


def test_every_image_lists_its_distinct_annotators_and_annotations_match(gt: dict) -> None:
    crowd = simulate_crowd(
        gt, CrowdProfile(n_workers=9, workers_per_image=4), np.random.default_rng(0)
    )
    listed = {img["id"]: img["annotator_ids"] for img in crowd.coco["images"]}
    assert all(len(ids) == len(set(ids)) == 4 for ids in listed.values())
    assert {w.annotator_id for w in crowd.workers} == set(range(1, 10))
    for ann in crowd.coco["annotations"]:
        assert ann["annotator_id"] in listed[ann["image_id"]]
    ids = [ann["id"] for ann in crowd.coco["annotations"]]
    assert ids == list(range(1, len(ids) + 1))


def test_spammers_are_measurably_worse_than_normal_workers_and_experts(gt: dict) -> None:
    profile = CrowdProfile(n_workers=10, workers_per_image=10, spammer_share=0.2, expert_share=0.2)
    crowd = simulate_crowd(gt, profile, np.random.default_rng(11))
    quality = _recall_iou_per_worker(gt, crowd.coco)
    by_kind: dict[str, list[float]] = {}
    for worker in crowd.workers:
        by_kind.setdefault(worker.kind, []).append(quality[worker.annotator_id])
    assert len(by_kind["spammer"]) == 2 and len(by_kind["expert"]) == 2
    assert max(by_kind["spammer"]) < 0.25
    assert min(by_kind["normal"]) > 0.6
    assert min(by_kind["expert"]) > max(by_kind["normal"]) - 0.05
    assert min(by_kind["expert"]) > 0.85
    # The profile's own quality summary orders the kinds the same way.
    true_quality = {w.kind: w.quality for w in crowd.workers}
    assert true_quality["spammer"] == 0.0 < true_quality["normal"] < true_quality["expert"]


def test_missing_rate_is_honoured_within_sampling_error(gt: dict) -> None:
    miss = 0.2
    workers = [
        WorkerProfile(annotator_id=i, miss_rate=miss, extra_rate=0.0, jitter=0.02)
        for i in range(1, 6)
    ]
    profile = CrowdProfile(n_workers=5, workers_per_image=5, spammer_share=0.0)
    crowd = simulate_crowd(gt, profile, np.random.default_rng(5), workers=workers)
    trials = 5 * len(gt["annotations"])
    drawn = len(crowd.coco["annotations"])
    observed = 1.0 - drawn / trials
    sigma = math.sqrt(miss * (1 - miss) / trials)
    assert abs(observed - miss) < 4 * sigma


def test_drawn_workers_respect_the_profile_ranges() -> None:
    profile = CrowdProfile(n_workers=40, spammer_share=0.1, expert_share=0.2, miss_rate=(0.1, 0.3))
    workers = make_workers(profile, np.random.default_rng(2))
    kinds = [w.kind for w in workers]
    assert kinds.count("spammer") == 4 and kinds.count("expert") == 8
    normal = [w for w in workers if w.kind == "normal"]
    assert all(0.1 <= w.miss_rate <= 0.3 for w in normal)
    assert all(w.jitter == profile.expert.jitter for w in workers if w.kind == "expert")


def test_class_confusion_and_duplicates_follow_their_rates(gt: dict) -> None:
    workers = [
        WorkerProfile(
            annotator_id=1, miss_rate=0.0, extra_rate=0.0, confusion_rate=0.3, duplicate_rate=0.25
        )
    ]
    profile = CrowdProfile(n_workers=1, workers_per_image=1, spammer_share=0.0, expert_share=0.0)
    crowd = simulate_crowd(gt, profile, np.random.default_rng(8), workers=workers)
    n_gt = len(gt["annotations"])
    n_dup = len(crowd.coco["annotations"]) - n_gt
    assert abs(n_dup / n_gt - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n_gt)
    truth = {(a["image_id"], tuple(a["bbox"])): a["category_id"] for a in gt["annotations"]}
    wrong = 0
    for ann in crowd.coco["annotations"]:
        boxes = [(key, cat) for key, cat in truth.items() if key[0] == ann["image_id"]]
        best = max(boxes, key=lambda kc: _iou(_xyxy([ann["bbox"]]), _xyxy([list(kc[0][1])]))[0, 0])
        wrong += best[1] != ann["category_id"]
    rate = wrong / len(crowd.coco["annotations"])
    assert abs(rate - 0.3) < 4 * math.sqrt(0.3 * 0.7 / len(crowd.coco["annotations"]))


def test_polygons_keypoints_and_rle_masks_survive_the_noise(gt: dict) -> None:
    mask = np.zeros((100, 120), dtype=np.uint8)
    mask[20:60, 30:90] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle_gt = {
        "images": [{"id": 1, "width": 120, "height": 100}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [30, 20, 60, 40],
                "segmentation": {"size": [100, 120], "counts": rle["counts"].decode()},
                "area": 2400,
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    profile = CrowdProfile(n_workers=6, workers_per_image=6, spammer_share=0.0, **QUIET)
    crowd = simulate_crowd(rle_gt, profile, np.random.default_rng(0))
    for ann in crowd.coco["annotations"]:
        got = mask_utils.decode(ann["segmentation"] | {"counts": ann["segmentation"]["counts"]})
        inter = np.logical_and(got, mask).sum()
        assert inter / np.logical_or(got, mask).sum() > 0.5
    poly = simulate_crowd(gt, profile, np.random.default_rng(0)).coco["annotations"]
    with_kps = [a for a in poly if "keypoints" in a]
    assert with_kps and all(len(a["keypoints"]) == 6 for a in with_kps)
    polygons = [a for a in poly if "segmentation" in a]
    assert polygons and all(len(p) >= 6 for a in polygons for p in a["segmentation"])


def test_output_loads_in_pycocotools_and_scores_against_ground_truth(
    gt: dict, tmp_path: Path
) -> None:
    from pycocotools.cocoeval import COCOeval

    profile = CrowdProfile(n_workers=6, workers_per_image=3, spammer_share=0.0)
    crowd = simulate_crowd(gt, profile, np.random.default_rng(9))
    crowd_path = tmp_path / "crowd.json"
    gt_path = tmp_path / "gt.json"
    crowd_path.write_text(json.dumps(crowd.coco))
    gt_path.write_text(json.dumps(gt))
    loaded = COCO(str(crowd_path))
    assert len(loaded.getAnnIds()) == len(crowd.coco["annotations"])
    shaped = [a for a in loaded.loadAnns(loaded.getAnnIds()) if "segmentation" in a]
    for ann in shaped[:50]:  # box-only objects carry no segmentation, as in COCO itself
        assert loaded.annToMask(ann).shape == (480, 640)
    truth = COCO(str(gt_path))
    first = crowd.coco["images"][0]["annotator_ids"][0]
    results = [dict(a, score=1.0) for a in crowd.coco["annotations"] if a["annotator_id"] == first]
    evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
    evaluation.params.imgIds = sorted({a["image_id"] for a in results})
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[1] > 0.3  # AP@0.5 of one normal worker is far from zero


def test_invalid_profiles_are_rejected() -> None:
    with pytest.raises(ValueError):
        WorkerProfile(annotator_id=1, miss_rate=1.5)
    with pytest.raises(ValueError):
        WorkerProfile(annotator_id=1, kind="robot")
    with pytest.raises(ValueError):
        CrowdProfile(n_workers=3, workers_per_image=4)
    with pytest.raises(ValueError):
        CrowdProfile(spammer_share=0.7, expert_share=0.5)
