"""Celery tasks of the golden app (consensus runs are the pipeline's: workflows/pipeline/tasks.py)."""
