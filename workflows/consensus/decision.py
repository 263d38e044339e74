"""How much one item's annotators agree, and what to do about it (adaptive redundancy).

Pure: takes an :class:`~workflows.consensus.types.ItemResult` and plain numbers. The service
that runs consensus jobs and the redundancy benchmark share these two functions, so the
policy measured offline is exactly the policy that runs.
"""

from collections.abc import Mapping
from enum import StrEnum

import numpy as np

from .types import ItemResult

# A threshold, or a schedule {from_labels: threshold}: the agreement score means more with
# few annotators (one sloppy worker among five pulls the mean down though the consensus is
# right), so the bar can relax as labels accumulate. Measured on the Lean Crowdsourcing
# pedestrians (benchmarks/redundancy.py): {2: 0.8, 4: 0.65} buys 2.80 labels per image for
# F1 0.9296 against fixed-5's 0.9278, where a constant 0.8 needs 3.31 and escalates 21%.
Accept = float | Mapping[int, float]
DEFAULT_ACCEPT: Mapping[int, float] = {2: 0.8, 4: 0.65}


class Decision(StrEnum):
    WAIT = "wait"
    PROMOTE = "promote"
    MORE_LABELS = "more_labels"
    ESCALATE = "escalate"


def item_agreement_score(result: ItemResult, worker_idx: np.ndarray) -> float:
    """Mean over annotators of a soft F1 between each annotator's answer and the consensus.

    For annotator ``a`` with ``n_a`` objects and a consensus of ``n_c`` accepted objects, the
    soft true positives are the agreements (mean IoU to the fused shape) of the accepted
    objects ``a`` took part in, so ``F1_a = 2 TP_a / (n_a + n_c)``; an annotator who drew
    nothing where the consensus holds nothing scores 1. The score falls when annotators
    disagree on how many objects there are, on where they are, or on their class.

    Parameters
    ----------
    result
        The item's merge result.
    worker_idx : (n,) int
        The annotator of each input object (the item's ``worker_idx``), so that annotators'
        object counts are known.

    Returns
    -------
    float in [0, 1]; 0 for an item with no annotators.
    """
    if result.n_annotators == 0:
        return 0.0
    accepted = result.accepted
    n_c = len(accepted)
    n = result.n_annotators
    counts = np.bincount(np.asarray(worker_idx, dtype=np.int64), minlength=n)[:n]
    tp = np.zeros(n, dtype=np.float64)
    for obj in accepted:
        # A singleton is its own fused shape (agreement 1): nobody agreed with it, so it earns
        # no credit (else one worker's false box promotes an item at two labels).
        if obj.support < 2 and n > 1:
            continue
        np.add.at(tp, np.asarray(obj.workers, dtype=np.int64), obj.agreement)
    denominators = counts + n_c
    scores = np.where(denominators > 0, 2 * tp / np.maximum(denominators, 1), 1.0)
    return float(np.clip(scores.mean(), 0.0, 1.0))


def accept_threshold(accept: Accept, labels: int) -> float:
    """The threshold in force with ``labels`` answers: a number, or the schedule entry with the
    largest key <= ``labels`` (below the smallest key, the smallest key's)."""
    if isinstance(accept, Mapping):
        keys = [int(k) for k in accept if int(k) <= labels]
        schedule = {int(k): float(v) for k, v in accept.items()}
        return schedule[max(keys) if keys else min(schedule)]
    return float(accept)


def redundancy_decision(
    *, agreement: float, labels: int, min_labels: int, max_labels: int, accept: Accept
) -> Decision:
    """Adaptive redundancy: stop as soon as the labels agree, buy one more while they do not.

    ``labels`` is the number of answers the item has. Below ``min_labels`` wait; at or above
    the accept threshold (see :func:`accept_threshold`) promote; below it, ask for one more
    label until ``max_labels``, then escalate to an expert.
    """
    if labels < min_labels:
        return Decision.WAIT
    if agreement >= accept_threshold(accept, labels):
        return Decision.PROMOTE
    if labels < max_labels:
        return Decision.MORE_LABELS
    return Decision.ESCALATE
