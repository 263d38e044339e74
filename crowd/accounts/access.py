"""Who may see and change what: the one access policy of the API and the pages.

The README's roles table, as code. Staff and superusers (operators) see and change everything;
otherwise the role decides. A resource you may not see is a 404 (``NotFound``), one you may
see but not change a 403 (``Forbidden``). Three kinds of name, in Zulip's style:

- ``project_list_…``: the projects a user may see, read the data of, manage, …;
- ``can_…``: a yes or no about one user (and one project);
- ``access_…`` / ``check_…``: return what the user asked for, or raise NotFound or Forbidden.

Only ``workflows.projects`` (below accounts in the layer order) is imported here; the apps
above build their own querysets from these project sets.
"""

from django.db.models import QuerySet

from crowd.common.exceptions import Forbidden, NotFound
from workflows.projects.models import Dataset, Item, Project, ProjectStatus

from .models import Role, User

__all__ = [
    "Role",
    "access_dataset_for_manage",
    "access_item_for_review",
    "access_project",
    "access_project_for_budget",
    "access_project_for_manage",
    "access_project_for_reports",
    "access_project_for_review_queue",
    "can_create_projects",
    "can_change_owned",
    "can_export",
    "can_filter_by_gold",
    "can_manage_project",
    "can_read_budget",
    "can_read_reports",
    "can_review_items",
    "can_review_work",
    "can_see_gold_answers",
    "can_see_project_people",
    "can_take_tasks",
    "check_can_create_projects",
    "check_can_take_tasks",
    "is_operator",
    "project_list_audited_by",
    "project_list_managed_by",
    "project_list_readable_data_for",
    "project_list_reports_readable_by",
    "project_list_reviewed_by",
    "project_list_visible_for",
]


# -- who ---------------------------------------------------------------------------------------


def is_operator(user: User) -> bool:
    return user.is_staff or user.is_superuser


def can_take_tasks(user: User) -> bool:
    """Workers claim, submit, return, extend and appeal their work, and take qualification
    tests. Nobody else does: operators change other people's work, they do none of their own
    (unless their account has the worker role)."""
    return user.role == Role.WORKER


def can_create_projects(user: User) -> bool:
    """Managers and operators create label schemas, projects, qualification types, blocks and
    webhooks (each then belongs to, or is checked against, their own projects)."""
    return is_operator(user) or user.role == Role.MANAGER


def can_change_owned(user: User, *, owner_id: int | None) -> bool:
    """Things that belong to a person rather than a project (a label schema, a qualification
    type, a global block): their owner and operators change them."""
    return is_operator(user) or (owner_id is not None and owner_id == user.pk)


def can_see_project_people(user: User) -> bool:
    """Workers see what a project pays, never its budget or who manages, reviews or audits
    it (the README's "no budget, no people")."""
    return is_operator(user) or user.role != Role.WORKER


def can_read_reports(user: User) -> bool:
    """Whether the user reads money and datasets of any project (the Costs page): managers,
    auditors and operators. Which projects: ``project_list_reports_readable_by``."""
    return is_operator(user) or user.role in (Role.MANAGER, Role.AUDITOR)


# -- projects ----------------------------------------------------------------------------------


def project_list_visible_for(user: User) -> QuerySet[Project]:
    """Managers see what they own, reviewers and auditors what they are attached to, workers
    the projects open for work."""
    projects = Project.objects.all()
    if is_operator(user):
        return projects
    if user.role == Role.MANAGER:
        return projects.filter(owner=user)
    if user.role == Role.REVIEWER:
        return projects.filter(reviewers=user)
    if user.role == Role.AUDITOR:
        return projects.filter(auditors=user)
    return projects.filter(status=ProjectStatus.ACTIVE)


def project_list_readable_data_for(user: User) -> QuerySet[Project]:
    """Projects whose datasets, items and labels (not only the description) the user reads:
    everyone who sees a project but workers, who see only their own work."""
    if not can_see_project_people(user):
        return Project.objects.none()
    return project_list_visible_for(user)


def project_list_managed_by(user: User) -> QuerySet[Project]:
    """Projects the user may change: their own (managers) or all (operators)."""
    if is_operator(user):
        return Project.objects.all()
    if user.role == Role.MANAGER:
        return Project.objects.filter(owner=user)
    return Project.objects.none()


def project_list_reviewed_by(user: User) -> QuerySet[Project]:
    """Projects whose escalated items the user decides: its reviewers (and operators)."""
    if is_operator(user):
        return Project.objects.all()
    if user.role == Role.REVIEWER:
        return Project.objects.filter(reviewers=user)
    return Project.objects.none()


def project_list_audited_by(user: User) -> QuerySet[Project]:
    if is_operator(user):
        return Project.objects.all()
    if user.role == Role.AUDITOR:
        return Project.objects.filter(auditors=user)
    return Project.objects.none()


def project_list_reports_readable_by(user: User) -> QuerySet[Project]:
    """Projects whose money (budget, costs) and datasets (golden versions, exports) the user
    reads: the owner, the auditors and operators. Workers never; reviewers neither, they
    judge labels."""
    if is_operator(user):
        return Project.objects.all()
    if user.role == Role.MANAGER:
        return Project.objects.filter(owner=user)
    if user.role == Role.AUDITOR:
        return Project.objects.filter(auditors=user)
    return Project.objects.none()


# -- one project -------------------------------------------------------------------------------


def _audits(user: User, project: Project) -> bool:
    return user.role == Role.AUDITOR and project.auditors.filter(pk=user.pk).exists()


def can_manage_project(user: User, project: Project) -> bool:
    """Change the project and everything in it: its schema, datasets, items, requirements,
    budget, bonuses, webhooks and blocks; freeze versions, export, import."""
    return is_operator(user) or (user.role == Role.MANAGER and project.owner_id == user.pk)


def can_review_work(user: User, project: Project) -> bool:
    """Approve (pay), reject and reverse submitted work, and answer appeals: the project's
    manager. Not its expert reviewers, who judge labels, not pay."""
    return can_manage_project(user, project)


def can_review_items(user: User, project: Project) -> bool:
    """Decide escalated items (accept a candidate, edit, reject): the project's reviewers."""
    if is_operator(user):
        return True
    return user.role == Role.REVIEWER and project.reviewers.filter(pk=user.pk).exists()


def can_read_budget(user: User, project: Project) -> bool:
    """Budget and costs: the owner, the auditors and operators."""
    return can_manage_project(user, project) or _audits(user, project)


def can_export(user: User, project: Project) -> bool:
    """An export is a job the platform runs and stores: a change, so not for auditors (they
    download the exports the manager made)."""
    return can_manage_project(user, project)


def can_see_gold_answers(user: User, project: Project) -> bool:
    """Gold answers are for the people who own or audit a project, never workers or reviewers
    (a reviewer who knew which items are gold would be biased)."""
    return can_manage_project(user, project) or _audits(user, project)


def can_filter_by_gold(user: User) -> bool:
    """Whether the user sees gold answers on every project whose data they read: so may find
    gold items by filtering (managers read their own projects, auditors audited ones)."""
    return is_operator(user) or user.role in (Role.MANAGER, Role.AUDITOR)


# -- fetch or refuse ---------------------------------------------------------------------------


def check_can_take_tasks(user: User) -> None:
    if not can_take_tasks(user):
        raise Forbidden("only workers take tasks")


def check_can_create_projects(user: User) -> None:
    if not can_create_projects(user):
        raise Forbidden("only project managers may do this")


def access_project(user: User, project_id: int) -> Project:
    """The project, if the user may see it."""
    project = project_list_visible_for(user).filter(pk=project_id).first()
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


def access_project_for_manage(user: User, project_id: int) -> Project:
    """The project to change: NotFound if the user may not see it, Forbidden if they may see
    but not change it."""
    project = access_project(user, project_id)
    if not can_manage_project(user, project):
        raise Forbidden("you do not manage this project")
    return project


def access_dataset_for_manage(user: User, dataset_id: int) -> Dataset:
    """A dataset to add items to: NotFound unless the user reads its project's data (workers
    see the project, not its datasets), Forbidden unless they manage the project."""
    readable = project_list_readable_data_for(user)
    dataset = (
        Dataset.objects.select_related("project")
        .filter(pk=dataset_id, project__in=readable)
        .first()
    )
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}")
    if not can_manage_project(user, dataset.project):
        raise Forbidden("you do not manage this project")
    return dataset


def access_project_for_reports(user: User, project_id: int) -> Project:
    """The project whose budget, costs, versions or exports the user reads; NotFound for
    everyone else (seeing the project does not mean seeing its money)."""
    project = project_list_reports_readable_by(user).filter(pk=project_id).first()
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


def access_project_for_budget(user: User, project_id: int, *, change: bool = False) -> Project:
    """Read (owner, auditors, operators) or change (owner, operators) a project's budget."""
    project = access_project_for_reports(user, project_id)
    if change and not can_manage_project(user, project):
        raise Forbidden("only the project's owner or an operator may set its budget")
    return project


def access_project_for_review_queue(user: User, project_id: int) -> Project:
    """The escalated items of a project, with every candidate, are its data: its reviewers
    decide them, its manager and auditors may watch."""
    project = project_list_readable_data_for(user).filter(pk=project_id).first()
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


def access_item_for_review(user: User, item_id: int) -> Item:
    """An item to decide: NotFound unless the user reads its project's data, Forbidden unless
    they review the project."""
    readable = project_list_readable_data_for(user)
    item = Item.objects.select_related("project").filter(pk=item_id, project__in=readable).first()
    if item is None:
        raise NotFound(f"no item {item_id}")
    if not can_review_items(user, item.project):
        raise Forbidden("only the project's reviewers decide escalated items")
    return item
