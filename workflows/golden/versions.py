"""Golden dataset versions: freeze the current golden labels into a numbered, immutable
snapshot, compare two snapshots, and who may read them.

A version never changes after it is written: there is no update verb, and its annotation set
is fixed at creation. Later promotions only reach the next version.
"""

import hashlib
import json
from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from crowd.accounts import access
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from workflows.projects.models import AnnotationKind, Project
from workflows.webhooks.services import webhook_emit, webhook_event_id

from .models import GoldenAnnotation, GoldenDatasetVersion

# The project settings that decide what is promoted, recorded with every version.
PROJECT_PARAMETERS = ("min_redundancy", "max_redundancy", "accept_agreement", "accept_relaxed",
                      "accept_relaxed_from", "iou_threshold", "quorum")  # fmt: skip


# -- reads -----------------------------------------------------------------------------------


def golden_version_list_readable_by(user) -> QuerySet[GoldenDatasetVersion]:
    """Versions are for a project's owner, its auditors and operators (its reports): workers
    never see them, and neither do reviewers, who judge labels, not datasets."""
    return GoldenDatasetVersion.objects.filter(
        project__in=access.project_list_reports_readable_by(user)
    )


def golden_annotations_current(*, project: Project) -> QuerySet[GoldenAnnotation]:
    """The golden label of every non-gold item now: what the next freeze would take."""
    return GoldenAnnotation.objects.filter(
        project=project, superseded_at__isnull=True, item__is_gold=False
    )


def regions_of(kind: str, payload: dict) -> list[dict]:
    """A payload's regions; a classification answer counts as one whole-image region."""
    if kind == AnnotationKind.CLASSIFICATION:
        return [{"category_id": payload["category_id"]}] if "category_id" in payload else []
    return list(payload.get("regions") or [])


# -- freezing --------------------------------------------------------------------------------


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def golden_content_hash(pairs: list[tuple[str, dict]]) -> str:
    """SHA-256 of the sorted (image content hash, payload) pairs, as canonical JSON.

    Depends only on what the images are and how they are labelled: not on row ids, promotion
    times or order, so the same labels on the same images always hash the same.
    """
    rows = sorted(_canonical([content, payload]) for content, payload in pairs)
    return hashlib.sha256(("[" + ",".join(rows) + "]").encode()).hexdigest()


def _counts(project: Project, annotations: list[GoldenAnnotation]) -> dict:
    kind = project.label_schema.kind
    names = {c.pk: c.name for c in project.label_schema.categories.all()}
    per_category = Counter({name: 0 for name in names.values()})
    regions = 0
    for golden in annotations:
        for region in regions_of(kind, golden.payload):
            regions += 1
            per_category[names.get(region.get("category_id"), str(region.get("category_id")))] += 1
    return {"items": len(annotations), "regions": regions, "per_category": dict(per_category)}


def _parameters(project: Project, annotations: list[GoldenAnnotation]) -> dict:
    results = [g.consensus_result for g in annotations if g.consensus_result_id]
    schema = project.label_schema
    return {
        "project": {name: getattr(project, name) for name in PROJECT_PARAMETERS},
        "consensus": {
            "methods": sorted({r.method for r in results}),
            "package_versions": sorted({r.package_version for r in results}),
            "parameters": sorted({_canonical(r.parameters) for r in results}),
        },
        "reviewed": sum(1 for g in annotations if g.reviewed_by_id),
        "label_schema": {
            "id": schema.pk,
            "kind": schema.kind,
            "categories": [{"id": c.pk, "name": c.name} for c in schema.categories.all()],
        },
    }


def golden_version_check_can_freeze(*, project: Project, actor) -> None:
    if not access.can_manage_project(actor, project):
        raise Forbidden("only the project's manager or an operator may freeze a version")


def golden_version_freeze(*, project: Project, actor) -> GoldenDatasetVersion:
    """Freeze the project's current golden labels (gold items excluded) as the next version.

    Numbering is race-safe: the project row is locked while the last number is read, and the
    unique (project, number) constraint is the last line should the lock not hold (SQLite).
    Refused with Conflict when there is nothing to freeze or nothing changed since the last
    version. ``version.frozen`` is emitted in the same transaction (sent only if it commits).
    """
    golden_version_check_can_freeze(project=project, actor=actor)
    try:
        with transaction.atomic():
            project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
            annotations = list(
                golden_annotations_current(project=project)
                .select_related("item", "consensus_result")
                .order_by("item_id")
            )
            if not annotations:
                raise Conflict("there are no promoted golden labels to freeze")
            content_hash = golden_content_hash(
                [(g.item.content_hash, g.payload) for g in annotations]
            )
            last = project.golden_versions.order_by("-number").first()
            if last is not None and last.content_hash == content_hash:
                raise Conflict(
                    f"nothing changed since version {last.number}",
                    details={"version": last.pk, "number": last.number},
                )
            number = (project.golden_versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = GoldenDatasetVersion.objects.create(
                project=project,
                number=number,
                content_hash=content_hash,
                counts=_counts(project, annotations),
                parameters=_parameters(project, annotations),
                created_by=actor,
            )
            version.annotations.set(annotations)
            _announce_frozen(version)
    except IntegrityError:
        raise Conflict("another version was frozen at the same moment; try again") from None
    return version


def _announce_frozen(version: GoldenDatasetVersion) -> None:
    webhook_emit(
        project=version.project,
        event="version.frozen",
        event_id=webhook_event_id("version.frozen", version.pk),
        payload={
            "version_id": version.pk,
            "number": version.number,
            "content_hash": version.content_hash,
            "counts": version.counts,
        },
    )


# -- comparing -------------------------------------------------------------------------------


def golden_version_diff(*, base: GoldenDatasetVersion, other: GoldenDatasetVersion) -> dict:
    """What changed from ``base`` to ``other``, by item.

    ``added``/``removed`` list item ids labelled in only one of them; ``changed`` lists items
    whose payload differs, with both payloads and golden annotation ids. A re-promotion with
    the same payload is not a change.
    """
    if base.project_id != other.project_id:
        raise InvalidInput("versions of different projects cannot be compared")
    old = {g.item_id: g for g in base.annotations.all()}
    new = {g.item_id: g for g in other.annotations.all()}
    changed = [
        {
            "item_id": item_id,
            "old_annotation_id": old[item_id].pk,
            "new_annotation_id": new[item_id].pk,
            "old": old[item_id].payload,
            "new": new[item_id].payload,
        }
        for item_id in sorted(old.keys() & new.keys())
        if _canonical(old[item_id].payload) != _canonical(new[item_id].payload)
    ]
    return {
        "base": {"id": base.pk, "number": base.number, "content_hash": base.content_hash},
        "other": {"id": other.pk, "number": other.number, "content_hash": other.content_hash},
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": changed,
        "unchanged": len(old.keys() & new.keys()) - len(changed),
    }
