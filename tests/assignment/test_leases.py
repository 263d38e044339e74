"""Leases: return, extend, expire (by the reaper task), and what a late submit gets."""

import pytest
from django.utils import timezone

from crowd.assignment.models import Assignment
from crowd.assignment.services import assignment_extend
from crowd.common.exceptions import Conflict, NotFound
from crowd.labeling.models import Annotation
from tests import factories
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.leases import assignment_expire_overdue, assignment_return, block_create
from workflows.pipeline.submit import annotation_submit
from workflows.pipeline.tasks import assignment_expire_overdue_task

pytestmark = pytest.mark.django_db


def overdue(assignment, seconds=1):
    now = timezone.now()
    Assignment.objects.filter(pk=assignment.pk).update(
        leased_at=now - timezone.timedelta(hours=1),
        lease_expires_at=now - timezone.timedelta(seconds=seconds),
    )


@pytest.fixture
def lease(project, wendy):
    factories.make_item(project=project)
    return assignment_claim_next(worker=wendy, project_id=project.pk).assignment


def slots(assignment):
    assignment.item.refresh_from_db()
    return assignment.item.slots_taken


def test_return_frees_the_slot(lease, wendy):
    returned = assignment_return(worker=wendy, assignment_id=lease.pk)
    assert returned.status == "returned" and slots(lease) == 0


def test_returning_twice_is_a_conflict_and_changes_nothing(lease, wendy):
    assignment_return(worker=wendy, assignment_id=lease.pk)
    with pytest.raises(Conflict, match="returned"):
        assignment_return(worker=wendy, assignment_id=lease.pk)
    assert slots(lease) == 0


def test_someone_elses_lease_is_not_found(lease):
    other = factories.make_user()
    for action in (assignment_return, assignment_extend):
        with pytest.raises(NotFound):
            action(worker=other, assignment_id=lease.pk)


def test_extend_pushes_the_deadline_up_to_the_project_limit(lease, wendy, project):
    before = lease.lease_expires_at
    for n in range(project.max_lease_extensions):
        extended = assignment_extend(worker=wendy, assignment_id=lease.pk)
        assert extended.extensions == n + 1
    assert extended.lease_expires_at >= before
    with pytest.raises(Conflict, match="limit"):
        assignment_extend(worker=wendy, assignment_id=lease.pk)


def test_extending_an_expired_lease_is_refused(lease, wendy):
    overdue(lease)
    with pytest.raises(Conflict, match="lease ended"):
        assignment_extend(worker=wendy, assignment_id=lease.pk)


def test_reaper_expires_overdue_leases_in_bulk_and_frees_slots(project):
    items = [factories.make_item(project=project) for _ in range(5)]
    leases = [
        assignment_claim_next(worker=factories.make_user(), project_id=project.pk).assignment
        for _ in range(5)
    ]
    for lease in leases[:3]:
        overdue(lease)
    assert assignment_expire_overdue(batch=2) == 3
    statuses = sorted(Assignment.objects.values_list("status", flat=True))
    assert statuses == ["expired"] * 3 + ["leased"] * 2
    assert sum(type(i).objects.get(pk=i.pk).slots_taken for i in items) == 2
    assert assignment_expire_overdue_task() == 0  # running again changes nothing


def test_late_submit_is_refused_and_the_slot_went_to_another(lease, wendy, project):
    payload = {"regions": []}
    overdue(lease)
    assignment_expire_overdue()
    other = factories.make_user()
    taken = assignment_claim_next(worker=other, project_id=project.pk).assignment
    assert taken.item_id == lease.item_id
    with pytest.raises(Conflict, match="lease ended"):
        annotation_submit(worker=wendy, assignment_id=lease.pk, payload=payload)
    assert not Annotation.objects.filter(assignment=lease).exists()
    lease.refresh_from_db()
    assert lease.status == "expired"


def test_overdue_lease_cannot_be_submitted_even_before_the_reaper_runs(lease, wendy):
    overdue(lease)
    with pytest.raises(Conflict, match="lease ended"):
        annotation_submit(worker=wendy, assignment_id=lease.pk, payload={"regions": []})
    assert Annotation.objects.count() == 0


def test_block_ends_live_leases(lease, wendy, alice, project):
    block_create(worker=wendy, project=project, reason="bot-like speed", actor=alice)
    lease.refresh_from_db()
    assert lease.status == "returned" and slots(lease) == 0
