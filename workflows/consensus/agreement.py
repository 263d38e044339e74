"""Agreement scores: per item, per worker and per project (Krippendorff's alpha).

Per-object agreement (support and the mean IoU of members to the fused shape) lives on
:class:`~workflows.consensus.types.FusedObject`. All result dataclasses have ``to_dict()``
returning plain JSON types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from workflows.consensus.types import FloatArray

__all__ = [
    "ItemAgreement",
    "WorkerAgreement",
    "match_sets",
    "item_agreement",
    "worker_scores",
    "krippendorff_alpha_nominal",
    "krippendorff_alpha_detection",
]


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}


@dataclass(frozen=True)
class ItemAgreement:
    """Agreement between the annotators of one item.

    ``pairwise_f1`` is the mean over annotator pairs of the detection F1 of one against the
    other (matched at the IoU threshold; two empty answers agree, F1 = 1); ``mean_iou`` is the
    mean IoU of all matched pairs (NaN, serialised as null, when nothing matched).
    """

    item_id: object
    n_annotators: int
    n_objects: int
    pairwise_f1: float
    mean_iou: float

    def to_dict(self) -> dict:
        return _clean({**asdict(self), "item_id": _jsonable(self.item_id)})


@dataclass(frozen=True)
class WorkerAgreement:
    """One worker's precision, recall and mean matched IoU against a reference set."""

    worker: int
    reference: str
    n_items: int
    n_objects: int
    n_reference: int
    true_positives: int
    precision: float
    recall: float
    mean_iou: float

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def _jsonable(v: object) -> object:
    return v.item() if isinstance(v, np.generic) else v


def match_sets(sim: ArrayLike, threshold: float) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """Hungarian one-to-one matching maximising similarity, keeping pairs ``>= threshold``.

    Returns matched row indices, column indices and their similarities.
    """
    s = np.asarray(sim, dtype=np.float64)
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    r, c = linear_sum_assignment(-s)
    keep = s[r, c] >= threshold
    return r[keep], c[keep], s[r, c][keep]


def item_agreement(
    item_id: object,
    sim: ArrayLike,
    worker_idx: ArrayLike,
    annotators: ArrayLike,
    threshold: float = 0.5,
) -> ItemAgreement:
    """Pairwise detection F1 and mean matched IoU between an item's annotators.

    Parameters
    ----------
    sim : (n, n) float
        IoU (or OKS) between all objects of the item.
    worker_idx : (n,) int
    annotators : (m,) int
        Everyone who labelled the item, including those who drew nothing.
    """
    s = np.asarray(sim, dtype=np.float64)
    w = np.asarray(worker_idx, dtype=np.int64)
    f1s, ious = [], []
    for a, b in combinations(np.unique(np.asarray(annotators, dtype=np.int64)).tolist(), 2):
        ia, ib = np.flatnonzero(w == a), np.flatnonzero(w == b)
        if not len(ia) and not len(ib):
            f1s.append(1.0)
            continue
        _, _, m = match_sets(s[np.ix_(ia, ib)], threshold)
        f1s.append(2 * len(m) / (len(ia) + len(ib)))
        ious.extend(m.tolist())
    return ItemAgreement(
        item_id=item_id,
        n_annotators=len(np.unique(annotators)),
        n_objects=len(w),
        pairwise_f1=float(np.mean(f1s)) if f1s else float("nan"),
        mean_iou=float(np.mean(ious)) if ious else float("nan"),
    )


def worker_scores(
    observations: list[tuple[int, FloatArray, int]],
    reference: str = "consensus",
    threshold: float = 0.5,
) -> list[WorkerAgreement]:
    """Precision, recall and mean IoU per worker from per-item similarity matrices.

    Parameters
    ----------
    observations
        ``(worker, sim, n_reference)`` per (worker, item): ``sim`` is the ``(k, r)`` IoU of the
        worker's ``k`` objects with the ``r`` reference objects (consensus or gold).
    reference
        Label stored in the results (``"consensus"`` or ``"gold"``).
    """
    acc: dict[int, list] = {}
    for worker, sim, n_ref in observations:
        s = np.asarray(sim, dtype=np.float64).reshape(-1, n_ref)
        _, _, m = match_sets(s, threshold)
        a = acc.setdefault(int(worker), [0, 0, 0, 0, []])
        a[0] += 1
        a[1] += s.shape[0]
        a[2] += n_ref
        a[3] += len(m)
        a[4].extend(m.tolist())
    out = []
    for worker in sorted(acc):
        n_items, n_obj, n_ref, tp, ious = acc[worker]
        out.append(
            WorkerAgreement(
                worker=worker,
                reference=reference,
                n_items=n_items,
                n_objects=n_obj,
                n_reference=n_ref,
                true_positives=tp,
                precision=tp / n_obj if n_obj else float("nan"),
                recall=tp / n_ref if n_ref else float("nan"),
                mean_iou=float(np.mean(ious)) if ious else float("nan"),
            )
        )
    return out


def krippendorff_alpha_nominal(units: list[ArrayLike]) -> float:
    """Krippendorff's alpha for nominal values.

    Parameters
    ----------
    units
        One array of the values given in each unit (e.g. the members' categories of each
        cluster); units with fewer than two values are not pairable and are skipped.

    References
    ----------
    K. Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011.
    """
    vals = [np.asarray(u) for u in units if len(u) >= 2]
    if not vals:
        return float("nan")
    allv = np.concatenate(vals)
    classes, inv = np.unique(allv, return_inverse=True)
    k = len(classes)
    o = np.zeros((k, k))
    pos = 0
    for u in vals:
        m = len(u)
        counts = np.bincount(inv[pos : pos + m], minlength=k).astype(np.float64)
        pos += m
        o += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n = o.sum()
    nc = o.sum(1)
    d_o = (n - np.trace(o)) / n
    d_e = (n * n - (nc**2).sum()) / (n * (n - 1))
    return 1.0 if d_e == 0 else float(1.0 - d_o / d_e)


def krippendorff_alpha_detection(
    units: list[tuple[int, FloatArray, np.ndarray]],
    item_pair_sums: dict[int, tuple[float, int]],
) -> float:
    """Krippendorff's alpha with distance ``1 - IoU`` for detections.

    A unit is a cluster; each annotator of its item contributes one value: their object or
    "absent". ``delta(absent, absent) = 0``, ``delta(absent, object) = 1`` and
    ``delta(a, b) = 1 - IoU(a, b)``. Expected disagreement pairs values across all units;
    objects on different items share no pixel, so IoU contributes only within an item.

    Parameters
    ----------
    units
        ``(item, member_sim, n_absent)`` per cluster: ``member_sim`` is the ``(s, s)`` IoU
        among its members, ``n_absent`` the item's annotators without a member.
    item_pair_sums
        Per item, ``(sum of IoU over ordered pairs of distinct objects, n objects)``, over
        all of the item's objects (members of any cluster).
    """
    n_obj = n_abs = 0
    d_o_sum = 0.0
    n_tot = 0
    for _, sim, absent in units:
        s = np.asarray(sim, dtype=np.float64)
        m = len(s) + int(absent)
        if m < 2:
            continue
        within = (1 - s).sum() - (1 - np.diag(s)).sum()
        within += 2 * len(s) * int(absent)
        d_o_sum += within / (m - 1)
        n_tot += m
        n_obj += len(s)
        n_abs += int(absent)
    if n_tot < 2:
        return float("nan")
    pair_iou = sum(v[0] for v in item_pair_sums.values())
    box_pairs = n_obj * (n_obj - 1)
    d_e_sum = 2 * n_obj * n_abs + (box_pairs - pair_iou)
    d_e = d_e_sum / (n_tot * (n_tot - 1))
    d_o = d_o_sum / n_tot
    return 1.0 if d_e == 0 else float(1.0 - d_o / d_e)
