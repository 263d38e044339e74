"""COCO interchange: merge a multi-annotator COCO dataset into one consensus COCO dataset.

Input annotations carry ``annotator_id``; an image may carry ``annotator_ids`` (everyone who
labelled it, so an annotator who drew nothing votes "nothing here"; without it the annotators
seen on the image are assumed). Output is a COCO dataset that ``pycocotools.coco.COCO`` loads
(and ``COCO.loadRes`` accepts its ``annotations`` list) with, on every annotation, ``score``
(support x agreement), ``source_annotation_ids``, ``support``, ``support_fraction``,
``agreement`` and, for boxes, ``uncertainty`` (weighted spread of member edges, pixels).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np

from workflows.consensus.boxes_batch import merge_box_arrays
from workflows.consensus.fusion.boxes import BOX_METHODS
from workflows.consensus.fusion.masks import MASK_METHODS
from workflows.consensus.geometry import xywh_to_xyxy
from workflows.consensus.merge import fused_to_coco, merge_items
from workflows.consensus.report import build_report
from workflows.consensus.types import ItemAnnotations, MergeParams, ShapeKind

__all__ = ["METHODS", "merge_coco", "coco_to_items", "annotator_index"]

#: ``method`` values of :func:`merge_coco`. ``auto`` picks the geometry from the data (keypoints,
#: then segmentation, then boxes) and uses ``robust`` boxes, ``vote`` masks, weighted-mean
#: keypoints and weighted-vote labels. A box method merges as boxes (segmentation ignored); a
#: mask method needs segmentation; ``dawid_skene`` is ``auto`` with Dawid-Skene class labels
#: (useful with ``class_agnostic``).
METHODS = ("auto", *BOX_METHODS, *MASK_METHODS, "dawid_skene")

#: Below this many images ``merge_coco`` does not estimate worker quality by default: a
#: handful of items says too little about anyone.
MIN_ITEMS_FOR_QUALITY = 20
#: ... and unless the median worker labelled at least this many of them.
MIN_ITEMS_PER_WORKER = 3


def merge_coco(
    dataset: dict,
    *,
    iou: float = 0.5,
    quorum: float = 0.5,
    method: str = "auto",
    class_agnostic: bool = False,
    weights: dict | None = None,
    progress: bool = False,
    quality_rounds: int | None = None,
) -> tuple[dict, dict]:
    """Merge a multi-annotator COCO dataset into consensus annotations.

    Parameters
    ----------
    dataset
        COCO dict (``images``, ``annotations`` with ``annotator_id``, ``categories``).
    iou
        Matching threshold: a cluster's members must overlap its consensus shape by this on
        average (boxes); for masks and keypoints, the average pairwise IoU / OKS.
    quorum
        ``float`` in ``(0, 1]``: share of the image's annotators (weighted when weights are
        used); ``int >= 1``: a count of annotators.
    method
        One of :data:`METHODS`.
    class_agnostic
        Match across categories and vote the category.
    weights
        ``{annotator_id: weight}``; when given, no quality is estimated.
    progress
        Show a tqdm progress bar on stderr (needs tqdm; used by the command line).
    quality_rounds
        At most this many EM rounds of worker-quality estimation when ``weights`` is None
        (consensus, quality, weighted consensus; stops early once weights settle). Default:
        2 when there are at least ``MIN_ITEMS_FOR_QUALITY`` images and the median worker
        labelled at least ``MIN_ITEMS_PER_WORKER`` of them, else 0.

    Returns
    -------
    result : dict
        COCO dataset: the input's ``images`` and ``categories``, consensus ``annotations``.
    report : dict
        Parameters, per-image, per-worker and per-project agreement (JSON-ready).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    images = list(dataset.get("images", []))
    anns = list(dataset.get("annotations", []))
    kind = _kind(anns, method)
    params = MergeParams(
        iou_threshold=iou,
        quorum=quorum,
        class_agnostic=class_agnostic,
        box_method=method if method in BOX_METHODS else "robust",
        mask_method=method if method in MASK_METHODS else "vote",
        label_method="dawid_skene" if method == "dawid_skene" else "vote",
    )
    wrap = _progress_wrapper(progress)
    index = annotator_index(images, anns)
    if weights is not None:
        weights = {index[k]: float(v) for k, v in weights.items() if k in index}
    if kind is ShapeKind.BOX and params.label_method == "vote":
        arrays = _box_arrays(images, anns, index)
        rounds = (
            (2 if _enough_rows_for_quality(len(images), arrays[3], arrays[1]) else 0)
            if quality_rounds is None
            else quality_rounds
        )
        res = merge_box_arrays(*arrays[:5], params, weights=weights, rounds=rounds)
        out_anns = _box_annotations(images, arrays[5], res)
        members, cgroup, accepted = res.members, res.group, res.accepted
        agreement, fused, quality = res.agreement, res.box, res.quality
        boxes, workers, cats, group, annotators = arrays[:5]
    else:
        rounds = (
            (2 if _enough_for_quality(images, anns) else 0)
            if quality_rounds is None
            else quality_rounds
        )
        items = coco_to_items(images, anns, kind, wrap)
        results = merge_items(items, params, weights, rounds=rounds, progress=wrap)
        out_anns = [a for r, it in zip(results, items, strict=True) for a in fused_to_coco(r, it)]
        boxes, workers, cats, group, annotators, members, cgroup, accepted, agreement, fused = (
            _result_arrays(items, results)
        )
        # Every worker gets a weight in the report, whatever the geometry.
        from workflows.consensus.merge import _estimate_shape_quality

        quality = _estimate_shape_quality(items, results) if len(workers) else None
    for i, a in enumerate(out_anns, start=1):
        a["id"] = i
    result = {
        "info": {**dataset.get("info", {}), "consensus": params.to_dict()},
        "images": images,
        "categories": list(dataset.get("categories", [])),
        "annotations": out_anns,
    }
    report = build_report(
        boxes=boxes,
        worker=workers,
        category=cats,
        group=group,
        annotators=annotators,
        item_ids=[im["id"] for im in images],
        members=members,
        cluster_group=cgroup,
        accepted=accepted,
        agreement=agreement,
        fused_box=fused,
        params=params.to_dict(),
        kind=kind.value,
        quality=quality,
    )
    report["project"]["quality_rounds"] = rounds if weights is None else 0
    original = {v: k for k, v in index.items()}
    for w in report["workers"]:
        w["annotator_id"] = original.get(w["annotator_id"], w["annotator_id"])
    return result, report


def _enough_for_quality(images: list[dict], anns: list[dict]) -> bool:
    """Estimate worker quality by default only with ``MIN_ITEMS_FOR_QUALITY`` images and a
    typical (median) worker on at least ``MIN_ITEMS_PER_WORKER`` of them; otherwise the
    estimates are mostly prior and the extra rounds cost time for nothing."""
    if len(images) < MIN_ITEMS_FOR_QUALITY:
        return False
    pairs = {(a.get("image_id"), a.get("annotator_id")) for a in anns}
    per_worker: dict[Any, int] = {}
    for _, w in pairs:
        per_worker[w] = per_worker.get(w, 0) + 1
    return bool(per_worker) and float(np.median(list(per_worker.values()))) >= MIN_ITEMS_PER_WORKER


def _enough_rows_for_quality(n_images: int, group: np.ndarray, worker: np.ndarray) -> bool:
    """:func:`_enough_for_quality` from the row arrays of the box path."""
    if n_images < MIN_ITEMS_FOR_QUALITY or not len(worker):
        return False
    wids = np.unique(worker)
    pairs = np.unique(group * len(wids) + np.searchsorted(wids, worker))
    per_worker = np.bincount(pairs % len(wids), minlength=len(wids))
    return float(np.median(per_worker)) >= MIN_ITEMS_PER_WORKER


def _any_key(anns: list[dict], key: str) -> bool:
    """Whether any annotation has a truthy ``key`` (one C-level pass)."""
    return any(map(dict.get, anns, repeat(key)))


def _kind(anns: list[dict], method: str) -> ShapeKind:
    if method in BOX_METHODS:
        return ShapeKind.BOX
    if method not in MASK_METHODS and _any_key(anns, "keypoints"):
        return ShapeKind.KEYPOINTS
    if _any_key(anns, "segmentation"):
        return ShapeKind.MASK
    if method in MASK_METHODS:
        raise ValueError(f"method {method!r} needs annotations with segmentation")
    return ShapeKind.BOX


def _progress_wrapper(progress: bool) -> Callable[[Iterable[Any]], Iterable[Any]]:
    if not progress:
        return lambda it: it
    from tqdm import tqdm  # the only optional dependency, and only for the progress bar

    return lambda it: tqdm(it, file=sys.stderr, mininterval=0.5, leave=False)


def annotator_index(images: list[dict], anns: list[dict]) -> dict[Any, int]:
    """``{annotator_id: worker index}``: integer ids map to themselves, otherwise ids are
    numbered in sorted order (by ``str``), so the same dataset always maps the same way."""
    try:
        ids = set(map(itemgetter("annotator_id"), anns))
    except KeyError:
        ids = {a["annotator_id"] for a in anns if "annotator_id" in a}
    ids.update(chain.from_iterable(map(dict.get, images, repeat("annotator_ids"), repeat(()))))
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in ids):
        return {v: int(v) for v in ids}
    return {v: i for i, v in enumerate(sorted(ids, key=str))}


def coco_to_items(
    images: list[dict],
    anns: list[dict],
    kind: ShapeKind,
    wrap: Callable[[Iterable[Any]], Iterable[Any]] = lambda it: it,
) -> list[ItemAnnotations]:
    """One :class:`ItemAnnotations` per image, in the order of ``images``.

    ``worker_idx`` holds the integer ``annotator_id`` (strings are mapped to stable integers by
    sorted order). Polygons are rasterised to RLE once here.

    For mask and polygon kinds, an annotation with only a ``bbox`` (a dataset mixing polygons
    and box-only objects) takes part as its filled rectangle, so box-only objects are merged
    (and output with a rectangle segmentation) instead of vanishing as empty masks. An
    annotation with neither raises ``ValueError``.
    """
    from workflows.consensus.masks import polygon_to_rle, rle_to_box

    to_idx = annotator_index(images, anns)
    by_image: dict[Any, list[dict]] = {im["id"]: [] for im in images}
    for a in anns:
        if "annotator_id" not in a:
            raise ValueError(f"annotation {a.get('id')} has no annotator_id")
        by_image.setdefault(a["image_id"], []).append(a)
    items = []
    for im in wrap(images):
        rows = by_image.get(im["id"], [])
        h, w = int(im.get("height", 0)), int(im.get("width", 0))
        masks = polys = kps = None
        if kind in (ShapeKind.MASK, ShapeKind.POLYGON):
            masks, polys = [], []
            for a in rows:
                seg = a.get("segmentation")
                if isinstance(seg, dict):
                    rle = dict(seg)
                    if isinstance(rle.get("counts"), list):
                        from pycocotools import mask as mask_utils

                        rle = mask_utils.frPyObjects(rle, *rle["size"])
                    masks.append(rle)
                    polys.append(())
                else:
                    parts = seg or _box_polygon(a)
                    masks.append(polygon_to_rle(parts, h, w))
                    polys.append(tuple(np.asarray(p, dtype=np.float64) for p in parts))
            boxes = rle_to_box(masks) if masks else np.zeros((0, 4))
            polys = polys if all(polys) else None
        else:
            boxes = xywh_to_xyxy([a.get("bbox", [0, 0, 0, 0]) for a in rows])
        if kind is ShapeKind.KEYPOINTS:
            k = max((len(a.get("keypoints") or []) for a in rows), default=0) // 3
            kps = np.zeros((len(rows), k, 3))
            for i, a in enumerate(rows):
                v = np.asarray(a.get("keypoints") or [], dtype=np.float64).reshape(-1, 3)
                kps[i, : len(v)] = v
        voters = [to_idx[x] for x in im.get("annotator_ids", [])]
        workers = [to_idx[a["annotator_id"]] for a in rows]
        items.append(
            ItemAnnotations(
                item_id=im["id"],
                boxes=boxes,
                worker_idx=np.asarray(workers, dtype=np.int64),
                category_idx=np.asarray([a.get("category_id", 0) for a in rows], dtype=np.int64),
                kind=kind,
                annotators=np.unique(np.asarray(voters + workers, dtype=np.int64)),
                masks=tuple(masks) if masks is not None else None,
                polygons=polys,
                keypoints=kps,
                image_size=(h, w) if h and w else None,
                ann_ids=np.asarray([a.get("id", i) for i, a in enumerate(rows)], dtype=np.int64),
            )
        )
    return items


def _box_polygon(a: dict) -> list[list[float]]:
    """The filled rectangle of a box-only annotation, as a COCO polygon."""
    bbox = a.get("bbox")
    if not bbox or len(bbox) != 4:
        raise ValueError(
            f"annotation {a.get('id')} has neither a segmentation nor a bbox; a mask merge "
            "needs one of them on every annotation"
        )
    x, y, w, h = (float(v) for v in bbox)
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _box_arrays(images: list[dict], anns: list[dict], index: dict[Any, int]):
    """Row arrays of every box, without building per-image objects (the fast path).

    Each field is read in one C-level pass (``map`` with ``itemgetter`` / ``dict.get``) into
    ``np.fromiter``; no Python statement runs per annotation.
    """
    n = len(anns)
    try:
        raw_worker = list(map(itemgetter("annotator_id"), anns))
    except KeyError:
        bad = next(a for a in anns if "annotator_id" not in a)
        raise ValueError(f"annotation {bad.get('id')} has no annotator_id") from None
    identity = all(k is v or k == v for k, v in index.items())
    worker = np.fromiter(
        raw_worker if identity else map(index.__getitem__, raw_worker), np.int64, n
    )
    pos = {im["id"]: g for g, im in enumerate(images)}
    raw_image = list(map(itemgetter("image_id"), anns))
    try:
        group = np.fromiter(map(pos.__getitem__, raw_image), np.int64, n)
    except KeyError:
        bad = next(a for a in anns if a["image_id"] not in pos)
        raise ValueError(
            f"annotation {bad.get('id')} refers to unknown image {bad['image_id']}"
        ) from None
    bbox_lists = list(map(itemgetter("bbox"), anns))
    if set(map(len, bbox_lists)) <= {4}:
        bbox = np.fromiter(chain.from_iterable(bbox_lists), np.float64, 4 * n).reshape(n, 4)
    else:
        bbox = np.array(bbox_lists, dtype=np.float64).reshape(n, 4)
    cat = np.fromiter(map(dict.get, anns, repeat("category_id"), repeat(0)), np.int64, n)
    ids = np.fromiter(map(dict.get, anns, repeat("id"), range(n)), np.int64, n)
    boxes = xywh_to_xyxy(bbox)
    # Annotators per image: those who drew there, plus any listed in ``annotator_ids``.
    listed = list(map(dict.get, images, repeat("annotator_ids"), repeat(())))
    lg = np.repeat(np.arange(len(images)), list(map(len, listed)))
    flat = chain.from_iterable(listed)
    lw = np.fromiter(flat if identity else map(index.__getitem__, flat), np.int64, len(lg))
    allg, allw = np.concatenate([group, lg]), np.concatenate([worker, lw])
    wids = np.unique(allw)
    nw = max(len(wids), 1)
    pairs = np.unique(allg * nw + np.searchsorted(wids, allw))
    pg, pw = np.divmod(pairs, nw)
    bounds = np.searchsorted(pg, np.arange(len(images) + 1)).tolist()
    ann_w = wids[pw]
    annotators = [ann_w[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return boxes, worker, cat, group, annotators, ids


def _box_annotations(images, ann_ids, res) -> list[dict]:
    """COCO annotations of the accepted clusters, best first within each image.

    Every field is computed for all accepted clusters at once and turned into Python lists
    with one ``tolist`` each; the only per-annotation work is building its dict.
    """
    order = np.lexsort(
        (np.arange(len(res.group)), -res.support_fraction * res.agreement, res.group)
    )
    sel = order[res.accepted[order]]
    if not len(sel):
        return []
    # Source ids: rows sorted by cluster (ascending within one), sliced per cluster.
    labels = res.cluster_of_row
    by_cluster = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=len(res.group))
    ends = np.cumsum(sizes)
    src = ann_ids[by_cluster].tolist()
    box = res.box[sel]
    x1, y1, x2, y2 = box.T
    w, h = x2 - x1, y2 - y1
    frac, agr = res.support_fraction[sel], res.agreement[sel]
    image_ids = [im["id"] for im in images]
    return [
        {
            "image_id": image_ids[g],
            "category_id": cat,
            "bbox": bbox,
            "area": area,
            "iscrowd": 0,
            "score": score,
            "support": sup,
            "support_fraction": f,
            "agreement": a,
            "uncertainty": unc,
            "source_annotation_ids": src[e - z : e],
        }
        for g, cat, bbox, area, score, sup, f, a, unc, e, z in zip(
            res.group[sel].tolist(),
            res.category[sel].tolist(),
            np.stack([x1, y1, w, h], axis=1).tolist(),
            (w * h).tolist(),
            (frac * agr).tolist(),
            res.support[sel].tolist(),
            frac.tolist(),
            agr.tolist(),
            res.uncertainty[sel].tolist(),
            ends[sel].tolist(),
            sizes[sel].tolist(),
            strict=True,
        )
    ]


def _result_arrays(items, results):
    """Flatten per-item results into the row and cluster arrays the report reads."""
    n = [len(it) for it in items]
    offset = np.r_[0, np.cumsum(n)].astype(np.int64)
    members, cgroup, accepted, agreement, fused = [], [], [], [], []
    for g, r in enumerate(results):
        for o in r.objects:
            members.append(o.members + offset[g])
            cgroup.append(g)
            accepted.append(o.accepted)
            agreement.append(o.agreement)
            fused.append(o.box)
    cat = lambda xs, shape, dt: np.concatenate(xs) if xs else np.zeros(shape, dt)  # noqa: E731
    return (
        cat([it.boxes for it in items], (0, 4), np.float64),
        cat([it.worker_idx for it in items], 0, np.int64),
        cat([it.category_idx for it in items], 0, np.int64),
        np.repeat(np.arange(len(items)), n),
        [it.annotators for it in items],
        members,
        np.asarray(cgroup, np.int64),
        np.asarray(accepted, bool),
        np.asarray(agreement, np.float64),
        np.asarray(fused, np.float64).reshape(-1, 4),
    )
