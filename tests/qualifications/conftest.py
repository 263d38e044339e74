"""Fixtures for qualification tests: types, requirements, grants, gold answers on a project."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from crowd.qualifications import services
from tests import factories

_names = itertools.count(1)


@pytest.fixture
def make_type(alice):
    """Create a qualification type owned by Alice unless ``owner`` is given."""

    def make(name: str | None = None, *, owner=None, **fields):
        return services.qualification_type_create(
            owner=owner or alice, name=name or f"qualification {next(_names)}", **fields
        )

    return make


@pytest.fixture
def require(project):
    """Add a requirement to Alice's project."""

    def add(qualification_type, comparator: str, value=None, values=None, *, on=None):
        return services.requirement_create(
            project=on or project,
            qualification_type=qualification_type,
            comparator=comparator,
            value=value,
            values=values,
        )

    return add


@pytest.fixture
def grant(alice):
    """Grant a value by hand, as the type's owner (Alice by default)."""

    def give(qualification_type, worker, value: int, *, actor=None, **kwargs):
        return services.qualification_grant(
            qualification_type=qualification_type,
            worker=worker,
            value=value,
            actor=actor or alice,
            reason=kwargs.pop("reason", "test grant"),
            **kwargs,
        )

    return give


def category_id(project) -> int:
    return project.label_schema.categories.order_by("position", "id").first().pk


def box_answer(project, *boxes) -> dict:
    cid = category_id(project)
    return {"regions": [{"category_id": cid, "bbox": list(b)} for b in boxes]}


@pytest.fixture
def gold_answers(wendy):
    """Record scored gold answers of a worker (Wendy by default) on a project, oldest first.

    Returns the assignments; each gets its own gold item and a submit time one minute after
    the previous one, so "the last N answers" is well defined.
    """

    def answer(project, scores, *, worker=None, status: str = "submitted"):
        worker = worker or wendy
        start = timezone.now() - timedelta(hours=1)
        made = []
        for i, score in enumerate(scores):
            item = factories.make_item(
                project=project, gold_answer=box_answer(project, (0, 0, 10, 10))
            )
            made.append(
                factories.make_assignment(
                    item=item,
                    worker=worker,
                    status=status,
                    gold_score=score,
                    submitted_at=start + timedelta(minutes=i),
                )
            )
        return made

    return answer
