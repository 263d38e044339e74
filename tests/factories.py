"""Small keyword-only helpers that build test data through the services."""

import io
import itertools

from django.utils import timezone
from PIL import Image

from crowd.accounts.services import api_token_get_or_create, user_create
from crowd.assignment.models import Assignment
from crowd.labeling.models import Annotation
from workflows.projects import services as project_services

_counter = itertools.count(1)
PASSWORD = "a-long-test-password-1"


def make_user(username: str | None = None, *, role: str = "worker", **extra):
    username = username or f"user{next(_counter)}"
    return user_create(username=username, password=PASSWORD, role=role, **extra)


def token_for(user) -> str:
    return api_token_get_or_create(user=user)


def make_schema(*, owner, kind: str = "bbox", names=("cat", "dog"), name: str | None = None):
    categories = [{"name": n} for n in names]
    if kind == "keypoints":
        categories = [{"name": n, "keypoint_names": ["head", "tail"]} for n in names]
    return project_services.label_schema_create(
        owner=owner, name=name or f"schema {next(_counter)}", kind=kind, categories=categories
    )


def make_project(*, owner, schema=None, status: str = "active", **fields):
    schema = schema or make_schema(owner=owner)
    fields.setdefault("name", f"project {next(_counter)}")
    return project_services.project_create(
        owner=owner, label_schema=schema, status=status, **fields
    )


def png_bytes(width: int = 64, height: int = 48, *, seed: int | None = None) -> bytes:
    """A small PNG whose content differs per seed (so content hashes differ)."""
    seed = next(_counter) if seed is None else seed
    image = Image.new("RGB", (width, height), (seed % 256, (seed // 256) % 256, 99))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_dataset(*, project, name: str | None = None):
    return project_services.dataset_create(
        project=project, name=name or f"dataset {next(_counter)}", created_by=project.owner
    )


def make_item(*, project, dataset=None, gold_answer=None, width: int = 64, height: int = 48):
    dataset = dataset or project.datasets.first() or make_dataset(project=project)
    name = f"img{next(_counter)}.png"
    report = project_services.items_create(
        dataset=dataset,
        files=[(name, png_bytes(width, height))],
        gold_answers={name: gold_answer} if gold_answer is not None else None,
    )
    return dataset.items.get(pk=report.created[0])


def make_assignment(*, item, worker, status: str = "leased", **fields):
    """An assignment row as the assignment service will write it (no claim logic here)."""
    now = timezone.now()
    fields.setdefault("leased_at", now)
    fields.setdefault("lease_expires_at", now + timezone.timedelta(minutes=15))
    if status in ("submitted", "approved", "rejected"):
        fields.setdefault("submitted_at", now)
    return Assignment.objects.create(
        project=item.project, item=item, worker=worker, status=status, **fields
    )


def make_annotation(*, assignment, payload=None):
    return Annotation.objects.create(
        item=assignment.item,
        assignment=assignment,
        worker=assignment.worker,
        kind=assignment.project.label_schema.kind,
        payload=payload if payload is not None else {"regions": []},
    )


def make_gold_turn_worker(project):
    """A new worker whose first claim on ``project`` is a gold turn: the draw is deterministic
    per (worker, project), so a test that needs gold must not count on its ids' luck."""
    from crowd.assignment.gold import gold_turn

    while True:
        worker = make_user()
        if gold_turn(worker_id=worker.pk, project_id=project.pk, gold_rate=project.gold_rate,
                     handed_out=0):  # fmt: skip
            return worker
