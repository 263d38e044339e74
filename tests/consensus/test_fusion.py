"""Box, mask, label and keypoint fusion on hand-made and simulated cases."""

import numpy as np
import pytest

from workflows.consensus.fusion.boxes import BOX_METHODS, fuse_boxes, weighted_median
from workflows.consensus.fusion.keypoints import fuse_keypoints
from workflows.consensus.fusion.labels import DawidSkene, majority_vote
from workflows.consensus.fusion.masks import Staple, fuse_masks
from workflows.consensus.masks import decode, encode, mask_iou


def test_weighted_median_matches_numpy_median_with_equal_weights():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 6, 4))
    assert np.allclose(weighted_median(v, np.ones((5, 6))), np.median(v, axis=1))
    v = rng.normal(size=(5, 7, 4))
    assert np.allclose(weighted_median(v, np.ones((5, 7))), np.median(v, axis=1))


def test_robust_fusion_resists_one_outlier_annotator():
    truth = np.array([100.0, 50.0, 160.0, 200.0])
    members = np.array([truth + d for d in ([1, -1, 0, 1], [-1, 0, 1, -1], [0, 1, -1, 0])])
    members = np.vstack([members, truth + [40, 30, 80, 60]])[None]
    w = np.ones((1, 4))
    robust, _ = fuse_boxes(members, w, "robust")
    mean, _ = fuse_boxes(members, w, "mean")
    assert np.abs(robust[0] - truth).max() < 3
    assert np.abs(mean[0] - truth).max() > 10


@pytest.mark.parametrize("method", BOX_METHODS)
def test_identical_members_fuse_to_themselves_with_zero_spread(method):
    box = np.array([[[3.0, 4.0, 30.0, 40.0]] * 3])
    fused, spread = fuse_boxes(box, np.array([[1.0, 2.0, 0.5]]), method)
    assert np.allclose(fused[0], box[0, 0]) and np.allclose(spread, 0)


def test_weights_pull_toward_the_better_worker():
    members = np.array([[[0.0, 0, 10, 10], [2.0, 2, 12, 12]]])
    fused, spread = fuse_boxes(members, np.array([[3.0, 1.0]]), "weighted_mean")
    assert np.allclose(fused[0], [0.5, 0.5, 10.5, 10.5])
    assert np.all(spread[0] > 0)


def test_staple_recovers_sensitivity_of_simulated_raters():
    rng = np.random.default_rng(7)
    truth = np.zeros((60, 60), bool)
    truth[10:50, 15:45] = True
    sens = np.array([0.95, 0.9, 0.6, 0.97, 0.92])
    stack = np.stack(
        [
            (truth & (rng.random(truth.shape) < s)) | (~truth & (rng.random(truth.shape) < 0.02))
            for s in sens
        ]
    )
    st = Staple().fit(stack)
    assert np.allclose(st.sensitivity_, sens, atol=0.05)
    assert np.argmin(st.sensitivity_) == 2
    fused, _ = fuse_masks([encode(m) for m in stack], method="staple")
    assert mask_iou([fused], [encode(truth)])[0, 0] > 0.95


def test_pixel_vote_majority():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = a.copy()
    c = np.zeros((4, 4), bool)
    c[3] = True
    fused, _ = fuse_masks([encode(a), encode(b), encode(c)], method="vote")
    assert np.array_equal(decode(fused), a)


def test_majority_vote_ties_go_to_smallest_label():
    labels, probs, classes = majority_vote([0, 0, 1], [5, 3, 7], [1.0, 1.0, 1.0])
    assert labels.tolist() == [3, 7]
    assert classes.tolist() == [3, 5, 7] and np.allclose(probs.sum(1), 1)


def test_dawid_skene_recovers_worker_accuracy():
    rng = np.random.default_rng(42)
    n_tasks, k = 400, 3
    truth = rng.integers(0, k, n_tasks)
    accuracy = np.array([0.9, 0.85, 0.8, 0.35, 0.7])
    task, worker, label = [], [], []
    for t in range(n_tasks):
        for w, acc in enumerate(accuracy):
            right = rng.random() < acc
            wrong = (truth[t] + rng.integers(1, k)) % k
            task.append(t)
            worker.append(w)
            label.append(truth[t] if right else wrong)
    ds = DawidSkene().fit(task, worker, label)
    est = np.array(
        [
            np.trace(ds.errors_[w] * (np.bincount(truth, minlength=k) / n_tasks)[:, None])
            for w in range(len(accuracy))
        ]
    )
    assert np.allclose(est, accuracy, atol=0.06)
    mv = majority_vote(task, label)[0]
    assert (ds.labels_ == truth).mean() >= (mv == truth).mean()
    assert ds.loss_history_[-1] <= ds.loss_history_[0]


def test_keypoints_weighted_mean_and_visibility_vote():
    kp = np.array(
        [
            [[10.0, 10, 2], [0, 0, 0]],
            [[12.0, 10, 2], [5, 5, 1]],
            [[14.0, 10, 1], [0, 0, 0]],
        ]
    )
    out = fuse_keypoints(kp)
    assert np.allclose(out[0], [12, 10, 2])
    assert np.allclose(out[1], [0, 0, 0])  # only one of three labelled it


@pytest.mark.parametrize("s", [1, 2, 5, 12, 13])
def test_weighted_median_matches_a_sorted_cumulative_reference(s):
    """The sort-free weighted median (few members) and the sorted one (many) agree with the
    definition, including ties and zero-weight (padding) members."""
    rng = np.random.default_rng(s)
    v = np.round(rng.normal(0, 2, size=(40, s, 3)))  # many exact ties
    w = rng.choice([0.0, 0.5, 1.0, 2.0], size=(40, s))
    w[:, 0] += 0.25  # every row has a positive total
    got = weighted_median(v, w)
    for c in range(40):
        for e in range(3):
            order = np.argsort(v[c, :, e], kind="stable")
            vals, cum = v[c, order, e], np.cumsum(w[c, order])
            half, eps = cum[-1] / 2, 1e-9 * cum[-1]
            lo, hi = vals[np.argmax(cum >= half - eps)], vals[np.argmax(cum > half + eps)]
            assert got[c, e] == (lo + hi) / 2
