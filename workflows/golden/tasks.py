"""Celery tasks of the golden app: thin, idempotent wrappers (consensus runs are the pipeline's:
workflows/pipeline/tasks.py)."""

from celery import shared_task

from workflows.golden.exports.services import export_build


@shared_task(name="workflows.export_build", acks_late=True)
def export_build_task(job_id: int) -> str | None:
    """Build the archive of export job ``job_id``; a repeat finds the job claimed or done."""
    job = export_build(job_id=job_id)
    return job.status if job is not None else None
