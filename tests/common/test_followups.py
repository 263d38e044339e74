"""The follow-up outbox: committed with the work, sent on commit, kept through a broker outage.

The outage is real: Celery is pointed at a port where nothing listens, so kombu's own
connection error is what the code meets.
"""

import pytest
from celery import current_app
from django.db import transaction
from django.utils import timezone

from crowd.assignment.models import Assignment
from crowd.common.followups import follow_up, followups_send_due
from crowd.common.models import FollowUp
from tests import factories
from workflows.pipeline.names import CONSENSUS_TASK
from workflows.projects.models import Item

pytestmark = pytest.mark.django_db(transaction=True)

NOWHERE = "redis://127.0.0.1:9/0"  # the discard port: refused at once


def _forget_connections():
    # Both pools keep the URL they were made with (the producer pool is created on first use,
    # eager or not): drop them so that the next send connects to the URL set now.
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, NOWHERE
    _forget_connections()
    yield
    conf.task_always_eager, conf.broker_url = saved
    _forget_connections()


@pytest.fixture
def one_label(alice):
    """A project that wants one label per item."""
    return factories.make_project(owner=alice, min_redundancy=1, max_redundancy=1)


def ready_for_consensus(project, workers):
    """An item whose last wanted label is leased, and that lease's worker."""
    item = factories.make_item(project=project)
    Item.objects.filter(pk=item.pk).update(labels_wanted=1, slots_funded=1, slots_taken=1)
    return item, factories.make_assignment(item=item, worker=workers[0])


def box(project):
    category = project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": [1, 2, 30, 20]}]}


def test_a_follow_up_is_sent_when_its_transaction_commits_and_then_forgotten(project):
    item = factories.make_item(project=project)
    Item.objects.filter(pk=item.pk).update(state="consensus")
    with transaction.atomic():
        follow_up(CONSENSUS_TASK, item.pk)
        assert FollowUp.objects.count() == 1  # recorded with the work, not sent yet
    assert FollowUp.objects.count() == 0  # eager: it ran on commit, then its row went


def test_a_rolled_back_transaction_leaves_no_follow_up(project):
    item = factories.make_item(project=project)
    with pytest.raises(RuntimeError), transaction.atomic():
        follow_up(CONSENSUS_TASK, item.pk)
        raise RuntimeError("the work failed")
    assert FollowUp.objects.count() == 0


def test_an_unknown_task_name_fails_the_caller():
    with pytest.raises(LookupError, match="no Celery task is registered as 'no.such_task'"):
        follow_up("no.such_task", 1)


def test_a_submit_during_a_broker_outage_succeeds_and_its_consensus_job_waits(
    api, one_label, wendy, broker_down
):
    project = one_label
    item, lease = ready_for_consensus(project, [wendy])
    response = api(wendy).post(
        f"/api/v1/assignments/{lease.pk}/submit/", {"payload": box(project)}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Assignment.objects.get(pk=lease.pk).status == "submitted"
    [pending] = FollowUp.objects.all()
    assert (pending.task, pending.args) == (CONSENSUS_TASK, [item.pk])
    assert "127.0.0.1:9" in pending.last_error  # kombu's reason is kept
    # Still down: the sweep keeps the row and counts the attempt.
    later = timezone.now() + timezone.timedelta(minutes=1)
    assert followups_send_due(now=later) == 0
    assert FollowUp.objects.get().attempts == 1


def test_the_sweep_sends_what_the_outage_kept(api, one_label, wendy, broker_down):
    project = one_label
    item, lease = ready_for_consensus(project, [wendy])
    api(wendy).post(
        f"/api/v1/assignments/{lease.pk}/submit/", {"payload": box(project)}, format="json"
    )
    [kept] = FollowUp.objects.all()
    current_app.conf.task_always_eager = True  # the broker is back (in-process here)
    assert followups_send_due(now=kept.created_at) == 0  # too young: the commit hook's turn
    later = timezone.now() + timezone.timedelta(minutes=1)
    assert followups_send_due(now=later) == 1
    assert FollowUp.objects.count() == 0
    item.refresh_from_db()
    assert item.state == "promoted"  # the consensus job ran
