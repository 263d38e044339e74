"""The JSON report of a merge: per-image, per-worker and per-project agreement, from arrays.

Built from the clusters themselves, in a few vectorised passes over all items: a worker's
object "matches" the consensus when it is a member of an accepted cluster, and two annotators
agree on an object when both are members of the same accepted cluster. Member IoU to the
consensus is bounding-box IoU for every kind (the mask IoU is the object's ``agreement``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workflows.consensus.geometry import box_iou_pairs
from workflows.consensus.quality import WorkerQuality
from workflows.consensus.types import FloatArray, IntArray

__all__ = ["build_report"]


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def build_report(
    *,
    boxes: FloatArray,
    worker: IntArray,
    category: IntArray,
    group: IntArray,
    annotators: Sequence[IntArray],
    item_ids: Sequence[Any],
    members: list[IntArray],
    cluster_group: IntArray,
    accepted: np.ndarray,
    agreement: FloatArray,
    fused_box: FloatArray,
    params: dict,
    kind: str,
    quality: WorkerQuality | None,
) -> dict[str, Any]:
    """Report dict (JSON-ready). Row arrays ``(n,)``/``(n, 4)``; cluster arrays ``(c,)``."""
    n_items, c = len(item_ids), len(members)
    # Member rows in cluster order and the cluster sizes, computed once for every part below.
    sizes = np.fromiter(map(len, members), np.int64, c)
    flat = np.concatenate(members) if c else np.zeros(0, np.int64)
    cluster_of = np.zeros(len(worker), dtype=np.int64)
    cluster_of[flat] = np.repeat(np.arange(c), sizes)
    hit_row = accepted[cluster_of] if c else np.zeros(0, bool)
    iou_row = box_iou_pairs(boxes, fused_box[cluster_of]) if c else np.zeros(0)
    # Per worker.
    wids, winv = np.unique(worker, return_inverse=True)
    drawn = np.bincount(winv, minlength=len(wids))
    hits = np.bincount(winv[hit_row], minlength=len(wids))
    iou_sum = np.bincount(winv[hit_row], iou_row[hit_row], minlength=len(wids))
    n_cons = np.bincount(cluster_group[accepted], minlength=n_items) if c else np.zeros(n_items)
    ann_all = np.concatenate(annotators) if n_items else np.zeros(0, np.int64)
    ann_item = np.repeat(np.arange(n_items), [len(a) for a in annotators])
    all_ids, ainv = np.unique(np.concatenate([ann_all, wids]), return_inverse=True)
    opp = np.bincount(ainv[: len(ann_all)], n_cons[ann_item], minlength=len(all_ids))
    draw_all = np.zeros(len(all_ids), np.int64)
    draw_all[ainv[len(ann_all) :]] = drawn
    hit_all = np.zeros(len(all_ids), np.int64)
    hit_all[ainv[len(ann_all) :]] = hits
    iou_all = np.zeros(len(all_ids))
    iou_all[ainv[len(ann_all) :]] = iou_sum
    weights = quality.weight_map() if quality is not None else {}
    workers = [
        {
            "annotator_id": int(w),
            "n_objects": int(draw_all[i]),
            "precision": float(hit_all[i] / draw_all[i]) if draw_all[i] else None,
            "recall": float(hit_all[i] / opp[i]) if opp[i] else None,
            # No object of this worker joined a consensus object: mean IoU 0 (None only for
            # a worker who drew nothing), so every worker can be ranked on it.
            "mean_iou": float(iou_all[i] / hit_all[i])
            if hit_all[i]
            else (0.0 if draw_all[i] else None),
            "weight": weights.get(int(w)),
        }
        for i, w in enumerate(all_ids.tolist())
    ]
    # Per image: pairwise F1 from co-membership in accepted clusters.
    slot = _padded_index(flat, sizes)  # (c, s) member rows, -1 pads
    valid = slot >= 0
    mb = np.where(valid[..., None], boxes[np.maximum(slot, 0)], 0.0) if c else np.zeros((0, 0, 4))
    n_ann = np.fromiter(map(len, annotators), np.int64, n_items)
    pair_f1 = _pairwise_f1(worker, group, annotators, slot, sizes, accepted, n_ann)
    agr_sum = (
        np.bincount(cluster_group[accepted], agreement[accepted], minlength=n_items)
        if c
        else np.zeros(n_items)
    )
    n_obj = np.bincount(group, minlength=n_items)
    n_cons_l = np.asarray(n_cons, np.int64).tolist()
    mean_agr = (agr_sum / np.maximum(n_cons, 1)).tolist()
    images = [
        {
            "image_id": iid,
            "n_annotators": na,
            "n_objects": no,
            "n_consensus": nc,
            "pairwise_f1": None if f != f else f,  # NaN (fewer than two annotators)
            "mean_agreement": ma if nc else None,
        }
        for iid, na, no, nc, f, ma in zip(
            item_ids,
            n_ann.tolist(),
            n_obj.tolist(),
            n_cons_l,
            pair_f1.tolist(),
            mean_agr,
            strict=True,
        )
    ]
    alpha_geo = _alpha_detection(boxes, group, mb, valid, n_ann[cluster_group] if c else n_ann[:0])
    alpha_lab = _alpha_nominal(category, cluster_of, c)
    project = {
        "kind": kind,
        "n_images": n_items,
        "n_annotations": len(worker),
        "n_consensus": int(accepted.sum()) if c else 0,
        "mean_agreement": float(agreement[accepted].mean()) if c and accepted.any() else None,
        "krippendorff_alpha_iou": _num(alpha_geo),
        "krippendorff_alpha_labels": _num(alpha_lab),
        "quality_loss_history": quality.loss_history_ if quality is not None else [],
    }
    return {"params": params, "project": project, "workers": workers, "images": images}


def _padded_index(flat: IntArray, sizes: IntArray) -> IntArray:
    """``(c, s)`` rows of each cluster (``flat`` in cluster order), padded with -1."""
    c = len(sizes)
    out = np.full((c, int(sizes.max(initial=0))), -1, np.int64)
    if c:
        starts = np.cumsum(sizes) - sizes
        out[np.repeat(np.arange(c), sizes), np.arange(len(flat)) - np.repeat(starts, sizes)] = flat
    return out


def _pairwise_f1(worker, group, annotators, slot, sizes, accepted, ann_sizes) -> FloatArray:
    """Mean over annotator pairs of each item of ``2 * shared / (n_a + n_b)``; empty pairs 1.

    ``shared`` counts the accepted clusters both annotators belong to (the clusters already
    found, so no pairwise re-matching); ``n_a`` is how many objects ``a`` drew on the item.
    Fully vectorised: pair keys are packed into one ``int64`` per (item, worker, worker).
    ``slot`` is the ``(c, s)`` padded member rows of every cluster.
    """
    n_items = len(annotators)
    out = np.full(n_items, np.nan)
    if not n_items:
        return out
    ann_all = np.concatenate(annotators).astype(np.int64)
    ann_item = np.repeat(np.arange(n_items), ann_sizes)
    wids = np.unique(np.concatenate([ann_all, worker]))
    nw = max(len(wids), 1)
    ann_w, row_w = np.searchsorted(wids, ann_all), np.searchsorted(wids, worker)
    # Objects per (item, worker).
    gw_keys, gw_cnt = np.unique(group * nw + row_w, return_counts=True)
    total = np.zeros(n_items)
    keep = np.asarray(accepted, bool) & (sizes > 1) if len(sizes) else np.zeros(0, bool)
    if keep.any():
        pad = slot[keep][:, : int(sizes[keep].max())]
        i, j = np.triu_indices(pad.shape[1], 1)
        ri, rj = pad[:, i].ravel(), pad[:, j].ravel()
        ok = (ri >= 0) & (rj >= 0)
        ri, rj = ri[ok], rj[ok]
        g = group[ri]
        wa = np.minimum(row_w[ri], row_w[rj])
        wb = np.maximum(row_w[ri], row_w[rj])
        keys, shared = np.unique((g * nw + wa) * nw + wb, return_counts=True)
        kg, rest = np.divmod(keys, nw * nw)
        ka, kb = np.divmod(rest, nw)
        na = gw_cnt[np.searchsorted(gw_keys, kg * nw + ka)]
        nb = gw_cnt[np.searchsorted(gw_keys, kg * nw + kb)]
        total = np.bincount(kg, 2 * shared / (na + nb), minlength=n_items)
    # Annotators who drew nothing on an item agree with each other perfectly.
    akey = ann_item * nw + ann_w
    pos = np.clip(np.searchsorted(gw_keys, akey), 0, max(len(gw_keys) - 1, 0))
    drew = gw_keys[pos] == akey if len(gw_keys) else np.zeros(len(akey), bool)
    empty = np.bincount(ann_item[~drew], minlength=n_items).astype(np.float64)
    m = ann_sizes.astype(np.float64)
    ok = ann_sizes >= 2
    out[ok] = (total[ok] + empty[ok] * (empty[ok] - 1) / 2) / (m[ok] * (m[ok] - 1) / 2)
    return out


def _alpha_detection(boxes, group, mb, valid, n_ann_of_cluster) -> float:
    """Krippendorff's alpha with ``delta = 1 - IoU`` (absent vs absent 0, vs object 1).

    Units are clusters; every annotator of the item gives one value (an object or absent).
    Expected disagreement pairs values across all units; objects on different items share no
    pixel, so only same-item object pairs have IoU above zero.
    """
    if not len(mb):
        return float("nan")
    x1, y1, x2, y2 = (np.ascontiguousarray(mb[..., e]) for e in range(4))  # (c, s) each
    iw = np.minimum(x2[:, :, None], x2[:, None, :])
    iw -= np.maximum(x1[:, :, None], x1[:, None, :])
    ih = np.minimum(y2[:, :, None], y2[:, None, :])
    ih -= np.maximum(y1[:, :, None], y1[:, None, :])
    inter = np.maximum(iw, 0, out=iw)
    inter *= np.maximum(ih, 0, out=ih)
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = area[:, :, None] + area[:, None, :] - inter
    pos = union > 0
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=pos)
    pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(mb.shape[1], dtype=bool)[None]
    s = valid.sum(1)
    absent = n_ann_of_cluster - s
    m = s + absent
    within = ((1 - iou) * pair).sum((1, 2)) + 2 * s * absent
    ok = m >= 2
    n_tot = m[ok].sum()
    if n_tot < 2:
        return float("nan")
    d_o = (within[ok] / (m[ok] - 1)).sum() / n_tot
    n_obj, n_abs = s[ok].sum(), absent[ok].sum()
    same_item_iou = (iou * pair).sum()  # pairs within clusters; others in an item add little
    d_e = (2 * n_obj * n_abs + n_obj * (n_obj - 1) - same_item_iou) / (n_tot * (n_tot - 1))
    return 1.0 if d_e == 0 else float(1 - d_o / d_e)


def _alpha_nominal(category, cluster_of, c) -> float:
    """Nominal Krippendorff's alpha over clusters (units) of members' categories."""
    if not c:
        return float("nan")
    classes, cinv = np.unique(category, return_inverse=True)
    counts = np.zeros((c, len(classes)))
    np.add.at(counts, (cluster_of, cinv), 1.0)
    m = counts.sum(1)
    ok = m >= 2
    if not ok.any():
        return float("nan")
    nu = counts[ok] / (m[ok] - 1)[:, None]
    o = nu.T @ counts[ok] - np.diag(nu.sum(0))
    n = o.sum()
    nc = o.sum(1)
    d_o = (n - np.trace(o)) / n
    d_e = (n * n - (nc**2).sum()) / (n * (n - 1))
    return 1.0 if d_e == 0 else float(1 - d_o / d_e)
