"""Grants: auto-grant on first request, manual grant and revoke with their audit trail and
refusals, and the system qualifications computed from work history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from crowd.qualifications import services
from crowd.qualifications.models import QualificationEvent, QualificationGrant
from crowd.qualifications.selectors import requirements_unmet
from tests import factories

pytestmark = pytest.mark.django_db


def events(qtype, worker):
    return list(
        QualificationEvent.objects.filter(
            grant__qualification_type=qtype, grant__worker=worker
        ).values_list("kind", "value", "reason")
    )


# -- auto-grant --------------------------------------------------------------------------------


def test_auto_grant_gives_the_default_value_on_first_request(make_type, require, project, wendy):
    qtype = make_type("Newcomer", auto_grant=True, auto_grant_value=10)
    require(qtype, "gte", value=5)
    [grant] = services.qualification_auto_grant_for_project(worker=wendy, project=project)
    assert (grant.qualification_type, grant.worker, grant.value) == (qtype, wendy, 10)
    assert events(qtype, wendy) == [("granted", 10, "auto-granted on first request")]
    assert requirements_unmet(worker=wendy, project=project) == []


def test_auto_grant_is_idempotent(make_type, require, project, wendy):
    qtype = make_type("Newcomer", auto_grant=True, auto_grant_value=10)
    require(qtype, "exists")
    services.qualification_auto_grant_for_project(worker=wendy, project=project)
    assert services.qualification_auto_grant_for_project(worker=wendy, project=project) == []
    assert QualificationGrant.objects.count() == 1 and QualificationEvent.objects.count() == 1


def test_auto_grant_skips_types_that_do_not_auto_grant_or_are_not_required(
    make_type, require, project, wendy
):
    require(make_type("Manual"), "exists")
    make_type("Elsewhere", auto_grant=True, auto_grant_value=1)
    assert services.qualification_auto_grant_for_project(worker=wendy, project=project) == []


def test_auto_grant_does_not_undo_a_revocation(make_type, require, project, wendy, alice):
    qtype = make_type("Newcomer", auto_grant=True, auto_grant_value=10)
    require(qtype, "exists")
    services.qualification_auto_grant_for_project(worker=wendy, project=project)
    services.qualification_revoke(
        qualification_type=qtype, worker=wendy, actor=alice, reason="spam"
    )
    assert services.qualification_auto_grant_for_project(worker=wendy, project=project) == []
    assert requirements_unmet(worker=wendy, project=project)[0].actual is None


def test_auto_grant_never_grants_a_type_required_not_to_exist(make_type, require, project, wendy):
    require(make_type("Spammer", auto_grant=True, auto_grant_value=1), "not_exists")
    assert services.qualification_auto_grant_for_project(worker=wendy, project=project) == []


def test_auto_granted_values_expire_after_the_lifetime(make_type, require, project, wendy):
    qtype = make_type("Newcomer", auto_grant=True, auto_grant_value=1, grant_lifetime_seconds=60)
    require(qtype, "exists")
    now = timezone.now()
    [grant] = services.qualification_auto_grant_for_project(worker=wendy, project=project, now=now)
    assert grant.expires_at == now + timedelta(seconds=60)
    assert requirements_unmet(worker=wendy, project=project, now=now + timedelta(seconds=60))


# -- manual grant and revoke -----------------------------------------------------------------


def test_the_owner_grants_changes_and_revokes_with_an_audit_trail(make_type, wendy, alice):
    qtype = make_type("Birds expert")
    services.qualification_grant(
        qualification_type=qtype, worker=wendy, value=70, actor=alice, reason="passed interview"
    )
    services.qualification_grant(
        qualification_type=qtype, worker=wendy, value=85, actor=alice, reason="re-assessed"
    )
    grant = services.qualification_revoke(
        qualification_type=qtype, worker=wendy, actor=alice, reason="  copied answers "
    )
    assert grant.revoked_at is not None and grant.value == 85
    assert events(qtype, wendy) == [
        ("granted", 70, "passed interview"),
        ("changed", 85, "re-assessed"),
        ("revoked", 85, "copied answers"),
    ]
    assert set(QualificationEvent.objects.values_list("actor", flat=True)) == {alice.pk}


def test_granting_a_revoked_qualification_grants_it_afresh(make_type, grant, wendy, alice):
    qtype = make_type("Birds expert")
    grant(qtype, wendy, 1)
    services.qualification_revoke(qualification_type=qtype, worker=wendy, actor=alice, reason="x")
    again = grant(qtype, wendy, 2)
    assert again.revoked_at is None and again.value == 2
    assert [kind for kind, _, _ in events(qtype, wendy)] == ["granted", "revoked", "granted"]


def test_an_operator_may_grant_any_type(make_type, wendy):
    operator = factories.make_user("ops", role="manager", is_staff=True)
    qtype = make_type("Birds expert")
    grant = services.qualification_grant(
        qualification_type=qtype, worker=wendy, value=1, actor=operator, reason="support ticket"
    )
    assert grant.value == 1


@pytest.mark.parametrize("persona", ["bob", "wendy", "rita", "aldo"])
def test_only_the_owner_or_an_operator_may_grant_or_revoke(
    request, make_type, grant, wendy, persona
):
    qtype = make_type("Birds expert")
    grant(qtype, wendy, 5)
    actor = request.getfixturevalue(persona)
    with pytest.raises(Forbidden, match="only the owner of 'Birds expert'"):
        services.qualification_grant(
            qualification_type=qtype, worker=wendy, value=9, actor=actor, reason=""
        )
    with pytest.raises(Forbidden):
        services.qualification_revoke(
            qualification_type=qtype, worker=wendy, actor=actor, reason="because"
        )
    assert QualificationGrant.objects.get().value == 5 and QualificationEvent.objects.count() == 1


@pytest.mark.parametrize("persona", ["alice", "bob", "rita", "aldo"])
def test_qualifications_are_granted_to_workers_only(request, make_type, alice, persona):
    with pytest.raises(InvalidInput, match="only workers hold qualifications"):
        services.qualification_grant(
            qualification_type=make_type(),
            worker=request.getfixturevalue(persona),
            value=1,
            actor=alice,
            reason="",
        )
    assert QualificationGrant.objects.count() == 0


def test_system_qualifications_cannot_be_granted_or_revoked_by_hand(wendy, alice):
    operator = factories.make_user("ops", role="manager", is_superuser=True)
    qtype = services.system_qualification_type("gold_accuracy")
    with pytest.raises(InvalidInput, match="computed by Quorum"):
        services.qualification_grant(
            qualification_type=qtype, worker=wendy, value=100, actor=operator, reason=""
        )
    with pytest.raises(InvalidInput, match="computed by Quorum"):
        services.qualification_revoke(
            qualification_type=qtype, worker=wendy, actor=operator, reason="x"
        )
    assert QualificationGrant.objects.count() == 0


@pytest.mark.parametrize("value", [True, "5", 2.5, None])
def test_a_grant_value_must_be_an_integer(make_type, wendy, alice, value):
    with pytest.raises(InvalidInput, match="value must be an integer"):
        services.qualification_grant(
            qualification_type=make_type(), worker=wendy, value=value, actor=alice, reason=""
        )


def test_a_grant_cannot_expire_in_the_past(make_type, wendy, alice):
    with pytest.raises(InvalidInput, match="expires_at must be in the future"):
        services.qualification_grant(
            qualification_type=make_type(),
            worker=wendy,
            value=1,
            actor=alice,
            reason="",
            expires_at=timezone.now() - timedelta(seconds=1),
        )
    assert QualificationGrant.objects.count() == 0


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_revocation_needs_a_reason(make_type, grant, wendy, alice, reason):
    qtype = make_type()
    grant(qtype, wendy, 1)
    with pytest.raises(InvalidInput, match="needs a reason"):
        services.qualification_revoke(
            qualification_type=qtype, worker=wendy, actor=alice, reason=reason
        )
    assert QualificationGrant.objects.get().revoked_at is None


def test_revoking_what_is_not_held_is_refused_clearly(make_type, grant, wendy, alice):
    qtype = make_type("Birds expert")
    with pytest.raises(NotFound, match="wendy does not hold 'Birds expert'"):
        services.qualification_revoke(
            qualification_type=qtype, worker=wendy, actor=alice, reason="x"
        )
    grant(qtype, wendy, 1)
    services.qualification_revoke(qualification_type=qtype, worker=wendy, actor=alice, reason="x")
    with pytest.raises(Conflict, match="already revoked"):
        services.qualification_revoke(
            qualification_type=qtype, worker=wendy, actor=alice, reason="x"
        )
    assert QualificationEvent.objects.filter(kind="revoked").count() == 1


# -- system qualifications -------------------------------------------------------------------


def _system_values(worker):
    return {
        g.qualification_type.system: g.value
        for g in QualificationGrant.objects.filter(worker=worker).select_related(
            "qualification_type"
        )
    }


def test_system_qualifications_are_computed_from_reviewed_work(project, wendy, gold_answers):
    for status in ("approved", "approved", "approved", "rejected", "submitted"):
        item = factories.make_item(project=project)
        factories.make_assignment(
            item=item,
            worker=wendy,
            status=status,
            reject_reason="wrong" if status == "rejected" else "",
        )
    gold_answers(project, [1.0, 0.2])  # one passes gold_pass_score 0.7, one does not
    values = services.system_qualifications_refresh(worker=wendy)
    assert values == {"approval_rate": 75, "approved_count": 3, "gold_accuracy": 50}
    assert _system_values(wendy) == values


def test_a_new_worker_holds_only_the_approved_count(wendy):
    services.system_qualifications_refresh(worker=wendy)
    assert _system_values(wendy) == {"approved_count": 0}


def test_system_refresh_writes_an_event_only_when_a_value_changes(project, wendy):
    services.system_qualifications_refresh(worker=wendy)
    services.system_qualifications_refresh(worker=wendy)
    assert QualificationEvent.objects.count() == 1
    factories.make_assignment(
        item=factories.make_item(project=project), worker=wendy, status="approved"
    )
    services.system_qualifications_refresh(worker=wendy)
    kinds = list(QualificationEvent.objects.values_list("kind", "value"))
    assert kinds == [("granted", 0), ("granted", 100), ("changed", 1)]


def test_system_types_are_created_once(wendy):
    first = services.system_qualification_type("approval_rate")
    assert services.system_qualification_type("approval_rate") == first
    assert first.system == "approval_rate" and first.owner is None


def test_auto_grant_follows_this_projects_comparator_not_another_projects(
    make_type, require, project, alice, wendy
):
    qtype = make_type("Newcomer", auto_grant=True, auto_grant_value=1)
    require(qtype, "exists")
    require(qtype, "not_exists", on=factories.make_project(owner=alice))
    assert len(services.qualification_auto_grant_for_project(worker=wendy, project=project)) == 1
