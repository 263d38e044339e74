"""The fast claim judges eligibility in SQL, the general path in Python: on every rule they
must agree. Each case is judged by both roads on the same state (each in a rolled-back
savepoint): the fast road leases exactly when the general road does."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from crowd.assignment import services
from crowd.common.exceptions import NothingForYou
from crowd.pay.funding import slots_fund
from crowd.qualifications.models import QualificationGrant
from crowd.qualifications.services import (
    qualification_grant,
    qualification_revoke,
    qualification_type_create,
    requirement_create,
)
from tests import factories
from workflows.pipeline import claims
from workflows.pipeline.claim_sql import claim_regular_fast
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.leases import block_create

pytestmark = [pytest.mark.django_db, pytest.mark.requires_postgres]


def _requirement(comparator, *, value=None, values=None, held=None):
    def setup(alice, wendy, project):
        qtype = qualification_type_create(owner=alice, name=f"q {project.pk}")
        requirement_create(
            project=project, qualification_type=qtype, comparator=comparator, value=value,
            values=values,
        )  # fmt: skip
        if held is not None:
            qualification_grant(qualification_type=qtype, worker=wendy, value=held, actor=alice)
        return qtype

    return setup


def _revoked(alice, wendy, project):
    qtype = _requirement("gte", value=1, held=5)(alice, wendy, project)
    qualification_revoke(qualification_type=qtype, worker=wendy, actor=alice, reason="test")


def _expired(alice, wendy, project, *, hours: int = -1):
    _requirement("gte", value=1, held=5)(alice, wendy, project)
    now = timezone.now()
    QualificationGrant.objects.filter(worker=wendy).update(
        granted_at=now - timedelta(days=1), expires_at=now + timedelta(hours=hours)
    )


def _blocked(scope):
    def setup(alice, wendy, project):
        elsewhere = factories.make_project(owner=alice)
        target = {"here": project, "lifted": project, "everywhere": None, "elsewhere": elsewhere}[
            scope
        ]
        block = block_create(worker=wendy, reason="test", actor=alice, project=target)
        if scope == "lifted":
            services.block_lift(block=block, actor=alice)

    return setup


def _project_update(**fields):
    def setup(alice, wendy, project):
        type(project).objects.filter(pk=project.pk).update(**fields)

    return setup


CASES = {
    "no requirement": (lambda *a: None, True),
    "gte met": (_requirement("gte", value=3, held=3), True),
    "gte unmet": (_requirement("gte", value=3, held=2), False),
    "lt met": (_requirement("lt", value=3, held=2), True),
    "eq unmet": (_requirement("eq", value=3, held=4), False),
    "neq met": (_requirement("neq", value=3, held=4), True),
    "neq not held": (_requirement("neq", value=3), False),
    "exists held": (_requirement("exists", held=0), True),
    "not_exists not held": (_requirement("not_exists"), True),
    "not_exists held": (_requirement("not_exists", held=1), False),
    "in met": (_requirement("in", values=[1, 4], held=4), True),
    "in unmet": (_requirement("in", values=[1, 4], held=3), False),
    "not_in met": (_requirement("not_in", values=[1, 4], held=3), True),
    "not_in unmet": (_requirement("not_in", values=[1, 4], held=4), False),
    "grant revoked": (_revoked, False),
    "grant expired": (_expired, False),
    "grant expires later": (lambda *a: _expired(*a, hours=1), True),
    "blocked here": (_blocked("here"), False),
    "blocked everywhere": (_blocked("everywhere"), False),
    "blocked elsewhere": (_blocked("elsewhere"), True),
    "block lifted": (_blocked("lifted"), True),
    "paused": (_project_update(status="paused"), False),
    "deadline passed": (_project_update(deadline=timezone.now() - timedelta(minutes=1)), False),
}


def _leases(claim) -> bool:
    with transaction.atomic():
        try:
            leased = claim() is not None
        except NothingForYou:
            leased = False
        transaction.set_rollback(True)
    return leased


@pytest.mark.parametrize("case", CASES)
def test_both_roads_agree(case, alice, wendy, monkeypatch):
    setup, expected = CASES[case]
    project = factories.make_project(owner=alice)
    factories.make_item(project=project)
    slots_fund(project=project)  # the fast road takes funded slots only
    setup(alice, wendy, project)
    fast = _leases(
        lambda: claim_regular_fast(worker=wendy, project_id=project.pk, now=timezone.now())
    )
    monkeypatch.setattr(claims, "claim_regular_fast", lambda **_: None)
    general = _leases(lambda: assignment_claim_next(worker=wendy, project_id=project.pk))
    assert (fast, general) == (expected, expected)
