"""Validation helpers reject degenerate, out-of-image and self-intersecting shapes."""

import numpy as np
import pytest

from workflows.consensus.masks import encode
from workflows.consensus.validation import (
    polygon_self_intersects,
    validate_boxes,
    validate_mask,
    validate_polygon,
)


def test_valid_boxes_pass_through():
    out = validate_boxes([[0, 0, 10, 10], [5, 5, 6, 7]], (20, 20))
    assert out.dtype == np.float64 and out.shape == (2, 4)


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        ([[0, 0, 0, 10]], "degenerate"),
        ([[0, 0, np.nan, 10]], "NaN"),
        ([[0, 0, 30, 10]], "outside"),
        ([[-5, 0, 3, 10]], "outside"),
        ([[0, 0, 1]], "shape"),
    ],
)
def test_bad_boxes_raise_clear_errors(boxes, message):
    with pytest.raises(ValueError, match=message):
        validate_boxes(boxes, (20, 20))


def test_polygon_rules():
    assert validate_polygon([0, 0, 4, 0, 4, 4, 0, 4], (10, 10)).shape == (4, 2)
    with pytest.raises(ValueError, match="3 distinct"):
        validate_polygon([0, 0, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="zero area"):
        validate_polygon([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="odd"):
        validate_polygon([0, 0, 1])
    with pytest.raises(ValueError, match="outside"):
        validate_polygon([0, 0, 40, 0, 4, 4], (10, 10))
    with pytest.raises(ValueError, match="self-intersecting"):
        validate_polygon([0, 0, 4, 0, 0, 4, 1, 6])
    assert validate_polygon([0, 0, 4, 0, 0, 4, 1, 6], allow_self_intersection=True).shape == (4, 2)


def test_self_intersection_cases():
    assert polygon_self_intersects([0, 0, 2, 0, 0, 2, 2, 2])  # bow tie
    assert not polygon_self_intersects([0, 0, 2, 0, 2, 2, 0, 2])
    # Concave but simple (an L shape).
    assert not polygon_self_intersects([0, 0, 4, 0, 4, 1, 1, 1, 1, 4, 0, 4])
    # A vertex touching a non-adjacent edge.
    assert polygon_self_intersects([0, 0, 4, 0, 4, 4, 2, 0, 0, 4])
    # A regular 300-gon exercises the blocked loop.
    t = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    assert not polygon_self_intersects(np.stack([np.cos(t), np.sin(t)], 1))


def test_mask_validation():
    m = np.zeros((4, 5), bool)
    with pytest.raises(ValueError, match="no pixel"):
        validate_mask(encode(m))
    m[1, 1] = True
    with pytest.raises(ValueError, match="size"):
        validate_mask(encode(m), (5, 5))
    assert validate_mask(encode(m), (4, 5))["size"] == [4, 5]
    with pytest.raises(ValueError, match="RLE"):
        validate_mask({"counts": "x"})
