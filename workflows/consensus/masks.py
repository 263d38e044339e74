"""Masks and polygons: COCO RLE conversion, IoU through pycocotools, mask to polygon tracing.

Every mask operation runs on run-length encodings (``pycocotools.mask``), so masks need not be
dense for IoU, area or union; :func:`decode` is used only where per-pixel work pays (pixel vote
and STAPLE). Polygons are flat ``[x0, y0, x1, y1, ...]`` arrays in continuous pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pycocotools import mask as mask_utils

from workflows.consensus.types import FloatArray, Rle

__all__ = [
    "polygon_to_rle",
    "polygons_to_rles",
    "encode",
    "decode",
    "rle_area",
    "rle_to_box",
    "merge_rles",
    "mask_iou",
    "polygon_iou",
    "mask_to_polygons",
]


def _parts(polygon: Sequence[ArrayLike] | ArrayLike) -> list[list[float]]:
    arr = np.asarray(polygon, dtype=object) if not isinstance(polygon, np.ndarray) else polygon
    # A single flat polygon is accepted as well as a list of parts.
    if isinstance(arr, np.ndarray) and arr.dtype != object and arr.ndim == 1:
        parts: Sequence[ArrayLike] = [arr]
    elif len(polygon) and np.ndim(polygon[0]) == 0:  # type: ignore[index, arg-type]
        parts = [polygon]  # type: ignore[list-item]
    else:
        parts = polygon  # type: ignore[assignment]
    # Fewer than 3 vertices cover nothing, and pycocotools would read a 4-number part as a box.
    return [
        [float(v) for v in np.asarray(p, dtype=np.float64).ravel()]
        for p in parts
        if np.asarray(p).size >= 6
    ]


def polygon_to_rle(polygon: Sequence[ArrayLike] | ArrayLike, height: int, width: int) -> Rle:
    """Rasterise one object's polygon (one flat array or a list of parts) to a single RLE.

    Parts are unioned; parts with fewer than three vertices are ignored (use
    :func:`workflows.consensus.validation.validate_polygon` to reject them instead).
    """
    parts = _parts(polygon)
    if not parts:
        return encode(np.zeros((height, width), dtype=bool))
    rles = mask_utils.frPyObjects(parts, int(height), int(width))
    return mask_utils.merge(rles) if len(rles) > 1 else rles[0]


def polygons_to_rles(polygons: Sequence[Sequence[ArrayLike]], height: int, width: int) -> list[Rle]:
    """Rasterise many objects' polygons (each a list of parts); returns one RLE per object."""
    return [polygon_to_rle(p, height, width) for p in polygons]


def encode(mask: NDArray[np.bool_]) -> Rle:
    """Encode a dense ``(h, w)`` boolean mask as a COCO RLE dict."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must have shape (h, w), got {m.shape}")
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))


def decode(rle: Rle) -> NDArray[np.bool_]:
    """Decode one COCO RLE dict to a dense ``(h, w)`` boolean mask."""
    return mask_utils.decode(rle).astype(bool)


def rle_area(rles: Sequence[Rle]) -> FloatArray:
    """Pixel areas ``(n,)`` of RLE masks."""
    if not len(rles):
        return np.zeros(0)
    return np.asarray(mask_utils.area(list(rles)), dtype=np.float64).reshape(-1)


def rle_to_box(rles: Sequence[Rle]) -> FloatArray:
    """Tight ``x1, y1, x2, y2`` boxes ``(n, 4)`` of RLE masks (empty masks give zeros)."""
    if not len(rles):
        return np.zeros((0, 4))
    b = np.asarray(mask_utils.toBbox(list(rles)), dtype=np.float64).reshape(-1, 4)
    b[:, 2:] += b[:, :2]
    return b


def merge_rles(rles: Sequence[Rle], intersect: bool = False) -> Rle:
    """Union (or intersection) of same-size RLE masks."""
    if not len(rles):
        raise ValueError("merge_rles needs at least one mask")
    return mask_utils.merge(list(rles), intersect=int(intersect))


def mask_iou(a: Sequence[Rle], b: Sequence[Rle] | None = None) -> FloatArray:
    """IoU ``(n, m)`` of every RLE in ``a`` with every RLE in ``b`` (default ``a``).

    Computed on the run-length encodings by ``pycocotools.mask.iou`` without decoding.
    Two empty masks have IoU 0.
    """
    b = a if b is None else b
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    iou = mask_utils.iou(list(a), list(b), [0] * len(b))
    return np.clip(np.asarray(iou, dtype=np.float64).reshape(len(a), len(b)), 0.0, 1.0)


def polygon_iou(
    a: Sequence[Sequence[ArrayLike]],
    b: Sequence[Sequence[ArrayLike]] | None,
    height: int,
    width: int,
) -> FloatArray:
    """IoU ``(n, m)`` between objects given as polygons (each a list of parts), via RLE."""
    ra = polygons_to_rles(a, height, width)
    rb = ra if b is None else polygons_to_rles(b, height, width)
    return mask_iou(ra, rb)


def mask_to_polygons(mask: NDArray[np.bool_] | Rle, min_area: float = 0.0) -> list[FloatArray]:
    """Trace the outer boundaries of a mask as polygons along pixel edges.

    The tracer follows the "cracks" between foreground and background pixels (vertices on
    integer pixel corners), keeping foreground on the right and turning right at a corner
    shared by two diagonal pixels, so 4-connected components give separate, simple polygons.
    Collinear vertices are dropped. COCO polygons cannot express holes, so hole boundaries
    (negative signed area) are discarded: the result covers the mask with its holes filled.

    Parameters
    ----------
    mask : (h, w) bool or RLE dict
    min_area
        Drop polygons whose enclosed area (pixels) is smaller.

    Returns
    -------
    list of flat float64 arrays ``[x0, y0, ...]``, largest area first.
    """
    m = decode(mask) if isinstance(mask, dict) else np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must have shape (h, w), got {m.shape}")
    h, w = m.shape
    p = np.zeros((h + 2, w + 2), dtype=bool)
    p[1:-1, 1:-1] = m
    starts, ends = _crack_edges(p)
    if not len(starts):
        return []
    ncol = w + 3  # vertex grid of the padded image is (h + 3) x (w + 3)
    skey = starts[:, 1] * ncol + starts[:, 0]
    ekey = ends[:, 1] * ncol + ends[:, 0]
    order = np.argsort(skey, kind="stable")
    sorted_keys = skey[order]
    lo = np.searchsorted(sorted_keys, ekey, side="left")
    hi = np.searchsorted(sorted_keys, ekey, side="right")
    nxt = order[np.minimum(lo, len(order) - 1)]
    # Corners shared by two diagonal foreground pixels have two outgoing edges: take the one
    # that turns right of the incoming direction (cross product > 0 in y-down coordinates).
    for i in np.flatnonzero(hi - lo > 1):
        din = ends[i] - starts[i]
        for j in order[lo[i] : hi[i]]:
            dout = ends[j] - starts[j]
            if din[0] * dout[1] - din[1] * dout[0] > 0:
                nxt[i] = j
    polys: list[tuple[float, FloatArray]] = []
    visited = np.zeros(len(starts), dtype=bool)
    for first in range(len(starts)):
        if visited[first]:
            continue
        loop = []
        e = first
        while not visited[e]:
            visited[e] = True
            loop.append(e)
            e = int(nxt[e])
        v = starts[np.asarray(loop)].astype(np.float64)
        d = ends[np.asarray(loop)] - starts[np.asarray(loop)]
        keep = np.any(d != np.roll(d, 1, axis=0), axis=1)  # a vertex where the direction turns
        v = v[keep]
        x, y = v[:, 0], v[:, 1]
        area = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
        if area > 0 and area >= min_area:
            polys.append((area, (v - 1.0).ravel()))
    polys.sort(key=lambda t: -t[0])
    return [poly for _, poly in polys]


def _crack_edges(p: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Directed boundary edges of a zero-padded mask, foreground on the right (y down)."""
    out_s, out_e = [], []
    # Horizontal cracks between rows r-1 and r, at y = r.
    diff = p[1:, :].astype(np.int8) - p[:-1, :].astype(np.int8)
    r, c = np.nonzero(diff == 1)  # background above, foreground below: heading +x
    out_s.append(np.stack([c, r + 1], 1))
    out_e.append(np.stack([c + 1, r + 1], 1))
    r, c = np.nonzero(diff == -1)  # foreground above: heading -x
    out_s.append(np.stack([c + 1, r + 1], 1))
    out_e.append(np.stack([c, r + 1], 1))
    # Vertical cracks between columns c-1 and c, at x = c.
    diff = p[:, 1:].astype(np.int8) - p[:, :-1].astype(np.int8)
    r, c = np.nonzero(diff == 1)  # background left, foreground right: heading -y
    out_s.append(np.stack([c + 1, r + 1], 1))
    out_e.append(np.stack([c + 1, r], 1))
    r, c = np.nonzero(diff == -1)  # foreground left: heading +y
    out_s.append(np.stack([c + 1, r], 1))
    out_e.append(np.stack([c + 1, r + 1], 1))
    return (
        np.concatenate(out_s).astype(np.int64),
        np.concatenate(out_e).astype(np.int64),
    )
