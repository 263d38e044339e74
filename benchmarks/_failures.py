"""Failure analysis for box consensus: why each missed or extra box happened, by object size.

Used by ``consensus_boxes --failures``; the categories are the ones benchmarks/README.md reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks._baselines import quorum_count
from benchmarks._data import PedestrianImage
from benchmarks._metrics import box_iou


def size_bucket(box: np.ndarray) -> str:
    height = float(box[3] - box[1])
    return "h<50px" if height < 50 else "h 50-100px" if height < 100 else "h>=100px"


def classify(
    images: Sequence[PedestrianImage], preds: Sequence[np.ndarray], k: int, quorum: float
) -> tuple[Counter, Counter]:
    """Count missed truth boxes and extra fused boxes by cause and size bucket."""
    need = quorum_count(quorum, k)
    missed: Counter = Counter()
    extra: Counter = Counter()
    for img, pred in zip(images, preds, strict=True):
        gt = img.expert
        iou = box_iou(pred, gt)
        weight = np.where(iou >= 0.5, iou, 0.0)
        rows, cols = linear_sum_assignment(-weight) if weight.size else ([], [])
        pairs = [(r, c) for r, c in zip(rows, cols, strict=True) if weight[r, c] > 0]
        hit_pred = {r for r, _ in pairs}
        hit_gt = {c for _, c in pairs}
        for j in range(len(gt)):
            if j in hit_gt:
                continue
            votes = sum(
                1 for b in img.boxes[:k] if len(b) and box_iou(b, gt[j : j + 1]).max() >= 0.5
            )
            if votes == 0:
                cause = "no worker box at IoU>=0.5"
            elif votes < need:
                cause = f"found by {votes} < quorum {need} workers"
            elif len(pred) and iou[:, j].max() >= 0.3:
                cause = "enough votes, fused box IoU<0.5"
            else:
                cause = "enough votes, no fused box (cluster split or rejected)"
            missed[(cause, size_bucket(gt[j]))] += 1
        for i in range(len(pred)):
            if i in hit_pred:
                continue
            best = float(iou[i].max()) if len(gt) else 0.0
            if best >= 0.5:
                cause = "second box on a matched object"
            elif best >= 0.1:
                cause = "poor localisation (IoU 0.1-0.5)"
            else:
                cause = "no expert box near"
            extra[(cause, size_bucket(pred[i]))] += 1
    return missed, extra


def failure_rows(counter: Counter, kind: str) -> list[list]:
    causes = sorted(
        {c for c, _ in counter}, key=lambda c: -sum(v for (cc, _), v in counter.items() if cc == c)
    )
    buckets = ("h<50px", "h 50-100px", "h>=100px")
    return [
        [kind, c, *(counter[(c, b)] for b in buckets), sum(counter[(c, b)] for b in buckets)]
        for c in causes
    ]
