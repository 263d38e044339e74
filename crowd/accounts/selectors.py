"""Who may see and change what. Every visibility rule of the API is a function here.

Staff and superusers (operators) see everything; otherwise the role decides.
"""

from django.db.models import QuerySet

from workflows.projects.models import Project, ProjectStatus

from .models import Role, User


def is_operator(user: User) -> bool:
    return user.is_staff or user.is_superuser


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
    """Projects whose items and labels (not only the description) the user may read."""
    if user.role == Role.WORKER and not is_operator(user):
        return Project.objects.none()
    return project_list_visible_for(user)


def project_list_managed_by(user: User) -> QuerySet[Project]:
    """Projects the user may change: their own (managers) or all (operators)."""
    if is_operator(user):
        return Project.objects.all()
    if user.role == Role.MANAGER:
        return Project.objects.filter(owner=user)
    return Project.objects.none()


def can_see_gold_answers(user: User, project: Project) -> bool:
    """Gold answers are for the people who own or audit a project, never workers or reviewers."""
    if is_operator(user):
        return True
    if user.role == Role.MANAGER:
        return project.owner_id == user.pk
    if user.role == Role.AUDITOR:
        return project.auditors.filter(pk=user.pk).exists()
    return False
