"""Account verbs: create users with a role, make sure workers have a profile, issue API tokens."""

from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import Role, User, WorkerProfile


@transaction.atomic
def user_create(
    *, username: str, password: str, role: str = Role.WORKER, email: str = "", **extra
) -> User:
    user = User(username=username, email=email, role=role, **extra)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    if role == Role.WORKER:
        worker_profile_ensure(user=user)
    return user


def worker_profile_ensure(*, user: User) -> WorkerProfile:
    profile, _ = WorkerProfile.objects.get_or_create(user=user)
    return profile


def api_token_get_or_create(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
