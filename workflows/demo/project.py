"""The demo project: its label schema, qualifications, dataset of generated images, and the
ground-truth file that matches the database's items."""

from collections.abc import Sequence
from pathlib import Path

from crowd.accounts.models import User
from crowd.qualifications.models import QualificationRequirement, QualificationType
from crowd.qualifications.services import qualification_type_create, requirement_create
from workflows.projects.models import AnnotationKind, Dataset, LabelSchema, Project, ProjectStatus
from workflows.projects.services import (
    dataset_create,
    items_create,
    label_schema_create,
    project_create,
)

from .files import file_write_private, json_load
from .scenes import CLASSES, Scene, bbox_payload, coco_ground_truth, scenes_generate

PROJECT_NAME = "Shapes (demo)"
DATASET_NAME = "Generated shapes"
REWARD_MINOR, MIN_REDUNDANCY, MAX_REDUNDANCY = 5, 3, 5
TRAINING_QUALIFICATION = "Shapes training"
CAREFUL_QUALIFICATION = "Careful annotator"


def qualifications_ensure(project: Project, owner: User) -> None:
    training = QualificationType.objects.filter(name=TRAINING_QUALIFICATION).first()
    if training is None:
        training = qualification_type_create(
            owner=owner,
            name=TRAINING_QUALIFICATION,
            description="Read the shapes instructions; granted on first request.",
            auto_grant=True,
            auto_grant_value=1,
        )
    if not QualificationType.objects.filter(name=CAREFUL_QUALIFICATION).exists():
        qualification_type_create(
            owner=owner,
            name=CAREFUL_QUALIFICATION,
            description="Granted by a manager to workers whose boxes are consistently tight.",
        )
    if not QualificationRequirement.objects.filter(
        project=project, qualification_type=training
    ).exists():
        requirement_create(project=project, qualification_type=training, comparator="exists")


def project_ensure(users: dict[str, User], *, images: int) -> tuple[Project, bool]:
    manager = users["demo-manager"]
    project = Project.objects.filter(owner=manager, name=PROJECT_NAME).first()
    if project is not None:
        return project, False
    schema = LabelSchema.objects.filter(owner=manager, name=PROJECT_NAME).first()
    if schema is None:
        schema = label_schema_create(
            owner=manager,
            name=PROJECT_NAME,
            kind=AnnotationKind.BBOX,
            categories=[{"name": name, "color": color} for name, color in CLASSES],
        )
    project = project_create(
        owner=manager,
        label_schema=schema,
        name=PROJECT_NAME,
        description="Draw a box around every square, circle and triangle.",
        instructions=(
            "Draw one tight box around each filled shape and pick its class: square, circle "
            "or triangle. Ignore the noisy background; an image may hold one to four shapes."
        ),
        status=ProjectStatus.ACTIVE,
        min_redundancy=MIN_REDUNDANCY,
        max_redundancy=MAX_REDUNDANCY,
        reward_minor=REWARD_MINOR,
        currency="USD",
        # Enough to pay for every image at the maximum redundancy, twice over.
        budget_minor=2 * images * MAX_REDUNDANCY * REWARD_MINOR,
        gold_rate=0.1,
        auditors=[users["demo-auditor"]],
        reviewers=[users["demo-reviewer"]],
    )
    return project, True


def category_ids_of(project: Project) -> dict[str, int]:
    return {c.name: c.pk for c in project.label_schema.categories.all()}


def dataset_fill(project: Project, manager: User, scenes: Sequence[Scene]) -> Dataset:
    dataset = dataset_create(project=project, name=DATASET_NAME, created_by=manager)
    category_ids = category_ids_of(project)
    items_create(
        dataset=dataset,
        files=[(scene.name, scene.png) for scene in scenes],
        gold_answers={
            scene.name: bbox_payload(scene.shapes, category_ids)
            for scene in scenes
            if scene.is_gold
        },
    )
    return dataset


def ground_truth_ensure(project: Project, path: Path, *, images: int, seed: int) -> dict:
    """The saved ground truth if it describes this database's items, else rebuilt from the
    scenes (matched to items by image hash) and saved."""
    item_ids = {
        digest: pk
        for digest, pk in project.items.filter(dataset__name=DATASET_NAME).values_list(
            "content_hash", "pk"
        )
    }
    saved = json_load(path)
    if saved and {image["sha256"]: image["id"] for image in saved.get("images", [])} == item_ids:
        return saved
    truth = coco_ground_truth(
        scenes_generate(images=images, seed=seed), item_ids, category_ids_of(project), seed=seed
    )
    file_write_private(path, truth)
    return truth
