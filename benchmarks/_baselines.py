"""Baselines the benchmarks compare Quorum's consensus against, each written to match its source.

- WBF: ``ensemble_boxes.weighted_boxes_fusion`` (Solovyev et al., "Weighted boxes fusion", 2021;
  https://github.com/ZFTurbo/Weighted-Boxes-Fusion) with each worker as one model of score 1.
- CVAT: the consensus merger of cvat-ai/cvat ``cvat/apps/consensus/intersect_merge.py``
  (``_ShapeMatcher.match_annotations`` and ``_ShapeMerger._merge_cluster_shape_mean_box_nearest``).
- SageMaker: Ground Truth's built-in bounding-box consolidation (``ACS-BoundingBox``), documented
  as "finds the most similar boxes from different workers based on the Jaccard index of the
  boxes" and averaging them (docs.aws.amazon.com/sagemaker/latest/dg/sms-annotation-consolidation
  .html); its Lambda is closed source, so this is the documented rule, unweighted.
- Crowd-Kit: ``SegmentationMajorityVote``, ``SegmentationEM``, ``SegmentationRASA``
  (Toloka crowd-kit, https://github.com/Toloka/crowd-kit), fed full-image boolean masks.

Boxes everywhere are ``(n, 4)`` float64 ``x1, y1, x2, y2`` pixels, one array per worker.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks._metrics import box_iou


@dataclass(frozen=True)
class Fused:
    """Fused boxes of one image: coordinates, a confidence in [0, 1] and a class per box."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @staticmethod
    def empty() -> Fused:
        return Fused(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))


def quorum_count(quorum: float, n_workers: int) -> int:
    """Annotators a cluster needs: a fraction of those present, rounded up, at least one."""
    return max(1, math.ceil(quorum * n_workers - 1e-9))


def _labels_or_zero(boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None):
    if labels is None:
        return [np.zeros(len(b), dtype=np.int64) for b in boxes]
    return [np.asarray(lab, dtype=np.int64) for lab in labels]


# --------------------------------------------------------------------------- WBF


def wbf_merge(
    boxes: Sequence[np.ndarray],
    width: int,
    height: int,
    *,
    labels: Sequence[np.ndarray] | None = None,
    iou_thr: float = 0.5,
    quorum: float = 0.5,
    skip_box_thr: float = 0.0,
) -> Fused:
    """Weighted Boxes Fusion with every worker as one model, then a quorum on annotators.

    With unit scores, ``conf_type="box_and_model_avg"`` makes the fused score exactly the share
    of distinct models (workers) in the cluster (it rescales by the unique model indices), so
    the quorum post-filter counts annotators, not boxes, as the other methods do.
    """
    from ensemble_boxes import weighted_boxes_fusion

    k = len(boxes)
    if k == 0 or not any(len(b) for b in boxes):
        return Fused.empty()
    scale = np.array([width, height, width, height], dtype=np.float64)
    norm = [np.clip(np.asarray(b, np.float64).reshape(-1, 4) / scale, 0.0, 1.0) for b in boxes]
    labs = _labels_or_zero(boxes, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-area crowd boxes are skipped with a warning each
        fused, scores, fused_labels = weighted_boxes_fusion(
            [b.tolist() for b in norm],
            [[1.0] * len(b) for b in norm],
            [lab.tolist() for lab in labs],
            iou_thr=iou_thr,
            skip_box_thr=skip_box_thr,
            conf_type="box_and_model_avg",
        )
    keep = np.round(scores * k) >= quorum_count(quorum, k)
    return Fused(
        np.asarray(fused, np.float64)[keep] * scale,
        np.asarray(scores, np.float64)[keep],
        np.asarray(fused_labels, np.int64)[keep],
    )


# --------------------------------------------------------------------------- CVAT


def _pairwise_matches(a: np.ndarray, b: np.ndarray, iou_thr: float) -> list[tuple[int, int]]:
    """CVAT's ``match_segments``: Hungarian on IoU, keeping pairs at or above the threshold."""
    if not len(a) or not len(b):
        return []
    iou = box_iou(a, b)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= iou_thr]


def cvat_merge(
    boxes: Sequence[np.ndarray],
    *,
    labels: Sequence[np.ndarray] | None = None,
    iou_thr: float = 0.5,
    quorum: float = 0.5,
) -> Fused:
    """CVAT's consensus merge for boxes, class by class (CVAT only matches same-label shapes).

    Sources are matched pairwise; a cluster grows through those matches from each unvisited box,
    admitting a box only if it comes from a new source and has IoU >= ``iou_thr`` with every box
    already in the cluster (``cluster_dist`` defaults to ``pairwise_dist``). Clusters under the
    quorum are dropped; the output is the member with the highest IoU to the cluster's mean box,
    scored, as CVAT does, by label share times the mean IoU of the members to it.
    """
    k = len(boxes)
    labs = _labels_or_zero(boxes, labels)
    need = quorum_count(quorum, k)
    out_boxes, out_scores, out_labels = [], [], []
    for label in sorted({int(v) for lab in labs for v in lab}):
        src = [
            np.asarray(b, np.float64).reshape(-1, 4)[lab == label]
            for b, lab in zip(boxes, labs, strict=True)
        ]
        nodes = [(s, i) for s in range(k) for i in range(len(src[s]))]
        adjacent: dict[tuple[int, int], list[tuple[int, int]]] = {n: [] for n in nodes}
        for sa in range(k):
            for sb in range(sa + 1, k):
                for ia, ib in _pairwise_matches(src[sa], src[sb], iou_thr):
                    adjacent[(sa, ia)].append((sb, ib))
                    adjacent[(sb, ib)].append((sa, ia))
        visited: set[tuple[int, int]] = set()
        for start in nodes:
            if start in visited:
                continue
            cluster: list[tuple[int, int]] = []
            to_visit = [start]
            while to_visit:
                node = to_visit.pop(0)
                if node in visited:
                    continue
                cluster.append(node)
                visited.add(node)
                for nb in adjacent[node]:
                    if nb in visited or nb in to_visit:
                        continue
                    if any(m[0] == nb[0] for m in cluster):
                        continue
                    members = np.array([src[s][i] for s, i in cluster])
                    if (box_iou(members, src[nb[0]][nb[1]])[:, 0] < iou_thr).any():
                        continue
                    to_visit.append(nb)
            if len(cluster) < need:
                continue
            members = np.array([src[s][i] for s, i in cluster])
            mean = members.mean(axis=0, keepdims=True)
            nearest = int(np.argmax(box_iou(members, mean)[:, 0]))
            shape = members[nearest]
            shape_score = float(box_iou(members, shape[None])[:, 0].mean())
            out_boxes.append(shape)
            out_scores.append(len(cluster) / k * shape_score)
            out_labels.append(label)
    if not out_boxes:
        return Fused.empty()
    return Fused(np.array(out_boxes), np.array(out_scores), np.array(out_labels, dtype=np.int64))


# --------------------------------------------------------------------------- SageMaker


def sagemaker_merge(
    boxes: Sequence[np.ndarray],
    *,
    labels: Sequence[np.ndarray] | None = None,
    iou_thr: float = 0.5,
    quorum: float = 0.5,
) -> Fused:
    """Documented Ground Truth rule: match each worker's boxes to the most similar (Jaccard)
    boxes of the others, average each group without weights, keep groups with a quorum.

    Workers are taken in order; each worker's boxes are Hungarian-matched to the running cluster
    means (IoU >= ``iou_thr``), unmatched boxes open new clusters.
    """
    k = len(boxes)
    labs = _labels_or_zero(boxes, labels)
    need = quorum_count(quorum, k)
    out_boxes, out_scores, out_labels = [], [], []
    for label in sorted({int(v) for lab in labs for v in lab}):
        sums: list[np.ndarray] = []
        counts: list[int] = []
        for b, lab in zip(boxes, labs, strict=True):
            mine = np.asarray(b, np.float64).reshape(-1, 4)[lab == label]
            matched: set[int] = set()
            if sums and len(mine):
                means = np.array(sums) / np.array(counts)[:, None]
                for i, c in _pairwise_matches(mine, means, iou_thr):
                    sums[c] = sums[c] + mine[i]
                    counts[c] += 1
                    matched.add(i)
            for i in range(len(mine)):
                if i not in matched:
                    sums.append(mine[i].copy())
                    counts.append(1)
        for total, count in zip(sums, counts, strict=True):
            if count >= need:
                out_boxes.append(total / count)
                out_scores.append(count / k)
                out_labels.append(label)
    if not out_boxes:
        return Fused.empty()
    return Fused(np.array(out_boxes), np.array(out_scores), np.array(out_labels, dtype=np.int64))


# --------------------------------------------------------------------------- Crowd-Kit masks

CROWDKIT_METHODS = ("SegmentationMajorityVote", "SegmentationEM", "SegmentationRASA")


def crowdkit_segment(
    method: str, tasks: Sequence[tuple[int, Sequence[int], Sequence[np.ndarray]]]
) -> dict[int, np.ndarray]:
    """Aggregate boolean masks with a Crowd-Kit segmentation aggregator (default parameters).

    ``tasks`` holds ``(task_id, worker_ids, masks)``; returns one boolean mask per task.
    """
    import pandas as pd
    from crowdkit import aggregation

    rows = [
        (task, worker, mask)
        for task, workers, masks in tasks
        for worker, mask in zip(workers, masks, strict=True)
    ]
    frame = pd.DataFrame(rows, columns=["task", "worker", "segmentation"])
    result = getattr(aggregation, method)().fit_predict(frame)
    return {int(task): np.asarray(mask, dtype=bool) for task, mask in result.items()}
