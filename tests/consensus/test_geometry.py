"""Box IoU, converters and OKS on hand-computed cases and hypothesis properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workflows.consensus.geometry import (
    box_area,
    box_iou,
    box_iou_pairs,
    box_iou_xywh,
    keypoint_oks,
    xywh_to_xyxy,
    xyxy_to_xywh,
)


def test_identical_boxes_have_iou_one():
    b = np.array([[10.0, 20.0, 50.0, 80.0], [0.5, 0.5, 3.25, 9.0]])
    assert np.allclose(np.diag(box_iou(b)), 1.0)


def test_disjoint_and_edge_touching_boxes_have_iou_zero():
    # x2 is an exclusive edge, so boxes sharing the line x = 2 share no pixel.
    assert box_iou([[0, 0, 2, 2]], [[2, 0, 4, 2]])[0, 0] == 0.0
    assert box_iou([[0, 0, 1, 1]], [[5, 5, 6, 6]])[0, 0] == 0.0


def test_known_partial_overlaps():
    # Half-shifted 2x2 boxes: intersection 2, union 6.
    assert box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]])[0, 0] == pytest.approx(1 / 3)
    # A 10x10 box containing a 5x5 box: 25 / 100.
    assert box_iou([[0, 0, 10, 10]], [[2, 2, 7, 7]])[0, 0] == pytest.approx(0.25)
    # Corner overlap: intersection 1x1 = 1, union 4 + 4 - 1 = 7.
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7)


def test_matrix_shape_and_pairs_agree():
    a = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [0, 0, 4, 4.0]])
    b = np.array([[1, 0, 3, 2], [0, 0, 4, 4.0]])
    m = box_iou(a, b)
    assert m.shape == (3, 2)
    assert np.allclose(box_iou_pairs(a[:2], b), np.diag(m[:2]))


def test_zero_area_boxes_score_zero_not_nan():
    m = box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])
    assert m[0, 0] == 0.0


def test_xywh_round_trip_and_iou():
    xywh = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert np.allclose(xywh_to_xyxy(xywh), [[1, 2, 4, 6]])
    assert np.allclose(xyxy_to_xywh(xywh_to_xyxy(xywh)), xywh)
    assert box_iou_xywh([[0, 0, 2, 2]], [[1, 0, 2, 2]])[0, 0] == pytest.approx(1 / 3)
    assert box_area([[0, 0, 2, 3]])[0] == 6.0


def test_empty_inputs_give_empty_matrices():
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_oks_identical_poses_is_one_and_hand_computed_offset():
    sig = np.array([0.1, 0.1])
    a = np.array([[[10.0, 10.0, 2], [20.0, 20.0, 2]]])
    assert keypoint_oks(a, a, [100.0], sigmas=sig)[0, 0] == pytest.approx(1.0)
    b = a.copy()
    b[0, 0, 0] += 2.0  # d^2 = 4; k = 2 * 0.1; e = 4 / (2 * 0.04 * 100) = 0.5
    expected = (np.exp(-0.5) + 1.0) / 2
    assert keypoint_oks(a, b, [100.0], [100.0], sigmas=sig)[0, 0] == pytest.approx(expected)


def test_oks_keypoint_labelled_by_only_one_side_counts_as_disagreement():
    sig = np.array([0.1, 0.1])
    a = np.array([[[10.0, 10.0, 2], [20.0, 20.0, 2]]])
    b = a.copy()
    b[0, 1, 2] = 0
    assert keypoint_oks(a, b, [100.0], [100.0], sigmas=sig)[0, 0] == pytest.approx(0.5)


def test_oks_requires_sigmas_for_non_coco_poses():
    with pytest.raises(ValueError, match="sigmas"):
        keypoint_oks(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)), [1.0])


coords = st.floats(0, 1000, allow_nan=False, allow_infinity=False)


@st.composite
def boxes(draw):
    k = draw(st.integers(1, 6))
    xy = draw(arrays(np.float64, (k, 2), elements=coords))
    wh = draw(arrays(np.float64, (k, 2), elements=st.floats(0.01, 300)))
    return np.concatenate([xy, xy + wh], axis=1)


@settings(max_examples=60, deadline=None)
@given(boxes(), boxes())
def test_iou_is_symmetric_and_bounded(a, b):
    m = box_iou(a, b)
    assert np.all((m >= 0) & (m <= 1))
    assert np.allclose(m, box_iou(b, a).T)
    assert np.allclose(np.diag(box_iou(a)), 1.0)
