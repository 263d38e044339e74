"""The demo's accounts, one for every role, and their generated passwords.

Django stores only password hashes, so the passwords are kept in plaintext in the credentials
file for a rerun to print them again. That file is for a local demo only: never seed the demo
on a server that real people use.
"""

import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from crowd.accounts.models import Role, User
from crowd.accounts.services import user_create

from .files import file_write_private, json_load


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    is_superuser: bool = False


ACCOUNTS = (
    DemoAccount("demo-admin", Role.MANAGER, is_superuser=True),
    DemoAccount("demo-manager", Role.MANAGER),
    DemoAccount("demo-worker1", Role.WORKER),
    DemoAccount("demo-worker2", Role.WORKER),
    DemoAccount("demo-worker3", Role.WORKER),
    DemoAccount("demo-reviewer", Role.REVIEWER),
    DemoAccount("demo-auditor", Role.AUDITOR),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    is_superuser: bool


def passwords_load_or_create(path: Path) -> dict[str, str]:
    """The demo passwords from ``path``, generating (and saving) any that are missing."""
    saved = (json_load(path) or {}).get("passwords", {})
    alphabet = string.ascii_letters + string.digits
    passwords = {
        account.username: saved.get(account.username)
        or "".join(secrets.choice(alphabet) for _ in range(16))
        for account in ACCOUNTS
    }
    if passwords != saved:
        note = "Plaintext passwords of the local demo accounts only. Delete with the demo."
        file_write_private(path, {"note": note, "passwords": passwords})
    return passwords


def account_ensure(account: DemoAccount, password: str) -> User:
    user = User.objects.filter(username=account.username).first()
    if user is None:
        return user_create(
            username=account.username,
            password=password,
            role=account.role,
            email=f"{account.username}@example.com",
            is_staff=account.is_superuser,
            is_superuser=account.is_superuser,
        )
    # The database may predate the credentials file (or come from another data folder):
    # make the printed password the one that works.
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
