"""What an assignment pays when it is approved: one rule, read by approval
(:func:`crowd.pay.budget.budget_reward`) and by the worker's pending earnings
(:mod:`crowd.pay.earnings`), so what a worker is shown is what approval pays.

The reward is the one held back for the work when it was handed out, never the project's
reward of today, which a manager may have changed since:

1. the lease's own RESERVE entry (gold and qualification-test items, which have no slots);
2. else ``Assignment.funded_minor``, the reward of the funded slot the claim took;
3. else (work handed out before the project kept its budget in the ledger: no slot, no
   reservation) the project's current ``reward_minor``.

It is a database expression, so a list of assignments gets every amount in its own query.
"""

from django.db.models import F, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from crowd.assignment.models import Assignment

from .models import EntryKind, LedgerEntry


def reward_due():
    """The reward an approval pays, as an expression over ``Assignment`` rows.

    >>> Assignment.objects.filter(status="submitted").annotate(due=reward_due())
    """
    reservation = LedgerEntry.objects.filter(
        kind=EntryKind.RESERVE, assignment_id=OuterRef("pk")
    ).order_by("pk")
    return Coalesce(
        Subquery(reservation.values("amount_minor")[:1]),
        F("funded_minor"),
        F("project__reward_minor"),
        output_field=IntegerField(),
    )


def assignment_reward_due(assignment) -> int:
    """:func:`reward_due` of one assignment (one query)."""
    return (
        Assignment.objects.filter(pk=assignment.pk)
        .annotate(due=reward_due())
        .values_list("due", flat=True)
        .get()
    )
