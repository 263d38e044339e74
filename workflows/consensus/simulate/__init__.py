"""Crowd simulator: realistic multi-annotator COCO labels made from a ground-truth COCO set.

Benchmarks, tests and the demo use it when they need to know the truth behind a crowd. Every
simulated annotation carries ``annotator_id``, every image lists its ``annotator_ids`` (so that a
worker who drew nothing still counts as a "nothing here" vote), and the :class:`WorkerProfile` that
generated each annotator is returned beside the data so quality estimates can be checked.

Error model, per worker (all rates are probabilities per ground-truth object unless stated):

- localisation: each box edge moves by ``N(0, jitter * size)``; the object is scaled about its
  centre by ``exp(scale_bias)`` (loose or tight boxes), applied as one affine map so boxes,
  polygons, masks and keypoints of an object move together;
- polygons: vertex noise ``N(0, vertex_noise * sqrt(w * h))`` and Douglas-Peucker simplification
  with tolerance ``simplify * sqrt(w * h)`` (workers click fewer points than the truth has);
- masks (RLE): the same affine map plus a random erosion or dilation of the boundary;
- missed objects (``miss_rate``), extra objects (Poisson with mean ``extra_rate`` per image),
  a second box on one object (``duplicate_rate``), one box over two touching objects
  (``merge_rate``) and a wrong class (``confusion_rate``);
- spammers draw random shapes with random classes, about as many as the image holds;
  experts are careful workers with small noise and almost no misses.

Modules: :mod:`~workflows.consensus.simulate.workers` (worker and crowd profiles),
:mod:`~workflows.consensus.simulate.crowd` (:func:`simulate_crowd`),
:mod:`~workflows.consensus.simulate.noise` (the per-image noise model),
:mod:`~workflows.consensus.simulate.shapes` (geometry helpers) and
:mod:`~workflows.consensus.simulate.truth` (:func:`make_synthetic_gt`).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> gt = make_synthetic_gt(4, rng)
>>> crowd = simulate_crowd(gt, CrowdProfile(n_workers=6, workers_per_image=3), rng)
>>> len(crowd.workers), len(crowd.coco["images"][0]["annotator_ids"])
(6, 3)
"""

from workflows.consensus.simulate.crowd import SimulatedCrowd, simulate_crowd
from workflows.consensus.simulate.truth import make_synthetic_gt
from workflows.consensus.simulate.workers import (
    WORKER_KINDS,
    CrowdProfile,
    WorkerProfile,
    make_workers,
)

__all__ = [
    "WORKER_KINDS",
    "CrowdProfile",
    "SimulatedCrowd",
    "WorkerProfile",
    "make_synthetic_gt",
    "make_workers",
    "simulate_crowd",
]
