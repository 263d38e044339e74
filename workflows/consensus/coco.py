"""COCO interchange: merge a multi-annotator COCO dataset into one consensus COCO dataset.

Input annotations carry ``annotator_id``; an image may carry ``annotator_ids`` (everyone who
labelled it, so an annotator who drew nothing votes "nothing here"; without it the annotators
seen on the image are assumed). Output is a COCO dataset that ``pycocotools.coco.COCO`` loads
(and ``COCO.loadRes`` accepts its ``annotations`` list) with, on every annotation, ``score``
(support x agreement), ``source_annotation_ids``, ``support``, ``support_fraction``,
``agreement`` and, for boxes, ``uncertainty`` (weighted spread of member edges, pixels).

This module holds the :func:`merge_coco` driver; the conversions between COCO dicts and the
engine's arrays are in :mod:`workflows.consensus.coco_arrays` (``coco_to_items`` and
``annotator_index`` are re-exported here).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

import numpy as np

from workflows.consensus.boxes_batch import merge_box_arrays
from workflows.consensus.coco_arrays import (
    annotator_index,
    box_annotations,
    box_arrays,
    coco_to_items,
    result_arrays,
)
from workflows.consensus.fusion.boxes import BOX_METHODS
from workflows.consensus.fusion.masks import MASK_METHODS
from workflows.consensus.merge import fused_to_coco, merge_items
from workflows.consensus.report import build_report
from workflows.consensus.types import MergeParams, ShapeKind

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
        arrays = box_arrays(images, anns, index)
        rounds = (
            (2 if _enough_rows_for_quality(len(images), arrays[3], arrays[1]) else 0)
            if quality_rounds is None
            else quality_rounds
        )
        res = merge_box_arrays(*arrays[:5], params, weights=weights, rounds=rounds)
        out_anns = box_annotations(images, arrays[5], res)
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
            result_arrays(items, results)
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
