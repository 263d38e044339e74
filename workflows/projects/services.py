"""Project verbs: label schemas, projects, datasets, and putting images into them.

Every write here runs in one transaction; image files written before a failure are deleted
again, so a refused upload or import leaves neither rows nor files behind.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError

from crowd.accounts.models import Role
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput

from .images import ImageFile, image_read
from .models import (
    AnnotationKind,
    Category,
    Dataset,
    Item,
    LabelSchema,
    Project,
    ProjectStatus,
)
from .validation import ImageFrame, payload_validate

# Which status a project may move to from each status.
STATUS_TRANSITIONS = {
    ProjectStatus.DRAFT: {ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED},
    ProjectStatus.ACTIVE: {ProjectStatus.PAUSED, ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED},
    ProjectStatus.PAUSED: {ProjectStatus.ACTIVE, ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED},
    ProjectStatus.COMPLETED: {ProjectStatus.ARCHIVED, ProjectStatus.ACTIVE},
    ProjectStatus.ARCHIVED: set(),
}


def _full_clean(instance, **kwargs) -> None:
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise InvalidInput(_first_error(exc), details=exc.message_dict) from None


def _first_error(exc: ValidationError) -> str:
    for name, messages in exc.message_dict.items():
        prefix = "" if name == "__all__" else f"{name}: "
        return prefix + messages[0]
    return "invalid"


# -- label schemas ---------------------------------------------------------------------------


def _categories_write(schema: LabelSchema, categories: list[dict]) -> None:
    names = [c.get("name") for c in categories]
    if not categories:
        raise InvalidInput("a label schema needs at least one category")
    if len(set(names)) != len(names):
        raise InvalidInput("category names must be unique within a schema")
    for position, spec in enumerate(categories):
        keypoints = spec.get("keypoint_names") or []
        if schema.kind == AnnotationKind.KEYPOINTS and not keypoints:
            raise InvalidInput(f"category {spec.get('name')!r}: keypoint schemas name their points")
        category = Category(
            schema=schema,
            name=spec.get("name") or "",
            position=position,
            color=spec.get("color") or "#e6194b",
            keypoint_names=keypoints,
            skeleton=spec.get("skeleton") or [],
        )
        _full_clean(category, exclude=["schema"])
        category.save()


@transaction.atomic
def label_schema_create(*, owner, name: str, kind: str, categories: list[dict]) -> LabelSchema:
    schema = LabelSchema(owner=owner, name=name, kind=kind)
    _full_clean(schema)
    schema.save()
    _categories_write(schema, categories)
    return schema


def _schema_in_use(schema: LabelSchema) -> bool:
    return Item.objects.filter(project__label_schema=schema, annotations__isnull=False).exists()


@transaction.atomic
def label_schema_update(
    *, schema: LabelSchema, name: str | None = None, categories: list[dict] | None = None
) -> LabelSchema:
    """Rename, or replace the categories while no annotation refers to them."""
    schema = LabelSchema.objects.select_for_update(no_key=True).get(pk=schema.pk)
    if name is not None:
        schema.name = name
        _full_clean(schema)
        schema.save(update_fields=["name"])
    if categories is not None:
        if _schema_in_use(schema):
            raise Conflict("categories cannot change once items of this schema are annotated")
        schema.categories.all().delete()
        _categories_write(schema, categories)
    return schema


def label_schema_delete(*, schema: LabelSchema) -> None:
    try:
        schema.delete()
    except ProtectedError:
        raise Conflict("this label schema is used by a project") from None


# -- projects --------------------------------------------------------------------------------


def _members_set(project: Project, *, auditors=None, reviewers=None) -> None:
    if auditors is not None:
        if any(user.role != Role.AUDITOR for user in auditors):
            raise InvalidInput("auditors must be users with the auditor role")
        project.auditors.set(auditors)
    if reviewers is not None:
        if any(user.role != Role.REVIEWER for user in reviewers):
            raise InvalidInput("reviewers must be users with the reviewer role")
        project.reviewers.set(reviewers)


def _schema_check_usable(schema: LabelSchema, owner) -> None:
    if schema.owner_id != owner.pk and not (owner.is_staff or owner.is_superuser):
        raise Forbidden("you can only use your own label schemas")


@transaction.atomic
def project_create(
    *, owner, label_schema: LabelSchema, auditors=None, reviewers=None, **fields
) -> Project:
    _schema_check_usable(label_schema, owner)
    status = fields.pop("status", ProjectStatus.DRAFT)
    if status not in (ProjectStatus.DRAFT, ProjectStatus.ACTIVE):
        raise InvalidInput("a new project starts as draft or active")
    project = Project(owner=owner, label_schema=label_schema, status=status, **fields)
    _full_clean(project)
    project.save()
    _members_set(project, auditors=auditors, reviewers=reviewers)
    return project


@transaction.atomic
def project_update(*, project: Project, auditors=None, reviewers=None, **fields) -> Project:
    """Change settings. A status change must be an allowed transition; raising the minimum
    redundancy raises the labels wanted of items still open."""
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    new_status = fields.get("status", project.status)
    if new_status != project.status and new_status not in STATUS_TRANSITIONS[project.status]:
        raise Conflict(f"a {project.status} project cannot become {new_status}")
    if "label_schema" in fields and fields["label_schema"].pk != project.label_schema_id:
        if project.items.filter(annotations__isnull=False).exists():
            raise Conflict("the label schema cannot change once items are annotated")
        _schema_check_usable(fields["label_schema"], project.owner)
    for name, value in fields.items():
        setattr(project, name, value)
    _full_clean(project)
    project.save()
    _members_set(project, auditors=auditors, reviewers=reviewers)
    if "min_redundancy" in fields:
        project.items.filter(state="open", labels_wanted__lt=project.min_redundancy).update(
            labels_wanted=project.min_redundancy
        )
    return project


def project_delete(*, project: Project) -> None:
    """Delete a project that has no assignments, annotations or ledger entries yet."""
    try:
        with transaction.atomic():
            project.delete()
    except (ProtectedError, IntegrityError):
        raise Conflict("this project has work or money attached; archive it instead") from None


# -- datasets and items ----------------------------------------------------------------------


def dataset_create(*, project: Project, name: str, created_by) -> Dataset:
    dataset = Dataset(project=project, name=name, created_by=created_by)
    _full_clean(dataset)
    try:
        with transaction.atomic():
            dataset.save()
    except IntegrityError:
        raise Conflict(f"this project already has a dataset named {name!r}") from None
    return dataset


def gold_answer_check(*, project: Project, width: int, height: int, answer) -> dict:
    categories = {c.pk: c.keypoint_names for c in project.label_schema.categories.all()}
    return payload_validate(
        answer,
        kind=project.label_schema.kind,
        categories=categories,
        frame=ImageFrame(width=width, height=height),
    )


def _item_build(dataset: Dataset, image: ImageFile, *, priority: int, gold_answer) -> Item:
    project = dataset.project
    if gold_answer is not None:
        gold_answer_check(
            project=project, width=image.width, height=image.height, answer=gold_answer
        )
    item = Item(
        project=project,
        dataset=dataset,
        original_name=image.name[:255],
        width=image.width,
        height=image.height,
        content_hash=image.sha256,
        is_gold=gold_answer is not None,
        gold_answer=gold_answer,
        priority=priority,
        labels_wanted=project.min_redundancy,
    )
    item.image.save(image.storage_name, image.as_django_file(), save=False)
    return item


@dataclass
class ImportReport:
    created: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "created": len(self.created),
            "item_ids": self.created,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


def items_create(
    *,
    dataset: Dataset,
    files: Iterable[tuple[str, bytes]],
    skip_invalid: bool = False,
    priority: int = 0,
    gold_answers: dict[str, dict] | None = None,
) -> ImportReport:
    """Add images to a dataset, all or nothing.

    ``files`` yields (name, bytes). Images already in the dataset (same SHA-256) are reported
    as duplicates and skipped. An unreadable image refuses the whole batch unless
    ``skip_invalid``; then it is listed in ``rejected`` with the reason.
    """
    report, items = ImportReport(), []
    seen = set(dataset.items.values_list("content_hash", flat=True))
    gold_answers = gold_answers or {}
    try:
        with transaction.atomic():
            for name, data in files:
                try:
                    image = image_read(name, data)
                    if image.sha256 in seen:
                        report.duplicates.append(name)
                        continue
                    item = _item_build(
                        dataset, image, priority=priority, gold_answer=gold_answers.get(name)
                    )
                except InvalidInput as exc:
                    if not skip_invalid:
                        raise InvalidInput(f"{name}: {exc.message}") from None
                    report.rejected[name] = exc.message
                    continue
                items.append(item)
                seen.add(image.sha256)
                item.save()
                report.created.append(item.pk)
    except BaseException:
        for item in items:
            item.image.storage.delete(item.image.name)
        raise
    return report


@transaction.atomic
def item_update(*, item: Item, priority: int | None = None, gold_answer=...) -> Item:
    """Change priority, or make an item gold (with its answer) or not gold (``None``)."""
    item = Item.objects.select_for_update(no_key=True).get(pk=item.pk)
    if priority is not None:
        item.priority = priority
    if gold_answer is not ...:
        if item.annotations.exists():
            raise Conflict("an item cannot change its gold status once it is annotated")
        if gold_answer is not None:
            gold_answer_check(
                project=item.project, width=item.width, height=item.height, answer=gold_answer
            )
        item.is_gold, item.gold_answer = gold_answer is not None, gold_answer
    item.save()
    return item


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset and its images while none of them has been handed out."""
    names = list(dataset.items.values_list("image", flat=True))
    try:
        with transaction.atomic():
            dataset.delete()
    except ProtectedError:
        raise Conflict("items of this dataset have assignments; it cannot be deleted") from None
    storage = Item._meta.get_field("image").storage
    transaction.on_commit(lambda: [storage.delete(name) for name in names])


def item_delete(*, item: Item) -> None:
    try:
        with transaction.atomic():
            name, storage = item.image.name, item.image.storage
            item.delete()
    except ProtectedError:
        raise Conflict("this item has assignments or annotations and cannot be deleted") from None
    transaction.on_commit(lambda: storage.delete(name))
