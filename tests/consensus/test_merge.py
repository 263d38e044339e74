"""merge_items: determinism, annotator-order invariance, identity on identical input, quality EM."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.consensus.boxes_batch import merge_box_arrays
from workflows.consensus.masks import encode
from workflows.consensus.merge import merge_items
from workflows.consensus.quality import WorkerQuality
from workflows.consensus.types import ItemAnnotations, MergeParams, ShapeKind


def crowd(seed, n_items=60, noise=(2.0, 2.0, 2.0, 12.0, 4.0)):
    """Items with 1-3 objects and workers whose box noise (pixels) is ``noise[w]``."""
    rng = np.random.default_rng(seed)
    items, truth = [], []
    for i in range(n_items):
        k = rng.integers(1, 4)
        xy = rng.uniform(0, 800, (k, 2))
        gt = np.c_[xy, xy + rng.uniform(60, 120, (k, 2))]
        boxes, workers = [], []
        for w, sd in enumerate(noise):
            for b in gt:
                boxes.append(b + rng.normal(0, sd, 4))
                workers.append(w)
        items.append(ItemAnnotations(i, boxes, workers, [1] * len(boxes)))
        truth.append(gt)
    return items, truth


def test_same_input_gives_identical_output():
    items, _ = crowd(1, 20)
    a = merge_items(items, rounds=2)
    b = merge_items(items, rounds=2)
    for ra, rb in zip(a, b, strict=True):
        assert len(ra.objects) == len(rb.objects)
        for oa, ob in zip(ra.objects, rb.objects, strict=True):
            assert np.array_equal(oa.box, ob.box) and oa.support == ob.support


def test_permuting_annotators_does_not_change_fused_boxes():
    items, _ = crowd(2, 20)
    rng = np.random.default_rng(3)
    permuted = []
    for it in items:
        p = rng.permutation(len(it))
        relabel = rng.permutation(5)
        permuted.append(
            ItemAnnotations(it.item_id, it.boxes[p], relabel[it.worker_idx[p]], it.category_idx[p])
        )
    for ra, rb in zip(merge_items(items), merge_items(permuted), strict=True):
        fa = np.array(sorted(o.box.tolist() for o in ra.accepted))
        fb = np.array(sorted(o.box.tolist() for o in rb.accepted))
        assert fa.shape == fb.shape
        assert np.allclose(fa, fb, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 5))
def test_merging_identical_annotations_returns_them(seed, n_workers):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    xy = rng.uniform(0, 500, (k, 2)) + np.arange(k)[:, None] * 600
    gt = np.c_[xy, xy + rng.uniform(5, 100, (k, 2))]
    item = ItemAnnotations(
        0,
        np.tile(gt, (n_workers, 1)),
        np.repeat(np.arange(n_workers), k),
        np.zeros(k * n_workers, np.int64),
    )
    (res,) = merge_items([item])
    fused = np.array(sorted(o.box.tolist() for o in res.accepted))
    assert np.allclose(fused, sorted(gt.tolist()))
    assert all(abs(o.agreement - 1.0) < 1e-9 and o.support == n_workers for o in res.accepted)


def test_identical_masks_merge_to_themselves():
    m = np.zeros((30, 40), bool)
    m[5:20, 8:30] = True
    rle = encode(m)
    item = ItemAnnotations(
        0,
        [[8, 5, 30, 20]] * 3,
        [0, 1, 2],
        [1, 1, 1],
        kind=ShapeKind.MASK,
        masks=(rle, rle, rle),
        image_size=(30, 40),
    )
    for method in ("vote", "staple"):
        (res,) = merge_items([item], MergeParams(mask_method=method))
        (obj,) = res.accepted
        assert obj.agreement == 1.0 and obj.mask["counts"] == rle["counts"]


def test_em_recovers_the_noisy_worker_and_improves_boxes():
    items, truth = crowd(4, 80)
    rows = [
        (it.boxes, it.worker_idx, it.category_idx, np.full(len(it), g))
        for g, it in enumerate(items)
    ]
    b, w, c, g = (np.concatenate(x) for x in zip(*rows, strict=True))
    ann = [it.annotators for it in items]
    plain = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=0)
    em = merge_box_arrays(b, w, c, g, ann, MergeParams(), rounds=2)
    q = em.quality
    assert isinstance(q, WorkerQuality)
    weights = q.weight_map()
    assert min(weights, key=weights.get) == 3  # the 12-pixel worker
    assert weights[3] < 0.2 * np.median(list(weights.values()))

    def error(res):
        errs = []
        for k in np.flatnonzero(res.accepted):
            gt = truth[int(res.group[k])]
            errs.append(np.abs(gt - res.box[k]).sum(1).min())
        return np.mean(errs)

    assert error(em) < error(plain)


def test_gold_answers_count_more_than_consensus():
    q = WorkerQuality(prior_strength=1.0, gold_weight=10.0)
    q.fit([0, 0, 1, 1], [0.001, 0.1, 0.001, 0.001], [True] * 4, gold=[True, False, False, False])
    q2 = WorkerQuality(prior_strength=1.0, gold_weight=1.0)
    q2.fit([0, 0, 1, 1], [0.001, 0.1, 0.001, 0.001], [True] * 4)
    assert q.weight_map()[0] > q2.weight_map()[0]


def test_shrinkage_keeps_thin_workers_near_the_crowd():
    q = WorkerQuality(prior_strength=20.0).fit(
        [0] * 50 + [1], [0.01] * 50 + [0.0001], [True] * 51, stratum=[0] * 51
    )
    assert q.weight_map()[1] < 3.0
    assert (1, 0) in q.strata_weights_
