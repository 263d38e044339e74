"""The demo's whole loop: a simulated crowd labels the demo project, a reviewer settles what
the crowd could not agree on, the manager freezes a version and exports it.

Runs through the same services people use (claim, submit, consensus on commit, review,
freeze, export), so what the demo shows is what the system does.
"""

from dataclasses import dataclass
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction

from crowd.accounts.services import user_create
from workflows.golden.exports.services import export_request
from workflows.golden.versions import golden_version_freeze
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.consensus import review_decide
from workflows.pipeline.submit import annotation_submit
from workflows.projects.models import ItemState, Project

from .simulated_crowd import crowd_answers_simulate, crowd_work

SIMULATED_WORKERS = 8


@dataclass(frozen=True)
class DemoLoop:
    promoted: int
    escalated_resolved: int
    labels: int
    version: int
    export_status: str


def _simulated_workers(n: int) -> list:
    User = get_user_model()
    workers = []
    for i in range(1, n + 1):
        name = f"sim-worker-{i:02d}"
        user = User.objects.filter(username=name).first()
        if user is None:
            # Simulated people never log in: an unusable password.
            user = user_create(username=name, password=None, role="worker")
        workers.append(user)
    return workers


def _claim(worker, project_id: int) -> tuple[int, int]:
    lease = assignment_claim_next(worker=worker, project_id=project_id).assignment
    return lease.pk, lease.item_id


def _submit(worker, assignment_id: int, payload: dict) -> None:
    # Each submit commits on its own, so its consensus job runs as it would in production.
    with transaction.atomic():
        annotation_submit(worker=worker, assignment_id=assignment_id, payload=payload)


def demo_pipeline_run(
    *, project: Project, ground_truth: dict, seed: int = 7, stdout: TextIO | None = None
) -> DemoLoop:
    """Run the loop once; a project that already has a golden version is left as it is."""
    version = project.golden_versions.order_by("-number").first()
    if version is None:
        workers = _simulated_workers(SIMULATED_WORKERS)
        answers = crowd_answers_simulate(
            ground_truth=ground_truth, workers=len(workers), seed=seed, spammer_share=0.125
        )
        crowd_work(
            project_id=project.pk, workers=workers, answers=answers, claim=_claim, submit=_submit
        )
        reviewer = project.reviewers.first()
        escalated = list(
            project.items.filter(state=ItemState.ESCALATED).values_list("pk", flat=True)
        )
        for item_id in escalated:
            review_decide(
                reviewer=reviewer, item_id=item_id, action="accept", candidate="consensus"
            )
        version = golden_version_freeze(project=project, actor=project.owner)
    job = export_request(version=version, format="coco", actor=project.owner)
    job.refresh_from_db()
    loop = DemoLoop(
        promoted=project.golden_annotations.filter(superseded_at__isnull=True).count(),
        escalated_resolved=project.golden_annotations.filter(reviewed_by__isnull=False).count(),
        labels=project.assignments.filter(status__in=["submitted", "approved"]).count(),
        version=version.number,
        export_status=job.status,
    )
    if stdout is not None:
        stdout.write(
            f"\nDemo crowd: {SIMULATED_WORKERS} simulated workers bought {loop.labels} labels; "
            f"{loop.promoted} items promoted ({loop.escalated_resolved} settled by the "
            f"reviewer); golden version v{loop.version} frozen; COCO export {loop.export_status}"
            f" (GET /api/v1/exports/{job.pk}/download/ as demo-manager).\n"
        )
    return loop
