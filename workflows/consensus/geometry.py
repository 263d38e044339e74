"""Vectorised box geometry and keypoint similarity (OKS).

Boxes follow :mod:`workflows.consensus.types`: continuous pixel ``x1, y1, x2, y2`` with exclusive
``x2``/``y2``, so area is ``(x2 - x1) * (y2 - y1)``. Mask and polygon IoU live in
:mod:`workflows.consensus.masks`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from workflows.consensus.types import FloatArray

__all__ = [
    "COCO_PERSON_SIGMAS",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
    "box_area",
    "box_iou",
    "box_iou_xywh",
    "box_iou_pairs",
    "keypoint_oks",
]

#: Per-keypoint OKS sigmas of the 17 COCO person keypoints (cocoapi ``COCOeval``).
COCO_PERSON_SIGMAS: FloatArray = (
    np.array(
        [
            0.26,
            0.25,
            0.25,
            0.35,
            0.35,
            0.79,
            0.79,
            0.72,
            0.72,
            0.62,
            0.62,
            1.07,
            1.07,
            0.87,
            0.87,
            0.89,
            0.89,
        ]
    )
    / 10.0
)


def _boxes(a: ArrayLike, name: str = "boxes") -> FloatArray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (n, 4), got {arr.shape}")
    return arr


def xywh_to_xyxy(boxes: ArrayLike) -> FloatArray:
    """Convert COCO ``x, y, w, h`` boxes ``(n, 4)`` to ``x1, y1, x2, y2`` ``(n, 4)``."""
    b = _boxes(boxes).copy()
    b[:, 2:] += b[:, :2]
    return b


def xyxy_to_xywh(boxes: ArrayLike) -> FloatArray:
    """Convert ``x1, y1, x2, y2`` boxes ``(n, 4)`` to COCO ``x, y, w, h`` ``(n, 4)``."""
    b = _boxes(boxes).copy()
    b[:, 2:] -= b[:, :2]
    return b


def box_area(boxes: ArrayLike) -> FloatArray:
    """Areas ``(n,)`` of ``x1, y1, x2, y2`` boxes ``(n, 4)``; inverted boxes count as 0."""
    b = _boxes(boxes)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def box_iou(a: ArrayLike, b: ArrayLike | None = None) -> FloatArray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Parameters
    ----------
    a : (n, 4) float
        Boxes ``x1, y1, x2, y2``.
    b : (m, 4) float, optional
        Boxes ``x1, y1, x2, y2``; defaults to ``a`` (a symmetric self-IoU matrix).

    Returns
    -------
    (n, m) float64
        IoU in ``[0, 1]``. Two zero-area boxes have IoU 0 (no evidence that they agree).

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]])
    array([[0.33333333]])
    """
    a = _boxes(a, "a")
    b = a if b is None else _boxes(b, "b")
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(iou, 0.0, 1.0)


def box_iou_xywh(a: ArrayLike, b: ArrayLike | None = None) -> FloatArray:
    """:func:`box_iou` for COCO ``x, y, w, h`` boxes; returns ``(n, m)``."""
    return box_iou(xywh_to_xyxy(a), None if b is None else xywh_to_xyxy(b))


def box_iou_pairs(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Element-wise IoU of ``a[i]`` with ``b[i]`` for two ``(n, 4)`` arrays; returns ``(n,)``."""
    a, b = _boxes(a, "a"), _boxes(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    wh = np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    union = box_area(a) + box_area(b) - inter
    safe = np.where(union > 0, union, 1.0)
    return np.clip(np.where(union > 0, inter / safe, 0.0), 0.0, 1.0)


def keypoint_oks(
    a: ArrayLike,
    b: ArrayLike,
    area_a: ArrayLike,
    area_b: ArrayLike | None = None,
    sigmas: ArrayLike | None = None,
) -> FloatArray:
    """Symmetric object keypoint similarity between every pose in ``a`` and every pose in ``b``.

    COCO's OKS (Ruggero Ronchi & Perona, ICCV 2017; cocoapi ``computeOks``) is
    ``mean_i exp(-d_i^2 / (2 s^2 k_i^2))`` with ``s^2`` the object area and ``k_i = 2 sigma_i``,
    averaged over keypoints labelled in the ground truth. Between two annotators neither side is
    ground truth, so this version uses the mean of the two areas and averages over keypoints
    labelled (``v > 0``) in *either* pose; a keypoint labelled in only one scores 0, because the
    annotators disagree on whether it is there. Pairs with no labelled keypoint score 0.

    Parameters
    ----------
    a : (n, k, 3) float
        Poses ``x, y, v``.
    b : (m, k, 3) float
        Poses ``x, y, v``.
    area_a : (n,) float
        Object scale (area, e.g. of the bounding box) of each pose in ``a``.
    area_b : (m,) float, optional
        Same for ``b``; defaults to ``area_a`` when ``b is a``.
    sigmas : (k,) float, optional
        Per-keypoint sigmas; the COCO person sigmas by default (requires ``k == 17``).

    Returns
    -------
    (n, m) float64
        OKS in ``[0, 1]``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 3 or b.ndim != 3 or a.shape[2] != 3 or b.shape[2] != 3:
        raise ValueError("keypoints must have shape (n, k, 3)")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"keypoint counts differ: {a.shape[1]} and {b.shape[1]}")
    k = a.shape[1]
    sig = COCO_PERSON_SIGMAS if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    if sig.shape != (k,):
        raise ValueError(f"need {k} sigmas, got {sig.shape[0]}; pass sigmas for non-COCO poses")
    area_a = np.asarray(area_a, dtype=np.float64).reshape(-1)
    area_b = area_a if area_b is None else np.asarray(area_b, dtype=np.float64).reshape(-1)
    if len(area_a) != len(a) or len(area_b) != len(b):
        raise ValueError("need one area per pose")
    var = (2.0 * sig) ** 2
    d2 = ((a[:, None, :, :2] - b[None, :, :, :2]) ** 2).sum(-1)  # (n, m, k)
    scale = (area_a[:, None] + area_b[None, :]) / 2.0 + np.spacing(1)
    e = np.exp(-d2 / (2.0 * var[None, None, :] * scale[:, :, None]))
    va, vb = a[:, None, :, 2] > 0, b[None, :, :, 2] > 0
    both, either = va & vb, va | vb
    n_either = either.sum(-1)
    total = np.where(both, e, 0.0).sum(-1)
    return np.where(n_either > 0, total / np.maximum(n_either, 1), 0.0)
