"""Agreement scores on hand-computed cases; results serialise to JSON."""

import json

import numpy as np
import pytest

from workflows.consensus.agreement import (
    item_agreement,
    krippendorff_alpha_nominal,
    match_sets,
    worker_scores,
)
from workflows.consensus.geometry import box_iou


def test_item_agreement_pairwise_f1():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60.0]])
    res = item_agreement("i", box_iou(boxes), [0, 1, 1], [0, 1, 2])
    # Pairs: (0,1): 1 match of 1+2 objects -> 2/3; (0,2), (1,2): nothing in 2 -> 0.
    assert res.pairwise_f1 == pytest.approx((2 / 3) / 3)
    assert res.mean_iou == pytest.approx(1.0)
    json.dumps(res.to_dict())
    empty = item_agreement("j", np.zeros((0, 0)), [], [0, 1])
    assert empty.pairwise_f1 == 1.0 and empty.to_dict()["mean_iou"] is None


def test_worker_scores_precision_recall():
    sim = np.array([[0.9, 0.1], [0.2, 0.3]])  # 2 objects vs 2 references, one match
    (w,) = worker_scores([(7, sim, 2)], "gold")
    assert (w.precision, w.recall, w.mean_iou) == (0.5, 0.5, pytest.approx(0.9))
    assert json.loads(json.dumps(w.to_dict()))["reference"] == "gold"
    r, c, s = match_sets(sim, 0.5)
    assert r.tolist() == [0] and c.tolist() == [0]


def test_krippendorff_nominal_known_values():
    assert krippendorff_alpha_nominal([[1, 1], [2, 2], [3, 3]]) == 1.0
    # Krippendorff (2011) style check: systematic disagreement gives alpha below zero.
    assert krippendorff_alpha_nominal([[1, 2], [2, 1], [1, 2], [2, 1]]) < 0
    # Hand computation: units {a,a}, {a,b}, {b,b}: o_aa=2, o_ab=o_ba=1, o_bb=2; n=6, n_a=n_b=3.
    # D_o = 2/6, D_e = (36 - 18) / 30 = 0.6 -> alpha = 1 - (1/3)/0.6 = 4/9.
    assert krippendorff_alpha_nominal([[0, 0], [0, 1], [1, 1]]) == pytest.approx(4 / 9)
