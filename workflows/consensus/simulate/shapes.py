"""Geometry helpers of the simulator: COCO ``bbox`` and ``area`` of a segmentation, boxes kept
inside the image, Ramer-Douglas-Peucker simplification, random star polygons and the IoU of two
``[x, y, w, h]`` boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

__all__ = [
    "MIN_SIZE",
    "as_rle",
    "box_from_corners",
    "box_iou_xywh",
    "clip_points",
    "segmentation_box_area",
    "simplify_polygon",
    "star_polygon",
]

MIN_SIZE = 1.0  # px: a simulated box never collapses below one pixel


def as_rle(seg: dict[str, Any]) -> dict[str, Any]:
    """The RLE with ``counts`` as bytes, as pycocotools wants it."""
    counts = seg["counts"]
    return {"size": seg["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def segmentation_box_area(seg: Any, width: int, height: int) -> tuple[list[float], float]:
    """COCO ``bbox`` and ``area`` of a polygon list or an RLE dict."""
    if isinstance(seg, dict):
        rle = as_rle(seg)
    else:
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    area = float(mask_utils.area(rle))
    if isinstance(seg, list):
        # The polygon's own extent, not the rasterised one, so sub-pixel shapes keep a box.
        pts = np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for p in seg])
        corners = np.array([pts.min(axis=0), pts.max(axis=0)])
        return box_from_corners(corners, width, height), area
    box = [round(float(v), 2) for v in mask_utils.toBbox(rle)]
    return box, area


def box_from_corners(corners: np.ndarray, width: int, height: int) -> list[float]:
    """COCO ``[x, y, w, h]`` of two corners, inside the image and at least one pixel wide."""
    (x1, y1), (x2, y2) = np.sort(corners, axis=0)
    # Keep at least one pixel, shifted back inside the image when the object hugs a border.
    x2, y2 = max(x2, x1 + MIN_SIZE), max(y2, y1 + MIN_SIZE)
    x1, y1 = min(x1, width - MIN_SIZE), min(y1, height - MIN_SIZE)
    x2, y2 = min(x2, width), min(y2, height)
    return [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)]


def clip_points(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(n, 2)`` points ``x, y`` clipped into the image."""
    return np.clip(points, 0.0, [float(width), float(height)])


def simplify_polygon(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Ramer-Douglas-Peucker on a closed polygon, keeping at least three vertices."""
    if tolerance <= 0 or len(points) <= 3:
        return points
    # Split the ring at the vertex farthest from the first so both halves are open chains.
    far = int(np.argmax(np.linalg.norm(points - points[0], axis=1)))
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, far]] = True
    _rdp_mark(points, 0, far, tolerance, keep)
    ring = np.vstack([points, points[:1]])
    tail = np.zeros(len(ring), dtype=bool)
    _rdp_mark(ring, far, len(points), tolerance, tail)
    keep |= tail[:-1]
    if keep.sum() < 3:
        extra = np.argsort(-np.linalg.norm(points - points.mean(axis=0), axis=1))
        keep[extra[:3]] = True
    return points[keep]


def _rdp_mark(points: np.ndarray, start: int, end: int, tol: float, keep: np.ndarray) -> None:
    stack = [(start, end)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        a, b = points[i], points[j]
        seg = b - a
        rel = points[i + 1 : j] - a
        norm = float(np.hypot(*seg))
        if norm == 0.0:
            dist = np.linalg.norm(rel, axis=1)
        else:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
        k = int(np.argmax(dist))
        if dist[k] > tol:
            keep[i + 1 + k] = True
            stack.extend([(i, i + 1 + k), (i + 1 + k, j)])


def star_polygon(
    cx: float, cy: float, rx: float, ry: float, rng: np.random.Generator
) -> np.ndarray:
    """A random star-shaped (hence simple) polygon inscribed in the given ellipse."""
    n = int(rng.integers(8, 21))
    angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    radii = rng.uniform(0.6, 1.0, n)
    return np.column_stack([cx + rx * radii * np.cos(angles), cy + ry * radii * np.sin(angles)])


def box_iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes (the simulator's only geometry need)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
