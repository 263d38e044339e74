"""Crowd simulation: :func:`simulate_crowd` assigns workers to every image of a ground-truth
COCO dict and collects what each of them draws there (the noise model is in
:mod:`workflows.consensus.simulate.noise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from workflows.consensus.simulate.noise import ImageContext, annotate_image
from workflows.consensus.simulate.workers import CrowdProfile, WorkerProfile, make_workers

__all__ = ["SimulatedCrowd", "simulate_crowd"]


class SimulatedCrowd(NamedTuple):
    """What :func:`simulate_crowd` returns: the crowd's COCO dict and each worker's profile."""

    coco: dict[str, Any]
    workers: tuple[WorkerProfile, ...]


def simulate_crowd(
    gt: dict[str, Any],
    profile: CrowdProfile,
    rng: np.random.Generator,
    *,
    workers: Sequence[WorkerProfile] | None = None,
) -> SimulatedCrowd:
    """Make crowd annotations for every image of a ground-truth COCO dict.

    Parameters
    ----------
    gt : dict
        COCO with ``images`` (``width``, ``height``), ``annotations`` (``bbox``; optional
        ``segmentation`` as polygons or RLE, ``keypoints``) and ``categories``.
    profile : CrowdProfile
        Crowd size and worker mix; ignored for drawing workers when ``workers`` is given.
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives the same output.
    workers : sequence of WorkerProfile, optional
        Use these workers instead of drawing them with :func:`make_workers`.

    Returns
    -------
    SimulatedCrowd
        ``coco``: the crowd's COCO dict (images gain ``annotator_ids`` in assignment order;
        annotations gain ``annotator_id``; ids are renumbered from 1). ``workers``: profiles.
    """
    pool = tuple(workers) if workers is not None else make_workers(profile, rng)
    if not pool:
        raise ValueError("the crowd needs at least one worker")
    per_image = min(profile.workers_per_image, len(pool))
    categories = gt.get("categories", [])
    if not categories:
        raise ValueError("ground truth needs at least one category")
    cat_ids = [int(c["id"]) for c in categories]
    n_kps = {int(c["id"]): len(c.get("keypoints", [])) for c in categories}
    by_image: dict[Any, list[dict[str, Any]]] = {img["id"]: [] for img in gt["images"]}
    for ann in gt.get("annotations", []):
        if ann["image_id"] not in by_image:
            raise ValueError(f"annotation {ann.get('id')} refers to an unknown image")
        by_image[ann["image_id"]].append(ann)

    images, annotations = [], []
    for img in gt["images"]:
        chosen = rng.choice(len(pool), size=per_image, replace=False)
        image = dict(img, annotator_ids=[pool[i].annotator_id for i in chosen])
        images.append(image)
        ctx = ImageContext(img["width"], img["height"], by_image[img["id"]], cat_ids, n_kps)
        for i in chosen:
            for ann in annotate_image(ctx, pool[i], rng):
                ann.update(id=len(annotations) + 1, image_id=img["id"])
                ann["annotator_id"] = pool[i].annotator_id
                annotations.append(ann)
    coco = {key: value for key, value in gt.items() if key not in ("images", "annotations")}
    coco.update(images=images, annotations=annotations, categories=categories)
    return SimulatedCrowd(coco=coco, workers=pool)
