"""Scoring against ground truth: Hungarian box matching (F1 at an IoU, mean matched IoU), mask IoU.

Written independently of ``workflows.consensus`` so the benchmarks do not grade our code with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``(n, m)`` of ``x1, y1, x2, y2`` boxes (continuous coordinates)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class DetectionScore:
    """Micro-averaged detection counts over images; ``ious`` holds every true-positive IoU."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    iou_sum: float = 0.0

    def add(self, pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> None:
        tp, ious = match_boxes(pred, gt, threshold)
        self.tp += tp
        self.fp += len(pred) - tp
        self.fn += len(gt) - tp
        self.iou_sum += float(ious.sum())

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 1.0

    @property
    def mean_iou(self) -> float:
        return self.iou_sum / self.tp if self.tp else 0.0


def match_boxes(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> tuple[int, np.ndarray]:
    """Hungarian matching maximising total IoU among pairs with IoU >= ``threshold``.

    Returns the number of matches and their IoUs. Pairs under the threshold get zero weight, so
    they can never displace a valid match.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if not len(pred) or not len(gt):
        return 0, np.zeros(0)
    iou = box_iou(pred, gt)
    weight = np.where(iou >= threshold, iou, 0.0)
    rows, cols = linear_sum_assignment(-weight)
    ok = weight[rows, cols] > 0
    return int(ok.sum()), iou[rows[ok], cols[ok]]


def score_detections(
    preds: Iterable[np.ndarray], gts: Iterable[np.ndarray], threshold: float = 0.5
) -> DetectionScore:
    score = DetectionScore()
    for pred, gt in zip(preds, gts, strict=True):
        score.add(pred, gt, threshold)
    return score


def polygon_rle(polygons: Sequence[Sequence[float]], height: int, width: int) -> dict:
    """One RLE for a list of flat COCO polygons (their union)."""
    return mask_utils.merge(mask_utils.frPyObjects([list(p) for p in polygons], height, width))


def segmentation_rle(segmentation: object, height: int, width: int) -> dict:
    """RLE of any COCO segmentation: polygon list, compressed or uncompressed RLE."""
    if isinstance(segmentation, list):
        return polygon_rle(segmentation, height, width)
    if isinstance(segmentation, dict):
        counts = segmentation["counts"]
        if isinstance(counts, list):
            return mask_utils.frPyObjects(segmentation, height, width)
        if isinstance(counts, str):
            return {"size": segmentation["size"], "counts": counts.encode("ascii")}
        return segmentation
    raise TypeError(f"unsupported segmentation {type(segmentation).__name__}")


def rle_iou(a: dict, b: dict) -> float:
    return float(mask_utils.iou([a], [b], [0])[0, 0])


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
