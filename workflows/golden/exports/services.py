"""Export jobs: request one (idempotent), build its archive (safe to run twice), read them.

A build claims its job with a conditional update (queued -> running), loads the version once,
writes the zip to a temporary file outside any transaction, stores it, and marks the job done
with a second conditional update, so a redelivered or concurrent task cannot build twice or
overwrite a finished job. A running job whose heartbeat stopped (its worker died) may be
claimed again after ``STALE_AFTER``.
"""

import logging
import tempfile
from datetime import timedelta

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from crowd.accounts import access
from crowd.common.exceptions import Forbidden, InvalidInput
from crowd.common.followups import follow_up
from workflows.golden.models import (
    EXPORT_REUSABLE,
    ExportFormat,
    ExportJob,
    ExportStatus,
    GoldenDatasetVersion,
)
from workflows.projects.models import Item
from workflows.webhooks.services import webhook_emit, webhook_event_id

from . import coco, voc, yolo
from .archive import Member, archive_write
from .manifest import manifest_build
from .snapshot import Snapshot, snapshot_load

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=15)
# Progress is written at most this often (in steps of the whole), not once per image.
PROGRESS_STEP = 0.02


def export_job_list_readable_by(user) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(project__in=access.project_list_reports_readable_by(user))


def export_request(
    *, version: GoldenDatasetVersion, format: str, actor, include_images: bool = True
) -> ExportJob:
    """Ask for an archive of ``version``; an equal job that is queued, running or done is
    returned instead of a new one. The build is queued when the new job is committed."""
    if format not in ExportFormat.values:
        raise InvalidInput(f"format must be one of {', '.join(ExportFormat.values)}")
    if not access.can_export(actor, version.project):
        raise Forbidden("only the project's manager or an operator may export its golden data")
    variant = {"version": version, "format": format, "include_images": include_images}
    existing = ExportJob.objects.filter(status__in=EXPORT_REUSABLE, **variant).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            job = ExportJob.objects.create(
                project_id=version.project_id, created_by=actor, **variant
            )
            follow_up("workflows.export_build", job.pk)
    except IntegrityError:
        # Someone asked for the same export at the same moment: theirs is ours.
        return ExportJob.objects.get(status__in=EXPORT_REUSABLE, **variant)
    return job


def _claim(job_id: int):
    """The claim's start time if this caller now holds the job, else None."""
    now = timezone.now()
    claimable = Q(status=ExportStatus.QUEUED) | Q(
        status=ExportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    claimed = ExportJob.objects.filter(claimable, pk=job_id).update(
        status=ExportStatus.RUNNING, progress=0.0, started_at=now, heartbeat_at=now, error=""
    )
    return now if claimed else None


def _members(snapshot: Snapshot, fmt: str, include_images: bool) -> list[Member]:
    storage = Item._meta.get_field("image").storage
    image_dir = "JPEGImages" if fmt == ExportFormat.VOC else "images"
    members = []
    for image in snapshot.images:
        if include_images:
            members.append(
                Member(f"{image_dir}/{image.file_name}",
                       lambda name=image.storage_name: _read(storage, name))
            )  # fmt: skip
        if fmt == ExportFormat.VOC:
            members.append(Member(f"Annotations/{image.stem}.xml",
                                  lambda image=image: voc.voc_xml(snapshot, image)))  # fmt: skip
        elif fmt == ExportFormat.YOLO:
            members.append(Member(f"labels/{image.stem}.txt",
                                  lambda image=image: yolo.yolo_label_file(snapshot, image)))  # fmt: skip
    if fmt == ExportFormat.COCO:
        members.append(Member("annotations.json", lambda: _json(coco.coco_build(snapshot))))
    elif fmt == ExportFormat.VOC:
        members.append(Member("ImageSets/Main/default.txt",
                              lambda: voc.voc_image_set(snapshot)))  # fmt: skip
        members.append(Member("labelmap.txt", lambda: voc.voc_labelmap(snapshot)))
    else:
        members.append(Member("classes.txt", lambda: yolo.yolo_classes(snapshot)))
        members.append(Member("data.yaml", lambda: yolo.yolo_data_yaml(snapshot)))
    return members


def _read(storage, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        return handle.read()


def _json(value) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=False).encode()


def _progress_writer(held: QuerySet):
    last = [0.0]

    def write(done: int, total: int) -> None:
        # The archive is 90% of the work; storing it and finishing is the rest.
        value = round(0.9 * done / max(total, 1), 4)
        if value - last[0] >= PROGRESS_STEP or done == total:
            last[0] = value
            held.update(progress=value, heartbeat_at=timezone.now())

    return write


def export_build(*, job_id: int) -> ExportJob | None:
    """Build the archive of a queued job. Returns the job, or None if there is no such job.

    Safe to run twice: only the caller whose conditional claim succeeds builds; a done or
    failed job, or one running elsewhere, is returned unchanged. A build error marks the job
    failed with the message (a new request then builds afresh) and is logged, not raised.
    """
    started_at = _claim(job_id)
    if started_at is None:
        return ExportJob.objects.filter(pk=job_id).first()
    # Every later write is conditional on still holding this claim.
    held = ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING, started_at=started_at)
    job = ExportJob.objects.select_related("version__project__label_schema").get(pk=job_id)
    try:
        snapshot = snapshot_load(job.version)
        members = _members(snapshot, job.format, job.include_images)
        with tempfile.TemporaryFile() as handle:
            archive_write(
                handle,
                members,
                total=len(members),
                manifest=lambda files: manifest_build(
                    snapshot, fmt=job.format, include_images=job.include_images, files=files
                ),
                on_progress=_progress_writer(held),
            )
            handle.seek(0)
            name = f"{job.project_id}-v{job.version.number}-{job.format}-{job.pk}.zip"
            job.file.save(name, File(handle), save=False)
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        held.update(
            status=ExportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )  # fmt: skip
        return ExportJob.objects.get(pk=job.pk)
    with transaction.atomic():
        finished = held.update(
            status=ExportStatus.DONE, file=job.file.name, progress=1.0, finished_at=timezone.now()
        )
        if finished:
            job.refresh_from_db()
            _announce_ready(job)
    if not finished:
        # Our claim went stale and another worker took the job over: keep theirs only.
        job.file.storage.delete(job.file.name)
        return ExportJob.objects.get(pk=job.pk)
    return job


def _announce_ready(job: ExportJob) -> None:
    webhook_emit(
        project=job.project,
        event="export.ready",
        event_id=webhook_event_id("export.ready", job.pk),
        payload={
            "export_id": job.pk,
            "version_id": job.version_id,
            "version_number": job.version.number,
            "format": job.format,
            "include_images": job.include_images,
            "download_path": reverse("export-download", kwargs={"pk": job.pk}),
        },
    )
