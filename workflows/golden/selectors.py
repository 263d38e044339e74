"""Reads of the golden pipeline: the review queue with its candidates, golden labels."""

from django.db.models import Prefetch, QuerySet
from django.urls import reverse

from crowd.accounts.access import project_list_readable_data_for
from crowd.labeling.models import Annotation
from workflows.projects.models import Item, ItemState, Project

from .models import ConsensusResult, GoldenAnnotation


def review_queue_for(*, project: Project, limit: int = 50) -> list[dict]:
    """Escalated items, oldest first, each with its candidates: the last consensus result and
    every answer (so a reviewer can overlay them)."""
    items = (
        Item.objects.filter(project=project, state=ItemState.ESCALATED, is_gold=False)
        .order_by("pk")
        .prefetch_related(
            Prefetch("annotations", queryset=Annotation.objects.order_by("pk")),
            Prefetch("consensus_results", queryset=ConsensusResult.objects.order_by("-round")),
        )[:limit]
    )
    queue = []
    for item in items:
        latest = next(iter(item.consensus_results.all()), None)
        candidates = [
            {"id": str(a.pk), "worker": a.worker_id, "source": a.source, "payload": a.payload}
            for a in item.annotations.all()
        ]
        if latest is not None:
            candidates.insert(
                0,
                {
                    "id": "consensus",
                    "worker": None,
                    "source": "consensus",
                    "payload": latest.result,
                },
            )
        queue.append(
            {
                "item": item.pk,
                "image_url": reverse("item-image", kwargs={"pk": item.pk}),
                "width": item.width,
                "height": item.height,
                "agreement": latest.agreement if latest else None,
                "candidates": candidates,
            }
        )
    return queue


def golden_annotation_list_visible_for(user) -> QuerySet[GoldenAnnotation]:
    return GoldenAnnotation.objects.filter(
        project__in=project_list_readable_data_for(user)
    ).select_related("consensus_result")


def consensus_result_list_visible_for(user) -> QuerySet[ConsensusResult]:
    return ConsensusResult.objects.filter(item__project__in=project_list_readable_data_for(user))
