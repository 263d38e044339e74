"""Shape validation: degenerate, out-of-image and self-intersecting shapes, with clear errors.

Every check raises ``ValueError`` naming the shape and the rule it breaks; the Django adapter
translates that into a domain error for the worker who submitted it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from workflows.consensus.masks import rle_area
from workflows.consensus.types import FloatArray, Rle

__all__ = [
    "validate_boxes",
    "validate_polygon",
    "validate_mask",
    "polygon_self_intersects",
]


def validate_boxes(
    boxes: ArrayLike,
    image_size: tuple[int, int] | None = None,
    *,
    tolerance: float = 0.5,
    min_side: float = 0.0,
) -> FloatArray:
    """Check ``x1, y1, x2, y2`` boxes ``(n, 4)``; returns them as float64.

    Parameters
    ----------
    boxes : (n, 4)
    image_size : (height, width), optional
        When given, every edge must lie within ``[-tolerance, size + tolerance]``.
    tolerance
        Pixels a box may overhang the image (editors round to the nearest half pixel).
    min_side
        Width and height must both exceed this (0 rejects zero-area boxes only).

    Raises
    ------
    ValueError
        On wrong shape, NaN or infinite coordinates, ``x2 <= x1`` or ``y2 <= y1`` (zero
        area), sides not above ``min_side``, or boxes outside the image.
    """
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n, 4), got {b.shape}")
    bad = ~np.all(np.isfinite(b), axis=1)
    if bad.any():
        raise ValueError(f"box {int(np.argmax(bad))} has a NaN or infinite coordinate")
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    bad = (w <= min_side) | (h <= min_side)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"box {i} is degenerate: width {w[i]:g}, height {h[i]:g} (need > {min_side:g})"
        )
    if image_size is not None:
        ih, iw = image_size
        lo = b.min(axis=1) < -tolerance
        hi = (b[:, 2] > iw + tolerance) | (b[:, 3] > ih + tolerance)
        bad = lo | hi
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"box {i} {b[i].tolist()} lies outside the {iw}x{ih} image")
    return b


def validate_polygon(
    polygon: ArrayLike,
    image_size: tuple[int, int] | None = None,
    *,
    tolerance: float = 0.5,
    allow_self_intersection: bool = False,
) -> FloatArray:
    """Check one flat polygon ``[x0, y0, x1, y1, ...]``; returns it as ``(v, 2)`` float64.

    Raises
    ------
    ValueError
        On an odd coordinate count, fewer than 3 distinct vertices, NaN, zero area, vertices
        outside the image, or (unless allowed) edges that cross each other.
    """
    flat = np.asarray(polygon, dtype=np.float64).ravel()
    if flat.size % 2:
        raise ValueError(f"polygon has an odd number of coordinates ({flat.size})")
    v = flat.reshape(-1, 2)
    if not np.all(np.isfinite(v)):
        raise ValueError("polygon has a NaN or infinite coordinate")
    if len(np.unique(v, axis=0)) < 3:
        raise ValueError(f"polygon is degenerate: {len(v)} vertices, need 3 distinct")
    x, y = v[:, 0], v[:, 1]
    area = 0.5 * abs(float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)))
    if area <= 0:
        raise ValueError("polygon is degenerate: zero area (collinear vertices)")
    if image_size is not None:
        ih, iw = image_size
        out = (v.min(axis=1) < -tolerance) | (x > iw + tolerance) | (y > ih + tolerance)
        if out.any():
            i = int(np.argmax(out))
            raise ValueError(f"polygon vertex {i} {v[i].tolist()} lies outside the {iw}x{ih} image")
    if not allow_self_intersection and polygon_self_intersects(v):
        raise ValueError("polygon is self-intersecting: two of its edges cross")
    return v


def polygon_self_intersects(polygon: ArrayLike) -> bool:
    """Whether any two non-adjacent edges of a closed polygon intersect (touching counts).

    Vectorised orientation test over all edge pairs, ``O(v^2)`` memory in blocks of 256
    edges, so polygons of thousands of vertices stay cheap. Repeated consecutive vertices are
    removed first.

    Parameters
    ----------
    polygon : (v, 2) or flat (2v,) float
    """
    v = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    keep = np.any(v != np.roll(v, 1, axis=0), axis=1)
    v = v[keep]
    n = len(v)
    if n < 4:
        return False
    p, q = v, np.roll(v, -1, axis=0)  # edge i runs p[i] -> q[i]
    idx = np.arange(n)
    for start in range(0, n, 256):
        i = idx[start : start + 256]
        a, b = p[i][:, None, :], q[i][:, None, :]
        c, d = p[None, :, :], q[None, :, :]
        o1, o2 = _orient(a, b, c), _orient(a, b, d)
        o3, o4 = _orient(c, d, a), _orient(c, d, b)
        proper = (o1 * o2 < 0) & (o3 * o4 < 0)
        touch = (
            ((o1 == 0) & _on_segment(a, b, c))
            | ((o2 == 0) & _on_segment(a, b, d))
            | ((o3 == 0) & _on_segment(c, d, a))
            | ((o4 == 0) & _on_segment(c, d, b))
        )
        gap = np.abs(i[:, None] - idx[None, :])
        # Each edge shares a vertex with itself and its two neighbours; skip those pairs.
        relevant = (gap > 1) & (gap < n - 1)
        if np.any((proper | touch) & relevant):
            return True
    return False


def _orient(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    cross = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (
        c[..., 0] - a[..., 0]
    )
    return np.sign(cross)


def _on_segment(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Whether c (known collinear with a-b) lies within the segment's bounding box."""
    return (
        (np.minimum(a[..., 0], b[..., 0]) <= c[..., 0])
        & (c[..., 0] <= np.maximum(a[..., 0], b[..., 0]))
        & (np.minimum(a[..., 1], b[..., 1]) <= c[..., 1])
        & (c[..., 1] <= np.maximum(a[..., 1], b[..., 1]))
    )


def validate_mask(rle: Rle, image_size: tuple[int, int] | None = None) -> Rle:
    """Check a COCO RLE: well formed, non-empty and, when given, of the image's size."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise ValueError("mask must be a COCO RLE dict with 'size' and 'counts'")
    h, w = (int(s) for s in rle["size"])
    if image_size is not None and (h, w) != tuple(image_size):
        raise ValueError(f"mask size {h}x{w} differs from the image size {tuple(image_size)}")
    if rle_area([rle])[0] <= 0:
        raise ValueError("mask is degenerate: it covers no pixel")
    return rle
