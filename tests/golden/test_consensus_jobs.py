"""Consensus jobs after submission: promotion, adaptive redundancy, escalation, idempotency."""

import pytest
from django.utils import timezone

from tests import factories
from workflows.golden.models import ConsensusResult, GoldenAnnotation
from workflows.golden.services import consensus_items_stale
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.consensus import consensus_run_for_item
from workflows.pipeline.names import CONSENSUS_TASK
from workflows.pipeline.submit import annotation_submit
from workflows.pipeline.tasks import consensus_sweep_task

pytestmark = pytest.mark.django_db


def boxes(project, *bboxes):
    category = project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": list(b)} for b in bboxes]}


@pytest.fixture
def label(django_capture_on_commit_callbacks):
    """One new worker claims the project's next task and submits ``payload``; the on-commit
    consensus job runs as it would after a real commit."""

    def submit(project, payload):
        worker = factories.make_user()
        with django_capture_on_commit_callbacks(execute=True):
            lease = assignment_claim_next(worker=worker, project_id=project.pk).assignment
            annotation_submit(worker=worker, assignment_id=lease.pk, payload=payload)
        return lease

    return submit


@pytest.fixture
def pipeline(alice, rita):
    """min 3, max 5 labels; promote at agreement 0.8."""
    project = factories.make_project(
        owner=alice, min_redundancy=3, max_redundancy=5, accept_agreement=0.8, reviewers=[rita]
    )
    return project, factories.make_item(project=project, width=200, height=150)


def test_agreeing_labels_are_promoted_with_provenance(
    pipeline, label, django_capture_on_commit_callbacks
):
    project, item = pipeline
    leases = [label(project, boxes(project, (10, 10, 50, 40))) for _ in range(2)]
    item.refresh_from_db()
    assert item.state == "open" and not ConsensusResult.objects.exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        leases.append(label(project, boxes(project, (11, 10, 50, 41))))
    # The consensus job was queued to run after the commit, not inside the submit.
    # (a follow-up sent on commit: partial(_send, row id, task name, args))
    assert [cb.args[1:] for cb in callbacks if getattr(cb, "args", None)][:1] == [
        (CONSENSUS_TASK, [item.pk])
    ]
    item.refresh_from_db()
    assert item.state == "promoted"
    golden = GoldenAnnotation.objects.get(item=item)
    result = golden.consensus_result
    assert result.decision == "promote" and result.round == 1 and result.agreement >= 0.8
    assert {a.assignment_id for a in result.annotations.all()} == {lease.pk for lease in leases}
    (region,) = golden.payload["regions"]
    assert region["support"] == 3
    assert region["bbox"] == pytest.approx([10.3, 10, 50, 40.3], abs=1.0)
    assert set(result.worker_weights) == {f"worker:{lease.worker_id}" for lease in leases}


def test_disagreement_buys_one_more_label_then_promotes(pipeline, label):
    project, item = pipeline
    label(project, boxes(project, (10, 10, 50, 40)))
    label(project, boxes(project, (10, 10, 50, 40)))
    label(project, boxes(project, (120, 90, 40, 40)))  # someone saw something else
    item.refresh_from_db()
    assert item.state == "open" and item.labels_wanted == 4
    assert ConsensusResult.objects.get().decision == "more_labels"
    label(project, boxes(project, (10, 10, 50, 40)))
    item.refresh_from_db()
    assert [r.decision for r in item.consensus_results.order_by("round")] == [
        "more_labels",
        "more_labels" if item.state == "open" else "promote",
    ]


def test_exhausted_redundancy_escalates(pipeline, label):
    project, item = pipeline
    spots = [
        (5, 5, 30, 30),
        (60, 60, 30, 30),
        (120, 20, 30, 30),
        (10, 100, 30, 30),
        (150, 100, 30, 30),
    ]
    for bbox in spots:
        label(project, boxes(project, bbox))
    item.refresh_from_db()
    assert item.state == "escalated" and item.labels_wanted == 5
    assert item.consensus_results.order_by("-round").first().decision == "escalate"
    assert not GoldenAnnotation.objects.exists()


def test_rerunning_on_the_same_inputs_writes_nothing(pipeline, label):
    project, item = pipeline
    for _ in range(2):
        label(project, boxes(project, (10, 10, 50, 40)))
    label(project, boxes(project, (120, 90, 40, 40)))
    first = ConsensusResult.objects.get()
    again = consensus_run_for_item(item_id=item.pk)
    assert again is None or again.pk == first.pk  # the item moved on, or the digest matched
    # Put the item back as it was when the job first ran: the same inputs find the same row.
    type(item).objects.filter(pk=item.pk).update(state="consensus", labels_wanted=3)
    assert consensus_run_for_item(item_id=item.pk).pk == first.pk
    assert ConsensusResult.objects.count() == 1


def test_gold_items_never_run_consensus(alice, label):
    project = factories.make_project(
        owner=alice, gold_rate=0.99, min_redundancy=1, max_redundancy=1
    )
    gold = factories.make_item(project=project, gold_answer=boxes(project, (1, 1, 10, 10)))
    label(project, boxes(project, (1, 1, 10, 10)))
    assert consensus_run_for_item(item_id=gold.pk) is None
    assert not ConsensusResult.objects.exists() and not GoldenAnnotation.objects.exists()


def test_sweeper_requeues_items_whose_job_was_lost(
    pipeline, label, django_capture_on_commit_callbacks
):
    project, item = pipeline
    for _ in range(3):
        label(project, boxes(project, (10, 10, 50, 40)))
    # Simulate the lost message: back to the state right after the submit, no result.
    GoldenAnnotation.objects.all().delete()
    ConsensusResult.objects.all().delete()
    type(item).objects.filter(pk=item.pk).update(state="consensus")
    later = timezone.now() + timezone.timedelta(minutes=5)
    assert consensus_items_stale(now=later) == [item.pk]
    type(item).annotations.field.model.objects.filter(item=item).update(
        created_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert consensus_sweep_task() == 1  # a follow-up; eager: it runs on commit
    item.refresh_from_db()
    assert item.state == "promoted"
