"""The quality gate: is a worker's gold accuracy *surely* below the project's bar, and if so act.

The raw ratio is not enough: 0 of 3 says little about a worker who is right 90% of the time.
The gate acts only when the upper end of the Wilson score interval lies below the bar. The
judgement (:func:`wilson_interval`, :func:`gate_judge`) is pure; :func:`quality_gate_run`
reads the answers and acts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crowd.assignment.models import SUBMITTED_STATUSES, Assignment, AssignmentStatus
from workflows.projects.models import GateAction

from .models import (
    QualificationEventKind,
    QualificationGrant,
    QualificationRequirement,
    SystemQualification,
)
from .services.grants import _event, _grant_locked, _grant_revoke
from .services.system import system_qualification_type

logger = logging.getLogger(__name__)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson, JASA 1927).

    ``z = 1.96`` gives the 95% interval. With ``p = successes / n``::

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    No observations (``n == 0``) give ``(0.0, 1.0)``: nothing is known.

    >>> tuple(round(v, 4) for v in wilson_interval(0, 3))
    (0.0, 0.5615)
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class GateVerdict:
    """What the gate saw: ``correct`` of ``n`` recent gold answers and the interval around it."""

    correct: int
    n: int
    low: float
    high: float
    bar: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def trips(self) -> bool:
        """True when even the optimistic bound is below the bar (and the gate is on)."""
        return self.bar > 0 and self.n > 0 and self.high < self.bar

    def describe(self) -> str:
        return (
            f"{self.correct} of {self.n} recent gold answers correct (accuracy "
            f"{self.accuracy:.0%}, 95% Wilson interval {self.low:.1%} to {self.high:.1%}); "
            f"the bar is {self.bar:.0%}"
        )


def gate_judge(
    scores: list[float], *, pass_score: float, bar: float, z: float = 1.96
) -> GateVerdict:
    """Judge recent gold scores: an answer is correct when its score is at least ``pass_score``."""
    correct = sum(1 for s in scores if s >= pass_score)
    low, high = wilson_interval(correct, len(scores), z)
    return GateVerdict(correct=correct, n=len(scores), low=low, high=high, bar=bar)


def quality_gate_run(*, worker, project, now: datetime | None = None) -> GateVerdict | None:
    """Judge the worker's last ``gate_window`` gold answers on the project and act if their
    accuracy is surely (95% Wilson upper bound) below ``gate_min_gold_accuracy``.

    Returns the verdict, or None when the project's gate is off. Every trip flags the worker's
    submitted, unreviewed work on the project and writes a ``gate_warned`` event on their gold
    accuracy grant; then ``revoke`` revokes the worker's grants of the (hand-made) types the
    project requires; ``block`` is the caller's (workflows.pipeline.quality_gate): a block
    ends the worker's leases, which frees slots and rewards of other apps. Call inside a
    transaction.
    """
    if project.gate_min_gold_accuracy <= 0:
        return None
    now = now or timezone.now()
    scores = list(
        Assignment.objects.filter(
            worker=worker, project=project, gold_score__isnull=False, status__in=SUBMITTED_STATUSES
        )
        .order_by("-submitted_at", "-id")
        .values_list("gold_score", flat=True)[: project.gate_window]
    )
    verdict = gate_judge(
        scores, pass_score=project.gold_pass_score, bar=project.gate_min_gold_accuracy
    )
    if verdict.trips:
        with transaction.atomic():
            _gate_act(worker=worker, project=project, verdict=verdict, now=now)
    return verdict


def gate_reason(project, verdict: GateVerdict) -> str:
    return f"quality gate of project '{project.name}' (#{project.pk}): {verdict.describe()}"


def _gate_act(*, worker, project, verdict: GateVerdict, now: datetime) -> None:
    action = project.gate_action
    reason = gate_reason(project, verdict)
    flagged = Assignment.objects.filter(
        worker=worker, project=project, status=AssignmentStatus.SUBMITTED
    ).update(flagged_for_review=True)
    if action == GateAction.REVOKE:
        required = QualificationRequirement.objects.filter(
            project=project, qualification_type__system=""
        ).values("qualification_type_id")
        grants = QualificationGrant.objects.select_for_update().filter(
            worker=worker, qualification_type_id__in=required, revoked_at__isnull=True
        )
        for grant in grants:
            _grant_revoke(grant, actor=None, reason=reason, now=now, project=project)
    accuracy = system_qualification_type(SystemQualification.GOLD_ACCURACY)
    grant, _ = _grant_locked(
        qualification_type=accuracy, worker=worker, value=round(100 * verdict.accuracy), now=now
    )
    _event(
        grant,
        QualificationEventKind.GATE_WARNED,
        value=round(100 * verdict.accuracy),
        reason=f"{reason}; action: {action}; {flagged} submitted assignment(s) flagged for review",
        project=project,
    )
    logger.info(
        "quality gate tripped for worker %s on project %s: %s", worker.pk, project.pk, action
    )
