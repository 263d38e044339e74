"""Clustering: each annotator disagreement mode of issue 3, and constraint invariants."""

import numpy as np

from workflows.consensus.geometry import box_iou
from workflows.consensus.matching import cluster_boxes_batch, cluster_objects
from workflows.consensus.merge import merge_items
from workflows.consensus.types import ItemAnnotations, MergeParams

PERSON_A = [100.0, 100.0, 140.0, 200.0]
PERSON_B = [141.0, 100.0, 181.0, 200.0]  # touching A
TREE = [400.0, 50.0, 460.0, 300.0]


def jitter(box, d):
    return [box[0] + d, box[1] - d, box[2] + d, box[3] + d]


def merged(rows, annotators=None, quorum=0.5):
    boxes = [b for b, _ in rows]
    workers = [w for _, w in rows]
    item = ItemAnnotations("img", boxes, workers, [1] * len(rows), annotators=annotators)
    (res,) = merge_items([item], MergeParams(quorum=quorum))
    return item, res


def test_missed_object_keeps_quorum_from_the_others():
    rows = [(jitter(PERSON_A, d), w) for w, d in enumerate([0, 1, -1, 2])]
    rows += [(jitter(TREE, d), w) for w, d in enumerate([0, 2, -2])]  # worker 3 missed it
    _, res = merged(rows)
    acc = res.accepted
    assert len(acc) == 2
    assert sorted(o.support for o in acc) == [3, 4]


def test_extra_object_from_one_annotator_fails_quorum():
    rows = [(jitter(PERSON_A, d), w) for w, d in enumerate([0, 1, -1])]
    rows.append((TREE, 1))
    _, res = merged(rows)
    assert len(res.accepted) == 1
    extra = [o for o in res.objects if not o.accepted]
    assert len(extra) == 1 and extra[0].support == 1


def test_two_boxes_on_one_object_by_one_annotator():
    rows = [(jitter(PERSON_A, d), w) for w, d in enumerate([0, 1, -1])]
    rows.append((jitter(PERSON_A, 3), 0))  # worker 0 drew it twice
    item, res = merged(rows)
    for o in res.objects:
        assert len(set(o.workers.tolist())) == len(o.workers)
    assert len(res.accepted) == 1 and res.accepted[0].support == 3
    assert [o.support for o in res.objects if not o.accepted] == [1]


def test_one_box_over_two_touching_objects():
    both = [PERSON_A[0], PERSON_A[1], PERSON_B[2], PERSON_B[3]]
    rows = [(jitter(PERSON_A, d), w) for w, d in enumerate([0, 1, -1])]
    rows += [(jitter(PERSON_B, d), w) for w, d in enumerate([0, -1, 1])]
    rows.append((both, 3))
    _, res = merged(rows, quorum=0.5)
    acc = res.accepted
    assert len(acc) == 2
    # Each fused box stays on its own person despite the wide box.
    fused = np.array([o.box for o in acc])
    iou = box_iou(fused, [PERSON_A, PERSON_B])
    assert np.all(iou.max(axis=0) > 0.9)


def test_silent_annotators_vote_nothing_here():
    rows = [(PERSON_A, 0)]
    _, res = merged(rows, annotators=[0, 1, 2])
    assert res.accepted == ()
    _, res = merged(rows, annotators=[0])
    assert len(res.accepted) == 1


def test_class_aware_mode_never_mixes_categories():
    boxes = [PERSON_A, jitter(PERSON_A, 1)]
    labels = cluster_boxes_batch(boxes, [0, 1], [0, 0], 0.5, category_idx=[1, 2])
    assert labels[0] != labels[1]
    labels = cluster_boxes_batch(boxes, [0, 1], [0, 0], 0.5)
    assert labels[0] == labels[1]


def test_average_linkage_respects_cannot_link_and_threshold():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = 12
        base = rng.uniform(0, 200, (n, 2))
        boxes = np.c_[base, base + rng.uniform(20, 60, (n, 2))]
        workers = rng.integers(0, 4, n)
        lab = cluster_objects(box_iou(boxes), workers, 0.3)
        for c in np.unique(lab):
            w = workers[lab == c]
            assert len(np.unique(w)) == len(w)


def test_batch_clustering_matches_item_by_item():
    rng = np.random.default_rng(11)
    boxes, workers, groups = [], [], []
    for g in range(30):
        k = rng.integers(1, 4)
        centres = rng.uniform(0, 500, (k, 2))
        for w in range(rng.integers(2, 6)):
            for c in centres:
                if rng.random() < 0.85:
                    x, y = c + rng.normal(0, 3, 2)
                    boxes.append([x, y, x + 40 + rng.normal(0, 3), y + 90 + rng.normal(0, 3)])
                    workers.append(w)
                    groups.append(g)
    boxes, workers, groups = np.array(boxes), np.array(workers), np.array(groups)
    together = cluster_boxes_batch(boxes, workers, groups, 0.5)
    for g in range(30):
        rows = np.flatnonzero(groups == g)
        alone = cluster_boxes_batch(boxes[rows], workers[rows], np.zeros(len(rows)), 0.5)
        a, b = together[rows], alone
        assert np.array_equal(a[:, None] == a[None, :], b[:, None] == b[None, :])
