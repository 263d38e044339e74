"""Item agreement and the adaptive-redundancy decision, on hand-made items."""

import numpy as np
import pytest

from workflows.consensus.decision import Decision, item_agreement_score, redundancy_decision
from workflows.consensus.merge import merge_items
from workflows.consensus.types import ItemAnnotations, MergeParams


def item(boxes, workers, n_annotators=None):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    workers = np.asarray(workers, dtype=np.int64)
    annotators = np.arange(n_annotators if n_annotators is not None else workers.max() + 1)
    return ItemAnnotations(
        item_id=1, boxes=boxes, worker_idx=workers,
        category_idx=np.zeros(len(workers), dtype=np.int64), annotators=annotators,
    )  # fmt: skip


def score(it):
    (result,) = merge_items([it], MergeParams())
    return item_agreement_score(result, it.worker_idx)


def test_identical_answers_agree_fully():
    assert score(item([[0, 0, 10, 10]] * 3, [0, 1, 2])) == pytest.approx(1.0)


def test_everyone_saying_nothing_here_agrees_fully():
    empty = ItemAnnotations(
        item_id=1, boxes=np.zeros((0, 4)), worker_idx=np.zeros(0, dtype=np.int64),
        category_idx=np.zeros(0, dtype=np.int64), annotators=np.arange(3),
    )  # fmt: skip
    assert score(empty) == pytest.approx(1.0)


def test_a_missed_object_lowers_agreement_and_jitter_lowers_it_less():
    exact = score(item([[0, 0, 10, 10]] * 3, [0, 1, 2]))
    jitter = score(item([[0, 0, 10, 10], [1, 0, 11, 10], [0, 1, 10, 11]], [0, 1, 2]))
    missed = score(item([[0, 0, 10, 10]] * 2, [0, 1], n_annotators=3))
    assert exact > jitter > 0.85
    assert missed == pytest.approx((1 + 1 + 0) / 3, abs=1e-6)


def test_disjoint_answers_agree_little():
    split = score(item([[0, 0, 10, 10], [50, 50, 60, 60], [100, 0, 110, 10]], [0, 1, 2]))
    assert split < 0.2


@pytest.mark.parametrize(
    "agreement, labels, expected",
    [
        (1.0, 1, Decision.WAIT),
        (0.9, 2, Decision.PROMOTE),
        (0.5, 2, Decision.MORE_LABELS),
        (0.5, 4, Decision.MORE_LABELS),
        (0.5, 5, Decision.ESCALATE),
        (0.8, 5, Decision.PROMOTE),
    ],
)
def test_redundancy_decision(agreement, labels, expected):
    decision = redundancy_decision(
        agreement=agreement, labels=labels, min_labels=2, max_labels=5, accept=0.8
    )
    assert decision is expected


def test_a_lone_box_earns_no_agreement():
    lone = score(item([[0, 0, 10, 10]], [0], n_annotators=2))
    assert lone == pytest.approx(0.0)


@pytest.mark.parametrize("labels, expected", [(2, 0.8), (3, 0.8), (4, 0.65), (7, 0.65), (1, 0.8)])
def test_accept_schedule_relaxes_as_labels_accumulate(labels, expected):
    from workflows.consensus.decision import accept_threshold

    assert accept_threshold({2: 0.8, 4: 0.65}, labels) == expected
    assert accept_threshold({"2": 0.8, "4": 0.65}, labels) == expected
    assert accept_threshold(0.7, labels) == 0.7


def test_schedule_promotes_at_four_labels_what_a_constant_bar_would_not():
    decision = redundancy_decision(
        agreement=0.7, labels=4, min_labels=2, max_labels=5, accept={2: 0.8, 4: 0.65}
    )
    assert decision is Decision.PROMOTE
