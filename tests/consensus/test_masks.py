"""RLE and polygon conversions, mask IoU and the crack-following polygon tracer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from workflows.consensus.masks import (
    decode,
    encode,
    mask_iou,
    mask_to_polygons,
    merge_rles,
    polygon_iou,
    polygon_to_rle,
    rle_area,
    rle_to_box,
)


def square(x, y, s):
    return [x, y, x + s, y, x + s, y + s, x, y + s]


def test_polygon_iou_hand_computed():
    # 10x10 squares shifted by 5: intersection 50, union 150.
    iou = polygon_iou([[square(0, 0, 10)]], [[square(5, 0, 10)]], 20, 20)
    assert iou[0, 0] == pytest.approx(1 / 3, abs=0.02)
    assert polygon_iou([[square(0, 0, 4)]], [[square(10, 10, 4)]], 20, 20)[0, 0] == 0.0


def test_mask_iou_exact_on_dense_masks():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:, :6] = True
    b[:, 3:] = True  # intersection 30, union 100
    m = mask_iou([encode(a)], [encode(b), encode(a)])
    assert m.shape == (1, 2)
    assert m[0, 0] == pytest.approx(0.3)
    assert m[0, 1] == pytest.approx(1.0)


def test_area_box_and_merge():
    a = np.zeros((8, 9), bool)
    a[2:5, 1:4] = True
    r = encode(a)
    assert rle_area([r])[0] == 9
    assert np.allclose(rle_to_box([r]), [[1, 2, 4, 5]])
    b = np.zeros_like(a)
    b[6:, 6:] = True
    assert decode(merge_rles([r, encode(b)])).sum() == 9 + 6
    assert mask_iou([], [r]).shape == (0, 1)


def test_polygon_parts_are_unioned_and_tiny_parts_ignored():
    rle = polygon_to_rle([square(0, 0, 4), square(10, 10, 4), [1, 1, 2, 2]], 20, 20)
    assert rle_area([rle])[0] == pytest.approx(32, abs=4)


def test_traced_polygon_rasterises_back_to_the_mask():
    rng = np.random.default_rng(3)
    m = ndimage.binary_opening(ndimage.gaussian_filter(rng.random((50, 70)), 3) > 0.5)
    polys = mask_to_polygons(m)
    assert polys, "fixture should contain foreground"
    back = polygon_to_rle(polys, 50, 70)
    assert mask_iou([back], [encode(ndimage.binary_fill_holes(m))])[0, 0] == pytest.approx(1.0)


def test_tracer_splits_diagonal_pixels_and_drops_holes():
    d = np.zeros((4, 4), bool)
    d[0, 0] = d[1, 1] = True
    polys = mask_to_polygons(d)
    assert len(polys) == 2
    assert sorted(p.tolist() for p in polys)[0] == [0, 0, 1, 0, 1, 1, 0, 1]
    ring = np.ones((5, 5), bool)
    ring[2, 2] = False
    (outer,) = mask_to_polygons(encode(ring))
    assert outer.tolist() == [0, 0, 5, 0, 5, 5, 0, 5]


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, (6, 7)), arrays(np.bool_, (6, 7)))
def test_mask_iou_symmetric_bounded_and_matches_dense(a, b):
    ra, rb = encode(a), encode(b)
    m = mask_iou([ra, rb])
    assert np.all((m >= 0) & (m <= 1))
    assert np.allclose(m, m.T)
    union = (a | b).sum()
    expected = (a & b).sum() / union if union else 0.0
    assert m[0, 1] == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_tracer_round_trip_property(seed):
    rng = np.random.default_rng(seed)
    m = ndimage.binary_fill_holes(rng.random((9, 11)) > 0.5)
    back = decode(polygon_to_rle(mask_to_polygons(m), 9, 11)) if m.any() else m
    assert np.array_equal(back, m)
