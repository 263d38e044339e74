"""Test data for golden versions and exports: golden labels written as promotion writes them."""

from django.utils import timezone

from tests import factories
from workflows.golden.models import ConsensusResult, GoldenAnnotation


def make_golden(*, item, payload, reviewer=None, consensus_result=None, supersede=True):
    """The item's current golden label (the previous one, if any, marked superseded)."""
    now = timezone.now()
    if supersede:
        GoldenAnnotation.objects.filter(item=item, superseded_at__isnull=True).update(
            superseded_at=now
        )
    return GoldenAnnotation.objects.create(
        project=item.project,
        item=item,
        payload=payload,
        reviewed_by=reviewer,
        consensus_result=consensus_result,
        promoted_at=now,
    )


def make_consensus(*, item, payload, workers, round=1):
    """A consensus result over one crowd annotation per worker, all equal to ``payload``."""
    annotations = []
    for worker in workers:
        assignment = factories.make_assignment(item=item, worker=worker, status="submitted")
        annotations.append(factories.make_annotation(assignment=assignment, payload=payload))
    result = ConsensusResult.objects.create(
        item=item,
        round=round,
        worker_weights={f"worker:{w.pk}": 1.0 for w in workers},
        method="bbox:auto",
        parameters={"iou_threshold": 0.5, "quorum": 0.5},
        package_version="1",
        inputs_digest=f"digest-{item.pk}-{round}",
        result={"objects": []},
        agreement=0.9,
        decision="promote",
    )
    result.annotations.set(annotations)
    return result, annotations


def boxes(*specs):
    """``boxes((cat_id, x, y, w, h), ...)`` as a bbox payload."""
    return {"regions": [{"category_id": c, "bbox": [x, y, w, h]} for c, x, y, w, h in specs]}
