"""Simulated annotators: the :class:`WorkerProfile` of one worker, the :class:`CrowdProfile`
a crowd is drawn from, and :func:`make_workers`, which draws the crowd.

The error model the profile fields describe is set out in :mod:`workflows.consensus.simulate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["WORKER_KINDS", "CrowdProfile", "WorkerProfile", "make_workers"]

WORKER_KINDS = ("normal", "expert", "spammer")

# Rates that must be probabilities; the other float fields only need to be finite and >= 0.
_PROBABILITY_FIELDS = ("miss_rate", "duplicate_rate", "merge_rate", "confusion_rate")


@dataclass(frozen=True)
class WorkerProfile:
    """How one simulated annotator labels; the simulator's ground truth about that worker.

    Parameters
    ----------
    annotator_id : int
        Written as ``annotator_id`` on every annotation this worker makes.
    kind : {"normal", "expert", "spammer"}
        Spammers ignore the image and draw random shapes with random classes; the other
        fields then only describe what such a worker's shapes look like.
    jitter : float
        Standard deviation of each box edge, as a fraction of the object's width or height.
    scale_bias : float
        Log of the systematic size factor: ``0.1`` draws boxes about 10% too large.
    miss_rate, duplicate_rate, merge_rate, confusion_rate : float
        Probabilities per ground-truth object of skipping it, drawing it twice, drawing one box
        over it and a touching neighbour, and giving it a wrong class.
    extra_rate : float
        Mean number of false objects per image (Poisson).
    vertex_noise, simplify, keypoint_noise : float
        Polygon vertex noise, Douglas-Peucker tolerance and keypoint noise, as fractions of
        ``sqrt(w * h)`` of the object.
    """

    annotator_id: int
    kind: str = "normal"
    jitter: float = 0.04
    scale_bias: float = 0.0
    miss_rate: float = 0.05
    extra_rate: float = 0.05
    duplicate_rate: float = 0.0
    merge_rate: float = 0.0
    confusion_rate: float = 0.0
    vertex_noise: float = 0.02
    simplify: float = 0.0
    keypoint_noise: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in WORKER_KINDS:
            raise ValueError(f"kind must be one of {WORKER_KINDS}, got {self.kind!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("annotator_id", "kind", "scale_bias"):
                continue
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be finite and >= 0, got {value!r}")
            if f.name in _PROBABILITY_FIELDS and value > 1:
                raise ValueError(f"{f.name} is a probability, got {value!r}")
        if not math.isfinite(self.scale_bias):
            raise ValueError("scale_bias must be finite")

    @property
    def quality(self) -> float:
        """A number in [0, 1] that orders workers by how good their labels are.

        The expected share of objects found with the right class, divided by the false-object
        load and discounted for localisation error; spammers score 0. It is a ranking summary
        (for rank correlations with estimated weights), not a calibrated probability.
        """
        if self.kind == "spammer":
            return 0.0
        found = (1.0 - self.miss_rate) * (1.0 - self.confusion_rate)
        noise = found / (1.0 + self.extra_rate + self.duplicate_rate + self.merge_rate)
        return float(noise * math.exp(-(2.5 * self.jitter + 2.0 * abs(self.scale_bias))))


@dataclass(frozen=True)
class CrowdProfile:
    """A crowd: its size, its mix of worker kinds and the ranges normal workers are drawn from.

    Each normal worker draws every parameter uniformly from its ``(low, high)`` range, so two
    normal workers differ the way real ones do. Experts use ``expert`` (a template whose
    ``annotator_id`` is replaced). ``workers_per_image`` distinct workers label each image.
    """

    n_workers: int = 20
    workers_per_image: int = 5
    spammer_share: float = 0.1
    expert_share: float = 0.1
    jitter: tuple[float, float] = (0.02, 0.08)
    scale_bias: tuple[float, float] = (-0.08, 0.08)
    miss_rate: tuple[float, float] = (0.02, 0.15)
    extra_rate: tuple[float, float] = (0.0, 0.15)
    duplicate_rate: tuple[float, float] = (0.0, 0.04)
    merge_rate: tuple[float, float] = (0.0, 0.1)
    confusion_rate: tuple[float, float] = (0.0, 0.1)
    vertex_noise: tuple[float, float] = (0.01, 0.04)
    simplify: tuple[float, float] = (0.0, 0.03)
    keypoint_noise: tuple[float, float] = (0.01, 0.05)
    expert: WorkerProfile = WorkerProfile(
        annotator_id=0,
        kind="expert",
        jitter=0.01,
        miss_rate=0.01,
        extra_rate=0.0,
        vertex_noise=0.005,
        keypoint_noise=0.005,
    )

    def __post_init__(self) -> None:
        if self.n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        if not 1 <= self.workers_per_image <= self.n_workers:
            raise ValueError("workers_per_image must be between 1 and n_workers")
        if not (0 <= self.spammer_share <= 1 and 0 <= self.expert_share <= 1):
            raise ValueError("spammer_share and expert_share must be in [0, 1]")
        if self.spammer_share + self.expert_share > 1:
            raise ValueError("spammer_share + expert_share must not exceed 1")
        for name in _NORMAL_RANGES:
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} range must be (low, high), got {(low, high)}")


_NORMAL_RANGES = (
    "jitter",
    "scale_bias",
    "miss_rate",
    "extra_rate",
    "duplicate_rate",
    "merge_rate",
    "confusion_rate",
    "vertex_noise",
    "simplify",
    "keypoint_noise",
)


def make_workers(
    profile: CrowdProfile, rng: np.random.Generator, *, first_id: int = 1
) -> tuple[WorkerProfile, ...]:
    """Draw ``profile.n_workers`` workers with ids ``first_id, first_id + 1, ...``.

    Kinds are shuffled, so an id says nothing about whether its worker is a spammer.
    """
    n = profile.n_workers
    n_spam = round(profile.spammer_share * n)
    n_expert = min(round(profile.expert_share * n), n - n_spam)
    kinds = ["spammer"] * n_spam + ["expert"] * n_expert + ["normal"] * (n - n_spam - n_expert)
    kinds = [kinds[i] for i in rng.permutation(n)]
    workers = []
    for offset, kind in enumerate(kinds):
        # Draw the normal parameters for every worker, whatever its kind, so that changing the
        # share of spammers does not shift the random stream of the others.
        drawn = {name: float(rng.uniform(*getattr(profile, name))) for name in _NORMAL_RANGES}
        wid = first_id + offset
        if kind == "expert":
            values = {f.name: getattr(profile.expert, f.name) for f in fields(WorkerProfile)}
            values.update(annotator_id=wid, kind="expert")
            workers.append(WorkerProfile(**values))
        else:
            workers.append(WorkerProfile(annotator_id=wid, kind=kind, **drawn))
    return tuple(workers)
