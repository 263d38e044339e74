"""Storing an answer: validate it against the schema and the image, store it once.

:func:`annotation_store` runs inside the submit's transaction (workflows.pipeline.submit), which
holds the assignment row's lock, so a double click, a retry after a dropped reply, or two
parallel requests give one annotation: the repeat of the same answer gets the first result back;
a different answer for a submitted assignment is a 409.
"""

from dataclasses import dataclass
from datetime import datetime

from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.assignment.services import assignment_check_live, assignment_get_own_locked
from crowd.common.exceptions import AlreadySubmitted
from crowd.qualifications.scoring import answer_score
from workflows.projects.models import Item
from workflows.projects.validation import ImageFrame, payload_validate

from .models import Annotation, AnnotationSource


@dataclass(frozen=True)
class SubmitResult:
    annotation: Annotation
    created: bool


def _schema_categories(project) -> dict[int, list[str]]:
    return {c.pk: c.keypoint_names for c in project.label_schema.categories.all()}


def annotation_store(*, worker, assignment_id: int, payload, now: datetime) -> SubmitResult:
    """Store the worker's answer for a live lease and mark the assignment submitted (scored,
    for a gold item). Call inside a transaction; see the module docstring for repeats."""
    assignment = assignment_get_own_locked(worker=worker, assignment_id=assignment_id)
    # A leased assignment has no answer yet (submitting ends the lease in the same
    # transaction), so only a finished one needs the look for a repeat.
    existing = None
    if assignment.status != AssignmentStatus.LEASED:
        existing = Annotation.objects.filter(assignment=assignment).first()
    if existing is not None:
        if existing.payload == payload:
            return SubmitResult(existing, created=False)
        raise AlreadySubmitted(
            "this assignment was already submitted with a different answer",
            details={"annotation_id": existing.pk},
        )
    assignment_check_live(assignment, now=now)
    project, item = assignment.project, assignment.item
    kind = project.label_schema.kind
    payload_validate(
        payload,
        kind=kind,
        categories=_schema_categories(project),
        frame=ImageFrame(width=item.width, height=item.height),
    )
    annotation = Annotation.objects.create(
        item=item, assignment=assignment, worker=worker, kind=kind, payload=payload
    )
    assignment.status, assignment.submitted_at = AssignmentStatus.SUBMITTED, now
    fields = ["status", "submitted_at"]
    if item.is_gold:
        assignment.gold_score = answer_score(
            kind=kind,
            answer=payload,
            gold=item.gold_answer,
            iou_threshold=project.iou_threshold,
        )
        fields.append("gold_score")
    Assignment.objects.filter(pk=assignment.pk).update(
        **{name: getattr(assignment, name) for name in fields}
    )
    return SubmitResult(annotation, created=True)


def item_answers_complete(item: Item) -> bool:
    """Whether every label the item wants is in. Call inside the submit's transaction.

    The last answers of an item may arrive at once: the item's row lock makes the last submit
    see every other answer, so exactly one of them finds the item complete. NO KEY: each submit
    already holds a key-share lock on the item (its annotation's foreign key), which a plain
    FOR UPDATE would wait on: two last submits would deadlock.
    """
    if item.slots_taken < item.labels_wanted:
        return False  # some slot is still free, so some label is still to come
    Item.objects.select_for_update(no_key=True).filter(pk=item.pk).first()
    answers = Annotation.objects.filter(
        item=item,
        source=AnnotationSource.CROWD,
        assignment__status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED],
    ).count()
    return answers >= item.labels_wanted
