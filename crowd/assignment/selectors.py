"""Who sees which assignments: a worker only their own; managers, reviewers and auditors
those of the projects whose data they may read."""

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from crowd.accounts import access
from crowd.accounts.models import Role
from crowd.common.exceptions import Forbidden, NotFound
from workflows.projects.models import Category, Item, LabelSchema, Project

from .models import Assignment, Block


def assignment_list_visible_for(user) -> QuerySet[Assignment]:
    if access.is_operator(user):
        return Assignment.objects.all()
    if user.role == Role.WORKER:
        return Assignment.objects.filter(worker=user)
    return Assignment.objects.filter(
        Q(project__in=access.project_list_readable_data_for(user)) | Q(worker=user)
    )


def access_assignment_for_worker_act(user, assignment_id: int) -> None:
    """Refuse anyone but a worker acting on their own assignment (submit, return, extend,
    appeal): Forbidden if they may see the assignment, NotFound if not. Workers pass without
    a query: the service finds only their own assignments, so another's is a NotFound."""
    if access.can_take_tasks(user):
        return
    if assignment_list_visible_for(user).filter(pk=assignment_id).exists():
        raise Forbidden("only the worker who holds this assignment may do this")
    raise NotFound(f"no assignment {assignment_id}")


def block_list_visible_for(user) -> QuerySet[Block]:
    """Managers see blocks on their projects and every global block; a worker its own;
    auditors those of the projects they audit. Reviewers none: a block is about people,
    and reviewers see items and labels."""
    if access.is_operator(user):
        return Block.objects.all()
    if user.role == Role.MANAGER:
        return Block.objects.filter(Q(project__owner=user) | Q(project__isnull=True))
    if user.role == Role.WORKER:
        return Block.objects.filter(worker=user)
    return Block.objects.filter(project__in=access.project_list_audited_by(user))


@dataclass(frozen=True)
class LeaseBrief:
    """What a worker needs besides the lease itself: the image's size and the label schema."""

    width: int
    height: int
    kind: str
    instructions: str
    max_lease_extensions: int
    categories: list[dict]


def lease_brief(assignment: Assignment) -> LeaseBrief:
    """The brief of a lease (what the worker needs to do it) in two plain queries (no ORM query building, no model instances:
    they cost the claim endpoint more than the claim). Categories in the model's order."""
    item, project = Item._meta.db_table, Project._meta.db_table
    schema, category = LabelSchema._meta.db_table, Category._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.width, i.height, s.kind, p.instructions, p.max_lease_extensions, s.id "
            f"FROM {item} i JOIN {project} p ON p.id = i.project_id "
            f"JOIN {schema} s ON s.id = p.label_schema_id WHERE i.id = %s",
            [assignment.item_id],
        )
        width, height, kind, instructions, extensions, schema_id = cursor.fetchone()
        cursor.execute(
            f"SELECT id, name, color, keypoint_names, skeleton FROM {category} "
            f"WHERE schema_id = %s ORDER BY position, id",
            [schema_id],
        )
        categories = [
            {
                "id": pk,
                "name": name,
                "color": color,
                "keypoint_names": _json(names),
                "skeleton": _json(skeleton),
            }
            for pk, name, color, names, skeleton in cursor.fetchall()
        ]
    return LeaseBrief(width, height, kind, instructions, extensions, categories)


def _json(value):
    """A JSON column read by a raw cursor: text (Django leaves decoding to the field)."""
    return json.loads(value) if isinstance(value, str) else value
