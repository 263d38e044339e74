"""Worker-quality EM (convergence, more rounds no worse, spammers lose their vote), the
trivial-component fast path of the box clustering, and mixed box / polygon datasets."""

import numpy as np
import pytest

from workflows.consensus.boxes_batch import merge_box_arrays
from workflows.consensus.coco import merge_coco
from workflows.consensus.geometry import box_iou
from workflows.consensus.matching import _agreement_linkage, cluster_boxes_batch
from workflows.consensus.types import MergeParams


def spam_crowd(seed=0, n_items=120, n_pool=10, per_item=5, spammers=(8, 9)):
    """Items with 1-3 true boxes; workers with 2-8 px noise; ``spammers`` draw random boxes."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(2.0, 8.0, n_pool)
    rows, truth = [], []
    annotators = []
    for g in range(n_items):
        k = int(rng.integers(1, 4))
        xy = rng.uniform(0, 700, (k, 2)) + np.arange(k)[:, None] * 40
        gt = np.c_[xy, xy + rng.uniform(50, 120, (k, 2))]
        truth.append(gt)
        who = np.sort(rng.choice(n_pool, per_item, replace=False))
        annotators.append(who.astype(np.int64))
        for w in who.tolist():
            if w in spammers:
                for _ in range(k):
                    xy0 = rng.uniform(0, 750, 2)
                    rows.append((np.r_[xy0, xy0 + rng.uniform(20, 120, 2)], w, g))
                continue
            for b in gt:
                if rng.random() < 0.1:
                    continue  # missed
                rows.append((b + rng.normal(0, noise[w], 4), w, g))
    b = np.array([r[0] for r in rows])
    w = np.array([r[1] for r in rows], np.int64)
    g = np.array([r[2] for r in rows], np.int64)
    return b, w, np.ones(len(b), np.int64), g, annotators, truth


def f1_and_iou(res, truth):
    tp = fp = 0
    ious = []
    for g, gt in enumerate(truth):
        pred = res.box[res.accepted & (res.group == g)]
        if not len(pred):
            continue
        iou = box_iou(pred, gt)
        best = iou.max(1)
        hit = best >= 0.5
        tp += int(hit.sum())
        fp += int((~hit).sum())
        ious.extend(best[hit].tolist())
    fn = sum(len(t) for t in truth) - tp
    return 2 * tp / (2 * tp + fp + fn), float(np.mean(ious))


def test_em_stops_once_converged_and_more_rounds_give_the_same_result():
    b, w, c, g, ann, _ = spam_crowd(1)
    res20 = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=20)
    res50 = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=50)
    q = res20.quality
    assert q.converged_ and len(q.loss_history_) < 20
    assert np.array_equal(res20.box, res50.box)
    assert np.array_equal(res20.accepted, res50.accepted)


def test_more_em_rounds_are_no_worse_than_two():
    b, w, c, g, ann, truth = spam_crowd(2)
    f2, iou2 = f1_and_iou(merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=2), truth)
    for rounds in (4, 8):
        f, iou = f1_and_iou(merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=rounds), truth)
        assert f >= f2 - 0.01
        assert iou >= iou2 - 0.005


def test_spammers_lose_their_quorum_vote_and_recall_improves():
    b, w, c, g, ann, truth = spam_crowd(3, spammers=(6, 7, 8, 9))
    plain = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=0)
    em = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=3)
    votes = em.quality.weight_map(vote=True)
    assert max(votes[s] for s in (6, 7, 8, 9)) < 0.5 * min(votes[x] for x in range(6))
    assert f1_and_iou(em, truth)[0] > f1_and_iou(plain, truth)[0]


def test_good_workers_keep_full_reliability_without_spammers():
    b, w, c, g, ann, truth = spam_crowd(4, spammers=())
    em = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=3)
    votes = np.array(list(em.quality.weight_map(vote=True).values()))
    coord = np.array(list(em.quality.weight_map().values()))
    # Votes are reliability (1 for everyone here) times sqrt of the coordinate weight.
    np.testing.assert_allclose(votes, np.maximum(np.sqrt(coord), 0.05), rtol=1e-9)


def test_fast_path_matches_the_linkage_on_trivial_components():
    b, w, c, g, _, _ = spam_crowd(5, spammers=())
    labels = cluster_boxes_batch(b, w, g, 0.5)
    # Reference: run the linkage on every item without the fast path.
    ref = np.zeros(len(b), np.int64)
    for item in np.unique(g):
        rows = np.flatnonzero(g == item)
        local = _agreement_linkage(b[rows][None], w[rows][None], None, 0.5)[0]
        ref[rows] = rows[local]
    _, ref = np.unique(ref, return_inverse=True)
    assert np.array_equal(labels, ref)


def test_padding_rows_never_join_a_cluster():
    boxes = np.array([[[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]]], float)
    workers = np.array([[0, 1, -1]])
    pad = np.array([[False, False, True]])
    out = _agreement_linkage(boxes, workers, None, 0.5, pad)
    assert out.tolist() == [[0, 0, 2]]


def mixed_dataset():
    images = [{"id": 1, "width": 200, "height": 200, "annotator_ids": [1, 2, 3]}]
    anns = []
    poly = [[20, 20, 80, 20, 80, 90, 20, 90]]
    for wk, d in ((1, 0), (2, 1), (3, -1)):
        anns.append(
            {
                "id": len(anns) + 1,
                "image_id": 1,
                "category_id": 1,
                "annotator_id": wk,
                "bbox": [20 + d, 20, 60, 70],
                "segmentation": [[v + d for v in poly[0]]],
            }
        )
        anns.append(
            {
                "id": len(anns) + 1,
                "image_id": 1,
                "category_id": 1,
                "annotator_id": wk,
                "bbox": [120 + d, 110, 50, 60],
            }
        )  # box-only object
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}


def test_box_only_annotations_survive_a_mask_merge():
    result, report = merge_coco(mixed_dataset())
    boxes = sorted(a["bbox"] for a in result["annotations"])
    assert len(boxes) == 2
    np.testing.assert_allclose(boxes[1], [120, 110, 50, 60], atol=1.5)
    assert all(a["segmentation"] for a in result["annotations"])


def test_annotation_without_any_geometry_is_a_clear_error():
    ds = mixed_dataset()
    del ds["annotations"][1]["bbox"]
    with pytest.raises(ValueError, match="neither a segmentation nor a bbox"):
        merge_coco(ds)
