"""The demo seed: an account for every role and an active bbox project of generated shape
images (``manage.py seed_demo``).

The ground truth of all images is written as COCO JSON to ``DATA_DIR/demo-ground-truth.json``,
and the generated passwords in plaintext to ``DATA_DIR/demo-credentials.json`` (see ``logins``):
a local demo only.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.db import transaction

from .logins import ACCOUNTS, DemoLogin, account_ensure, passwords_load_or_create
from .project import (
    DATASET_NAME,
    PROJECT_NAME,
    dataset_fill,
    ground_truth_ensure,
    project_ensure,
    qualifications_ensure,
)
from .scenes import scenes_generate

SITE_URL = "http://127.0.0.1:8000"
CREDENTIALS_FILE = "demo-credentials.json"
GROUND_TRUTH_FILE = "demo-ground-truth.json"


@dataclass(frozen=True)
class DemoCredentials:
    """What the demo holds: how to log in, the project, and the COCO ground truth."""

    url: str
    logins: tuple[DemoLogin, ...]
    project_id: int
    created: bool
    ground_truth: dict
    credentials_path: Path
    ground_truth_path: Path

    def password_of(self, username: str) -> str:
        return next(login.password for login in self.logins if login.username == username)


def demo_seed(*, images: int = 24, seed: int = 7, stdout: TextIO | None = None) -> DemoCredentials:
    """Create the demo if it is not there, and print how to log in.

    Idempotent: when the demo project exists nothing is recreated (``images`` and ``seed`` then
    only rebuild a lost ground-truth file) and the same credentials are printed again.
    """
    if images < 1:
        raise ValueError("the demo needs at least one image")
    data_dir = Path(settings.DATA_DIR)
    passwords = passwords_load_or_create(data_dir / CREDENTIALS_FILE)
    with transaction.atomic():
        users = {a.username: account_ensure(a, passwords[a.username]) for a in ACCOUNTS}
        project, created = project_ensure(users, images=images)
        qualifications_ensure(project, users["demo-manager"])
        if not project.datasets.filter(name=DATASET_NAME).exists():
            dataset_fill(project, users["demo-manager"], scenes_generate(images=images, seed=seed))
    truth_path = data_dir / GROUND_TRUTH_FILE
    result = DemoCredentials(
        url=SITE_URL,
        logins=tuple(
            DemoLogin(a.username, passwords[a.username], a.role, a.is_superuser) for a in ACCOUNTS
        ),
        project_id=project.pk,
        created=created,
        ground_truth=ground_truth_ensure(project, truth_path, images=images, seed=seed),
        credentials_path=data_dir / CREDENTIALS_FILE,
        ground_truth_path=truth_path,
    )
    if stdout is not None:
        stdout.write(credentials_text(result))
    return result


def credentials_text(demo: DemoCredentials) -> str:
    """The block printed after seeding: where the site is and how to log in as each role."""
    gold = sum(image["is_gold"] for image in demo.ground_truth["images"])
    state = "created" if demo.created else "already there; nothing was changed"
    lines = [
        "",
        "=" * 72,
        f"Quorum demo ({state})",
        f"  Site      {demo.url}",
        f"  API docs  {demo.url}/api/docs/",
        f"  Admin     {demo.url}/admin/  (demo-admin)",
        f"  Project   {PROJECT_NAME}: {len(demo.ground_truth['images'])} images, {gold} gold",
        "",
        f"  {'username':<16}{'password':<20}role",
    ]
    for login in demo.logins:
        role = "administrator" if login.is_superuser else login.role
        lines.append(f"  {login.username:<16}{login.password:<20}{role}")
    worker = "demo-worker1"
    lines += [
        "",
        "  API token:  POST /api/v1/auth/token/ with username and password, e.g.",
        f"    curl -X POST {demo.url}/api/v1/auth/token/ \\",
        f"         -d username={worker} -d password={demo.password_of(worker)}",
        "  then send the header  Authorization: Token <key>",
        "",
        f"  Passwords are kept in plaintext in {demo.credentials_path}",
        "  for this local demo only. Ground truth (COCO) is in",
        f"  {demo.ground_truth_path}",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)
