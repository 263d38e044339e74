"""requirements_unmet: every comparator, met and unmet, with missing, expired and revoked grants."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crowd.qualifications import services
from crowd.qualifications.selectors import requirements_unmet

pytestmark = pytest.mark.django_db

# (comparator, operands, a value that meets it, a value that fails it)
CASES = [
    ("lt", {"value": 50}, 49, 50),
    ("lte", {"value": 50}, 50, 51),
    ("gt", {"value": 50}, 51, 50),
    ("gte", {"value": 50}, 50, 49),
    ("eq", {"value": 50}, 50, 51),
    ("neq", {"value": 50}, 51, 50),
    ("in", {"values": [1, 2]}, 2, 3),
    ("not_in", {"values": [3]}, 2, 3),
    ("exists", {}, 0, None),
]


@pytest.mark.parametrize("comparator, operands, good, bad", CASES)
def test_a_held_value_that_satisfies_the_comparator_is_met(
    make_type, require, grant, project, wendy, comparator, operands, good, bad
):
    qtype = make_type("Birds expert")
    require(qtype, comparator, **operands)
    grant(qtype, wendy, good)
    assert requirements_unmet(worker=wendy, project=project) == []


@pytest.mark.parametrize("comparator, operands, good, bad", [c for c in CASES if c[3] is not None])
def test_a_held_value_that_fails_the_comparator_is_unmet_with_both_values(
    make_type, require, grant, project, wendy, comparator, operands, good, bad
):
    qtype = make_type("Birds expert")
    require(qtype, comparator, **operands)
    grant(qtype, wendy, bad)
    [unmet] = requirements_unmet(worker=wendy, project=project)
    assert unmet.qualification_type_id == qtype.pk
    assert unmet.comparator == comparator and unmet.actual == bad
    assert unmet.expected == operands.get("value", operands.get("values"))
    assert unmet.message.startswith("requires 'Birds expert' ")
    assert unmet.message.endswith(f"; you have {bad}")


@pytest.mark.parametrize("comparator, operands, good, bad", CASES)
def test_a_missing_grant_fails_every_comparator_but_not_exists(
    make_type, require, project, wendy, comparator, operands, good, bad
):
    qtype = make_type("Birds expert")
    require(qtype, comparator, **operands)
    [unmet] = requirements_unmet(worker=wendy, project=project)
    assert unmet.actual is None
    assert unmet.message.endswith("; you do not hold it")


def test_the_message_spells_out_the_comparison(make_type, require, grant, project, wendy):
    expert, member = make_type("Birds expert"), make_type("Member")
    require(expert, "gte", value=80)
    require(member, "exists")
    grant(expert, wendy, 65)
    messages = [u.message for u in requirements_unmet(worker=wendy, project=project)]
    assert messages == [
        "requires 'Birds expert' >= 80; you have 65",
        "requires 'Member'; you do not hold it",
    ]


def test_not_exists_is_met_without_the_grant_and_unmet_with_it(
    make_type, require, grant, project, wendy
):
    spammer = make_type("Spammer")
    require(spammer, "not_exists")
    assert requirements_unmet(worker=wendy, project=project) == []
    grant(spammer, wendy, 1)
    [unmet] = requirements_unmet(worker=wendy, project=project)
    assert unmet.message.startswith("'Spammer' must not be held")
    assert unmet.actual == 1 and unmet.expected is None


def test_an_expired_grant_counts_as_not_held(make_type, require, grant, project, wendy):
    qtype = make_type("Birds expert")
    require(qtype, "gte", value=50)
    expires = timezone.now() + timedelta(hours=1)
    grant(qtype, wendy, 90, expires_at=expires)
    assert (
        requirements_unmet(worker=wendy, project=project, now=expires - timedelta(seconds=1)) == []
    )
    [unmet] = requirements_unmet(worker=wendy, project=project, now=expires)
    assert unmet.actual is None and "it expired at" in unmet.message


def test_an_expired_grant_satisfies_not_exists(make_type, require, grant, project, wendy):
    spammer = make_type("Spammer")
    require(spammer, "not_exists")
    expires = timezone.now() + timedelta(hours=1)
    grant(spammer, wendy, 1, expires_at=expires)
    assert requirements_unmet(worker=wendy, project=project, now=expires) == []


def test_a_revoked_grant_counts_as_not_held(make_type, require, grant, project, wendy, alice):
    qtype = make_type("Birds expert")
    require(qtype, "exists")
    grant(qtype, wendy, 90)
    services.qualification_revoke(
        qualification_type=qtype, worker=wendy, actor=alice, reason="copied answers"
    )
    [unmet] = requirements_unmet(worker=wendy, project=project)
    assert unmet.message == "requires 'Birds expert'; you do not hold it (it was revoked)"


def test_a_grant_lifetime_makes_grants_expire(make_type, require, grant, project, wendy):
    qtype = make_type("Birds expert", grant_lifetime_seconds=3600)
    require(qtype, "exists")
    held = grant(qtype, wendy, 1)
    assert held.expires_at == held.granted_at + timedelta(hours=1)
    assert requirements_unmet(worker=wendy, project=project, now=held.expires_at) != []


def test_only_unmet_requirements_are_listed_in_requirement_order(
    make_type, require, grant, project, wendy
):
    first, second, third = make_type("A"), make_type("B"), make_type("C")
    require(first, "gte", value=10)
    require(second, "exists")
    require(third, "lt", value=5)
    grant(second, wendy, 0)
    grant(third, wendy, 9)
    assert [u.name for u in requirements_unmet(worker=wendy, project=project)] == ["A", "C"]


def test_requirements_are_checked_in_two_queries_whatever_their_number(
    make_type, require, grant, project, wendy, django_assert_num_queries
):
    for i in range(6):
        qtype = make_type()
        require(qtype, "gte", value=i)
        grant(qtype, wendy, 3)
    with django_assert_num_queries(2):
        unmet = requirements_unmet(worker=wendy, project=project)
    assert len(unmet) == 2


def test_a_project_without_requirements_costs_one_query(project, wendy, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert requirements_unmet(worker=wendy, project=project) == []
