"""COCO <-> arrays: the adapters between COCO dicts and the engine's inputs and outputs.

:func:`annotator_index` maps annotator ids to worker indices, :func:`coco_to_items` builds one
:class:`~workflows.consensus.types.ItemAnnotations` per image, and the box fast path of
:func:`~workflows.consensus.coco.merge_coco` reads and writes flat row arrays instead
(:func:`box_arrays`, :func:`box_annotations`); :func:`result_arrays` flattens per-item
results into the arrays the report reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np

from workflows.consensus.geometry import xywh_to_xyxy
from workflows.consensus.types import ItemAnnotations, ShapeKind

__all__ = [
    "annotator_index",
    "box_annotations",
    "box_arrays",
    "coco_to_items",
    "result_arrays",
]


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


def box_arrays(images: list[dict], anns: list[dict], index: dict[Any, int]):
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


def box_annotations(images, ann_ids, res) -> list[dict]:
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


def result_arrays(items, results):
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
