"""Batch API: merge many items' annotations into consensus objects in one call.

Boxes go through the array pass of :mod:`workflows.consensus.boxes_batch` (all items at once);
masks, polygons and keypoints are clustered per item by average linkage on their IoU / OKS
matrix (see :mod:`workflows.consensus.matching`) and fused per cluster.

Determinism: no random numbers anywhere. Clusters are numbered by their first row; ties in
linkage go to the lowest row indices, ties in votes to the smallest label; objects in a result
are sorted by descending score, then by first member row. The same input in the same order
gives bit-identical output; permuting annotators changes it only within float tolerance (sums
taken in a different order) or on exact ties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from workflows.consensus.boxes_batch import merge_box_arrays
from workflows.consensus.fusion.boxes import fuse_boxes, pad_clusters
from workflows.consensus.fusion.keypoints import fuse_keypoints
from workflows.consensus.fusion.labels import DawidSkene, majority_vote
from workflows.consensus.fusion.masks import fuse_masks
from workflows.consensus.geometry import COCO_PERSON_SIGMAS, box_area, keypoint_oks
from workflows.consensus.masks import mask_iou, mask_to_polygons, rle_area, rle_to_box
from workflows.consensus.matching import cluster_objects, clusters_from_labels
from workflows.consensus.quality import WorkerQuality
from workflows.consensus.types import (
    FusedObject,
    ItemAnnotations,
    ItemResult,
    MergeParams,
    ShapeKind,
)

__all__ = ["merge_items", "fused_to_coco"]


def merge_items(
    items: Sequence[ItemAnnotations],
    params: MergeParams | None = None,
    weights: Mapping[int, float] | None = None,
    *,
    rounds: int = 0,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> list[ItemResult]:
    """Merge every item; returns one :class:`ItemResult` per item, in input order.

    Parameters
    ----------
    items
        Items of any shape kinds (each item has one kind).
    params
        Defaults to ``MergeParams()``.
    weights
        ``{worker: weight}`` for coordinates, pixel votes and the quorum; missing workers
        weigh 1. When ``None`` and ``rounds > 0``, weights are estimated by EM
        (:class:`~workflows.consensus.quality.WorkerQuality` on agreement with consensus).
    rounds
        EM rounds of quality estimation (ignored when ``weights`` is given).
    progress
        Optional iterable wrapper (e.g. tqdm) for the per-item loop.
    """
    params = params or MergeParams()
    wrap = progress or (lambda it: it)
    out: list[ItemResult | None] = [None] * len(items)
    box_pos = [i for i, it in enumerate(items) if it.kind is ShapeKind.BOX]
    if box_pos:
        for pos, res in zip(
            box_pos, _merge_boxes([items[i] for i in box_pos], params, weights, rounds), strict=True
        ):
            out[pos] = res
    other = [i for i, it in enumerate(items) if it.kind is not ShapeKind.BOX]
    if other:
        sub = [items[i] for i in other]
        clusters = [_cluster(it, params) for it in wrap(sub)]
        w = dict(weights) if weights is not None else None
        res = [_fuse_item(it, cl, params, w) for it, cl in zip(sub, clusters, strict=True)]
        for _ in range(rounds if weights is None else 0):
            w = _estimate_shape_quality(sub, res).weight_map()
            res = [_fuse_item(it, cl, params, w) for it, cl in zip(sub, clusters, strict=True)]
        # Polygons are traced once, for the final accepted objects only.
        res = [_with_polygons(it, r) for it, r in zip(sub, res, strict=True)]
        for pos, r in zip(other, res, strict=True):
            out[pos] = r
    results = [r for r in out if r is not None]
    if params.label_method == "dawid_skene":
        results = _dawid_skene_labels(items, results)
    return results


def _merge_boxes(items, params, weights, rounds) -> list[ItemResult]:
    n = [len(it) for it in items]
    res = merge_box_arrays(
        np.concatenate([it.boxes for it in items]),
        np.concatenate([it.worker_idx for it in items]),
        np.concatenate([it.category_idx for it in items]),
        np.repeat(np.arange(len(items)), n),
        [it.annotators for it in items],
        params,
        weights=weights,
        rounds=rounds,
    )
    offset = np.r_[0, np.cumsum(n)]
    per_item: list[list[FusedObject]] = [[] for _ in items]
    for c, m in enumerate(res.members):
        g = int(res.group[c])
        local = m - offset[g]
        per_item[g].append(
            FusedObject(
                box=res.box[c],
                category_idx=int(res.category[c]),
                members=local,
                workers=items[g].worker_idx[local],
                support=int(res.support[c]),
                support_fraction=float(res.support_fraction[c]),
                agreement=float(res.agreement[c]),
                uncertainty=res.uncertainty[c],
                accepted=bool(res.accepted[c]),
            )
        )
    return [_result(it, objs, params) for it, objs in zip(items, per_item, strict=True)]


def _result(item: ItemAnnotations, objs: list[FusedObject], params: MergeParams) -> ItemResult:
    objs.sort(key=lambda o: (-o.score, int(o.members[0])))
    return ItemResult(item.item_id, item.kind, tuple(objs), len(item.annotators), params)


def _similarity(item: ItemAnnotations, params: MergeParams) -> np.ndarray:
    if item.kind is ShapeKind.KEYPOINTS:
        sig = params.oks_sigmas
        k = item.keypoints.shape[1]
        sigmas = np.asarray(sig) if sig else (COCO_PERSON_SIGMAS if k == 17 else np.full(k, 0.05))
        area = box_area(item.boxes)
        return keypoint_oks(item.keypoints, item.keypoints, area, area, sigmas)
    return mask_iou(item.masks)


#: For items where every annotator drew at most one object (presumably one object on the
#: image), masks cluster at this fraction of the IoU threshold: clustering then only splits
#: off clearly unrelated shapes, and the pixel vote settles the rest.
SINGLE_OBJECT_IOU_FACTOR = 0.5


def _single_object(item: ItemAnnotations) -> bool:
    return len(item) > 0 and len(np.unique(item.worker_idx)) == len(item)


def _cluster(item: ItemAnnotations, params: MergeParams) -> list[np.ndarray]:
    if not len(item):
        return []
    cats = None if params.class_agnostic else item.category_idx
    threshold = params.iou_threshold
    if item.kind is not ShapeKind.KEYPOINTS and _single_object(item):
        threshold *= SINGLE_OBJECT_IOU_FACTOR
    labels = cluster_objects(_similarity(item, params), item.worker_idx, threshold, cats)
    return clusters_from_labels(labels)


def _with_polygons(item: ItemAnnotations, res: ItemResult) -> ItemResult:
    """Trace polygons of accepted fused masks when the input was polygons."""
    if item.polygons is None or item.kind is ShapeKind.KEYPOINTS:
        return res
    objs = []
    for o in res.objects:
        if o.accepted and o.mask is not None and rle_area([o.mask])[0] > 0:
            o = _replace(o, polygon=tuple(mask_to_polygons(o.mask)))
        objs.append(o)
    return ItemResult(res.item_id, res.kind, tuple(objs), res.n_annotators, res.params)


def _fuse_item(item, clusters, params, weights) -> ItemResult:
    wrow = (
        np.array([weights.get(int(x), 1.0) for x in item.worker_idx.tolist()])
        if weights is not None
        else np.ones(len(item))
    )
    total = (
        sum(weights.get(int(x), 1.0) for x in item.annotators.tolist())
        if weights is not None
        else float(len(item.annotators))
    )
    objs = []
    for m in clusters:
        support = len(m)
        frac = min(float(wrow[m].sum() / max(total, 1e-12)), 1.0)
        q = params.quorum
        accepted = support >= q if isinstance(q, int | np.integer) else frac >= float(q) - 1e-9
        cat = int(majority_vote(np.zeros(support, np.int64), item.category_idx[m], wrow[m])[0][0])
        mask = polygon = kp = None
        mb, mw = pad_clusters(item.boxes, wrow, [m])
        _, spread = fuse_boxes(mb, mw, "weighted_mean")
        if item.kind is ShapeKind.KEYPOINTS:
            kp = fuse_keypoints(item.keypoints[m], wrow[m])
            box, _ = fuse_boxes(mb, mw, params.box_method)
            box = box[0]
            sig = params.oks_sigmas
            k = kp.shape[0]
            sigmas = (
                np.asarray(sig) if sig else (COCO_PERSON_SIGMAS if k == 17 else np.full(k, 0.05))
            )
            area = box_area(box[None])
            sims = keypoint_oks(item.keypoints[m], kp[None], box_area(item.boxes[m]), area, sigmas)
        else:
            mask, _ = fuse_masks([item.masks[i] for i in m], wrow[m], params.mask_method)
            box = rle_to_box([mask])[0]
            sims = mask_iou([item.masks[i] for i in m], [mask])
        objs.append(
            FusedObject(
                box=box,
                category_idx=cat,
                members=m,
                workers=item.worker_idx[m],
                support=support,
                support_fraction=frac,
                agreement=float(np.mean(sims)),
                uncertainty=spread[0],
                accepted=bool(accepted),
                mask=mask,
                polygon=polygon,
                keypoints=kp,
            )
        )
    if (
        objs
        and item.kind is not ShapeKind.KEYPOINTS
        and _single_object(item)
        and not any(o.accepted for o in objs)
    ):
        # One object drawn by everyone, but split so that no cluster has the quorum: keep the
        # best-supported cluster (then the most agreeing), flagged by its support fraction
        # below the quorum (``low_support`` in COCO output), rather than output nothing.
        best = max(
            range(len(objs)), key=lambda i: (objs[i].support_fraction, objs[i].agreement, -i)
        )
        objs[best] = _replace(objs[best], accepted=True)
    return _result(item, objs, params)


def _estimate_shape_quality(items, results) -> WorkerQuality:
    """Quality for masks and keypoints: squared disagreement ``(1 - IoU)^2`` to consensus."""
    workers, err, hit = [], [], []
    for item, res in zip(items, results, strict=True):
        for o in res.objects:
            ok = o.accepted and o.support >= 2
            if o.mask is not None:
                sims = mask_iou([item.masks[i] for i in o.members], [o.mask])[:, 0]
            elif o.keypoints is not None:
                sims = np.full(len(o.members), o.agreement)
            else:
                continue
            workers.extend(o.workers.tolist())
            err.extend(((1 - sims) ** 2).tolist())
            hit.extend([ok] * len(o.members))
    return WorkerQuality().fit(np.asarray(workers, np.int64), err, hit)


def _dawid_skene_labels(items, results) -> list[ItemResult]:
    task, worker, label = [], [], []
    for t, (it, res) in enumerate(
        (it, o) for it, r in zip(items, results, strict=True) for o in r.objects
    ):
        task.extend([t] * len(res.members))
        worker.extend(it.worker_idx[res.members].tolist())
        label.extend(it.category_idx[res.members].tolist())
    if not task:
        return results
    ds = DawidSkene().fit(task, worker, label)
    out, t = [], 0
    for r in results:
        objs = []
        for o in r.objects:
            probs = {int(c): float(p) for c, p in zip(ds.classes_, ds.probas_[t], strict=True)}
            objs.append(_replace(o, category_idx=int(ds.labels_[t]), category_probs=probs))
            t += 1
        out.append(ItemResult(r.item_id, r.kind, tuple(objs), r.n_annotators, r.params))
    return out


def _replace(obj: FusedObject, **changes: Any) -> FusedObject:
    from dataclasses import replace

    return replace(obj, **changes)


def _below_quorum(o: FusedObject, params: MergeParams) -> bool:
    q = params.quorum
    if isinstance(q, int | np.integer):
        return o.support < q
    return o.support_fraction < float(q) - 1e-9


def fused_to_coco(result: ItemResult, item: ItemAnnotations) -> list[dict]:
    """COCO annotation dicts (without ``id``) of an item's accepted objects.

    An object accepted without reaching the quorum (the best cluster of a single-object mask
    item, see :func:`merge_items`) carries ``"low_support": true``.
    """
    out = []
    for o in result.accepted:
        x1, y1, x2, y2 = (float(v) for v in o.box)
        ann: dict[str, Any] = {
            "image_id": result.item_id,
            "category_id": int(o.category_idx),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "area": (x2 - x1) * (y2 - y1),
            "iscrowd": 0,
            "score": o.score,
            "support": o.support,
            "support_fraction": o.support_fraction,
            "agreement": o.agreement,
            "uncertainty": [float(v) for v in o.uncertainty],
            "source_annotation_ids": item.ann_ids[o.members].tolist(),
        }
        if _below_quorum(o, result.params):
            ann["low_support"] = True
        if o.mask is not None:
            ann["area"] = float(rle_area([o.mask])[0])
            if o.polygon:
                ann["segmentation"] = [p.tolist() for p in o.polygon]
            else:
                counts = o.mask["counts"]
                ann["segmentation"] = {
                    "size": list(o.mask["size"]),
                    "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
                }
        if o.keypoints is not None:
            ann["keypoints"] = o.keypoints.ravel().tolist()
            ann["num_keypoints"] = int((o.keypoints[:, 2] > 0).sum())
        if o.category_probs is not None:
            ann["category_probs"] = {str(k): v for k, v in o.category_probs.items()}
        out.append(ann)
    return out
