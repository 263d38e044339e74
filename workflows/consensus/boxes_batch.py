"""The array-level box consensus over many items at once, with worker-quality EM.

Used by :func:`workflows.consensus.merge.merge_items` and by the COCO adapter; everything is
struct-of-arrays so a million boxes cost a handful of numpy passes, not a million objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workflows.consensus.fusion.boxes import fuse_edges
from workflows.consensus.fusion.labels import majority_vote
from workflows.consensus.geometry import box_iou_pairs
from workflows.consensus.matching import cluster_boxes_batch
from workflows.consensus.quality import WorkerQuality, edge_sq_error
from workflows.consensus.types import FloatArray, IntArray, MergeParams

__all__ = ["BoxConsensus", "merge_box_arrays"]


@dataclass(frozen=True)
class BoxConsensus:
    """Clusters of a box batch; cluster arrays have length ``c``, row arrays length ``n``.

    Attributes
    ----------
    cluster_of_row : (n,) int64
    members : list of c int64 arrays of row indices (ascending)
    group : (c,) int64 — item of each cluster
    box, uncertainty : (c, 4) float64
    category : (c,) int64
    support : (c,) int64 — distinct annotators
    support_fraction : (c,) float64 — (weighted) share of the item's annotators
    agreement : (c,) float64 — mean IoU of members to the fused box
    accepted : (c,) bool
    quality : WorkerQuality or None — when weights were estimated
    """

    cluster_of_row: IntArray
    members: list[IntArray]
    group: IntArray
    box: FloatArray
    uncertainty: FloatArray
    category: IntArray
    support: IntArray
    support_fraction: FloatArray
    agreement: FloatArray
    accepted: IntArray
    quality: WorkerQuality | None


def merge_box_arrays(
    boxes: FloatArray,
    worker_idx: IntArray,
    category_idx: IntArray,
    group: IntArray,
    annotators: list[IntArray],
    params: MergeParams,
    weights: Mapping[int, float] | None = None,
    rounds: int = 0,
) -> BoxConsensus:
    """Cluster, vote and fuse the boxes of many items.

    Parameters
    ----------
    boxes : (n, 4); worker_idx, category_idx, group : (n,)
        Rows of all items; ``group`` is the item index ``0..g-1``.
    annotators : list of g int64 arrays
        Everyone who labelled each item (the quorum's denominator).
    params
        Threshold, quorum, class mode and ``box_method``.
    weights
        ``{worker: weight}`` used for coordinates and for the quorum; missing workers weigh 1.
    rounds
        With ``weights=None``, at most this many EM rounds: consensus, then
        :class:`WorkerQuality` from the members' leave-one-out residuals and from their
        agreement with accepted objects, then a consensus with coordinate weights and
        reliability-weighted quorum votes. The loop stops early once no worker's weights
        move by more than ``WorkerQuality.tol`` (relative), so more rounds never run past
        the fixed point. Clustering does not depend on weights, so it runs once.
    """
    labels = cluster_boxes_batch(
        boxes,
        worker_idx,
        group,
        params.iou_threshold,
        None if params.class_agnostic else category_idx,
    )
    lay = _Layout.build(labels)
    members = [
        lay.order[a : a + k] for a, k in zip(lay.starts.tolist(), lay.sizes.tolist(), strict=True)
    ]
    cgroup = group[lay.first] if len(lay.first) else np.zeros(0, dtype=np.int64)
    ann_sizes = np.array([len(a) for a in annotators], dtype=np.int64)
    ann_all = np.concatenate(annotators) if len(annotators) else np.zeros(0, np.int64)
    ann_item = np.repeat(np.arange(len(annotators)), ann_sizes)
    coord_w = _lookup(weights, worker_idx)
    ann_w = np.bincount(ann_item, _lookup(weights, ann_all), minlength=len(annotators))
    padded = lay.pad_edges(boxes) if len(lay.multi) else None
    ctx = (boxes, worker_idx, category_idx, cgroup, members, lay, params, labels, padded)
    result = _fuse(*ctx, coord_w, coord_w, ann_w)
    quality = None
    if weights is None and rounds > 0:
        quality = WorkerQuality()
        ann_ids, ann_inv = np.unique(ann_all, return_inverse=True)
        for _ in range(rounds):
            _estimate(
                boxes,
                worker_idx,
                labels,
                coord_w,
                result,
                quality,
                len(annotators),
                ann_item,
                ann_ids,
                ann_inv,
            )
            coord_w = quality.lookup(worker_idx)
            vote_w = quality.lookup(worker_idx, vote=True)
            ann_w = np.bincount(
                ann_item, quality.lookup(ann_all, vote=True), minlength=len(annotators)
            )
            result = _fuse(*ctx, coord_w, vote_w, ann_w)
            if quality.converged_:
                break
    return BoxConsensus(**{**result.__dict__, "quality": quality})


@dataclass(frozen=True)
class _Layout:
    """Cluster layout computed once per batch: members sorted by cluster, and the padded
    ``(c', s)`` positions of the rows of multi-member clusters (singletons need no fusion)."""

    order: IntArray  # rows sorted by cluster (members ascending within a cluster)
    starts: IntArray  # (c,) offset of each cluster in ``order``
    sizes: IntArray  # (c,) members per cluster
    first: IntArray  # (c,) first row of each cluster
    multi: IntArray  # (c',) clusters with at least two members
    rows: IntArray  # rows of multi-member clusters
    pos: IntArray  # their padded (cluster, slot) positions
    slot: IntArray
    width: int

    @classmethod
    def build(cls, labels: IntArray) -> _Layout:
        order = np.argsort(labels, kind="stable")
        sizes = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
        starts = np.cumsum(sizes) - sizes
        multi = np.flatnonzero(sizes > 1)
        index = np.full(len(sizes), -1, np.int64)
        index[multi] = np.arange(len(multi))
        lab_sorted = labels[order]
        keep = sizes[lab_sorted] > 1
        slot = (np.arange(len(order)) - starts[lab_sorted])[keep]
        return cls(
            order,
            starts,
            sizes,
            order[starts] if len(sizes) else starts,
            multi,
            order[keep],
            index[lab_sorted[keep]],
            slot,
            int(sizes.max(initial=0)),
        )

    def pad(self, values: FloatArray, fill: float = 0.0) -> FloatArray:
        """``(c', s, ...)`` array of a row array over the multi-member clusters."""
        out = np.full((len(self.multi), self.width, *values.shape[1:]), fill)
        out[self.pos, self.slot] = values[self.rows]
        return out

    def pad_edges(self, values: FloatArray) -> FloatArray:
        """Member-major ``(s, 4c')`` layout of :func:`fuse_edges`: of an ``(n, 4)`` row array
        its edges, of an ``(n,)`` one each value repeated for the four edges; zero padding."""
        out = np.zeros((self.width, len(self.multi), 4))
        v = values[self.rows]
        out[self.slot, self.pos] = v if v.ndim == 2 else v[:, None]
        return out.reshape(self.width, -1)


def _lookup(weights: Mapping[int, float] | None, worker_idx: IntArray) -> FloatArray:
    if weights is None:
        return np.ones(len(worker_idx))
    return np.array([float(weights.get(int(w), 1.0)) for w in worker_idx.tolist()])


def _fuse(
    boxes,
    worker_idx,
    category_idx,
    cgroup,
    members,
    lay: _Layout,
    params,
    labels,
    padded,
    coord_w,
    vote_w,
    ann_w,
) -> BoxConsensus:
    """One consensus pass. ``padded`` is ``lay.pad_edges(boxes)``, computed once per batch;
    ``ann_w`` ``(g,)`` is each item's total annotator vote weight."""
    c = len(members)
    fused = boxes[lay.first].copy() if c else np.zeros((0, 4))
    spread = np.zeros((c, 4))
    if len(lay.multi):
        mw = lay.pad_edges(coord_w)
        f, sp = fuse_edges(padded, np.maximum(mw, 0) + (mw > 0) * 1e-12, params.box_method)
        fused[lay.multi] = f.reshape(-1, 4)
        spread[lay.multi] = sp.reshape(-1, 4)
    support = lay.sizes.astype(np.int64)
    weight = np.bincount(labels, vote_w, minlength=c) if c else np.zeros(0)
    frac = weight / np.maximum(ann_w[cgroup], 1e-12)
    q = params.quorum
    accepted = support >= q if isinstance(q, int | np.integer) else frac >= float(q) - 1e-9
    iou = box_iou_pairs(boxes, fused[labels]) if len(boxes) else np.zeros(0)
    agreement = np.bincount(labels, iou, minlength=c) / np.maximum(support, 1)
    if params.class_agnostic and c:
        category = majority_vote(labels, category_idx, vote_w, n_tasks=c)[0]
    else:
        category = category_idx[lay.first] if c else np.zeros(0, np.int64)
    return BoxConsensus(
        cluster_of_row=labels,
        members=members,
        group=cgroup,
        box=fused,
        uncertainty=spread,
        category=np.asarray(category, dtype=np.int64),
        support=support,
        support_fraction=np.minimum(frac, 1.0),
        agreement=agreement,
        accepted=accepted,
        quality=None,
    )


def _estimate(
    boxes,
    worker_idx,
    labels,
    coord_w,
    result: BoxConsensus,
    quality: WorkerQuality,
    n_items,
    ann_item,
    ann_ids,
    ann_inv,
) -> WorkerQuality:
    """Refit worker quality from members of accepted clusters with at least two members.

    Residuals are leave-one-out: a member's squared edge error to the fused box is scaled by
    ``(W / (W - w_i))^2``, the exact leave-one-out factor for a weighted mean (and its
    first-order value for the robust fusion), so a worker is scored against the consensus
    of the *others*. Without it a heavily weighted worker pulls the consensus toward itself,
    looks better, gains weight, and the EM drifts (more rounds made results worse).

    ``ann_item`` is the item of each entry of the concatenated annotator lists, and
    ``ann_ids``, ``ann_inv`` their unique worker ids and inverse (fixed over the rounds).
    """
    sup = result.support[labels]
    acc = result.accepted[labels] & (sup >= 2)
    err = np.full(len(boxes), np.nan)
    total = np.bincount(labels, coord_w, minlength=len(result.support))[labels]
    loo = total / np.maximum(total - coord_w, 1e-12 * total)
    err[acc] = edge_sq_error(boxes[acc], result.box[labels[acc]]) * loo[acc] ** 2
    n_acc = np.bincount(result.group[result.accepted], minlength=n_items)
    per = n_acc[ann_item]
    opp = dict(
        zip(
            ann_ids.tolist(),
            np.bincount(ann_inv, per, minlength=len(ann_ids)).tolist(),
            strict=True,
        )
    )
    return quality.fit(worker_idx, err, acc, opportunities=opp)
