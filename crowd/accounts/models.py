"""Users with one role each, and the worker's profile."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    WORKER = "worker", "Worker"
    MANAGER = "manager", "Project manager"
    REVIEWER = "reviewer", "Expert reviewer"
    AUDITOR = "auditor", "Auditor"


class User(AbstractUser):
    """A person. The role decides what the API and pages let them see and do; the rules are
    in ``crowd.accounts.access``.

    Staff and superusers are operators: they use the admin, not the role rules.
    """

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.WORKER)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="user_role_valid"
            ),
        ]


class WorkerProfile(models.Model):
    """What a worker tells us about themselves and where they are paid."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="worker_profile")
    display_name = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    languages = models.JSONField(default=list, blank=True, help_text="ISO 639-1 codes")
    payout_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"
