"""The demo: an account for every role and an active bbox project of generated shape images.

The images are drawn here, so every box is known exactly: gold items carry theirs as the gold
answer, and the ground truth of all images is written as COCO JSON to
``DATA_DIR/demo-ground-truth.json`` for scoring consensus against it.

Django stores only password hashes, so the generated demo passwords are kept in plaintext in
``DATA_DIR/demo-credentials.json`` for a rerun to print them again. That file is for a local
demo only: never seed the demo on a server that real people use.
"""

import hashlib
import io
import json
import os
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image, ImageDraw

from crowd.accounts.models import Role, User
from crowd.accounts.services import user_create
from crowd.qualifications.models import QualificationRequirement, QualificationType
from crowd.qualifications.services import qualification_type_create, requirement_create
from workflows.projects.models import AnnotationKind, Dataset, LabelSchema, Project, ProjectStatus
from workflows.projects.services import (
    dataset_create,
    items_create,
    label_schema_create,
    project_create,
)

SITE_URL = "http://127.0.0.1:8000"
CREDENTIALS_FILE = "demo-credentials.json"
GROUND_TRUTH_FILE = "demo-ground-truth.json"
PROJECT_NAME = "Shapes (demo)"
DATASET_NAME = "Generated shapes"
CLASSES = (("square", "#e6194b"), ("circle", "#3cb44b"), ("triangle", "#4363d8"))
WIDTH, HEIGHT = 320, 240
REWARD_MINOR, MIN_REDUNDANCY, MAX_REDUNDANCY = 5, 3, 5
GOLD_EVERY = 6  # items 0, 6, 12, ... are gold: about one in six
TRAINING_QUALIFICATION = "Shapes training"
CAREFUL_QUALIFICATION = "Careful annotator"
# Saturated fills, each far from the muted random backgrounds, so shapes stand out.
PALETTE = np.array(
    [(220, 40, 40), (40, 170, 60), (40, 80, 220), (240, 200, 30), (160, 50, 200), (20, 200, 200)]
)


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


# -- the images ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One drawn shape. ``bbox`` is COCO [x, y, w, h] in pixels; it covers exactly the pixel
    columns x .. x+w-1 and rows y .. y+h-1 that the shape touches. ``area`` counts its pixels."""

    category: str
    bbox: tuple[int, int, int, int]
    area: int


@dataclass(frozen=True)
class Scene:
    name: str
    png: bytes
    shapes: tuple[Shape, ...]
    is_gold: bool


def _draw(draw: ImageDraw.ImageDraw, category: str, bbox: Sequence[int], fill) -> None:
    x, y, w, h = bbox
    corners = [x, y, x + w - 1, y + h - 1]  # Pillow's end coordinates are inclusive
    if category == "square":
        draw.rectangle(corners, fill=fill)
    elif category == "circle":
        draw.ellipse(corners, fill=fill)
    else:
        draw.polygon([(x, y + h - 1), (x + w - 1, y + h - 1), (x + (w - 1) / 2, y)], fill=fill)


def _apart(a: Sequence[int], b: Sequence[int], margin: int) -> bool:
    return (
        a[0] + a[2] + margin <= b[0]
        or b[0] + b[2] + margin <= a[0]
        or a[1] + a[3] + margin <= b[1]
        or b[1] + b[3] + margin <= a[1]
    )


def scene_render(rng: np.random.Generator) -> tuple[bytes, tuple[Shape, ...]]:
    """Draw 1-4 non-overlapping filled shapes on a noisy background; return PNG bytes and boxes."""
    background = rng.integers(90, 170, size=3)
    pixels = background + rng.normal(0.0, 12.0, size=(HEIGHT, WIDTH, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    far = PALETTE[np.linalg.norm(PALETTE - background, axis=1) > 120]
    shapes: list[Shape] = []
    for _ in range(int(rng.integers(1, 5))):
        category = CLASSES[int(rng.integers(len(CLASSES)))][0]
        for _attempt in range(50):
            w = int(rng.integers(28, 81))
            # Squares and circles are what they say; triangles may be squat or tall.
            h = int(rng.integers(28, 81)) if category == "triangle" else w
            bbox = (int(rng.integers(2, WIDTH - w - 1)), int(rng.integers(2, HEIGHT - h - 1)), w, h)
            if all(_apart(bbox, s.bbox, margin=6) for s in shapes):
                break
        else:
            continue  # the image is crowded: fewer shapes rather than overlapping boxes
        _draw(draw, category, bbox, fill=tuple(int(c) for c in far[rng.integers(len(far))]))
        mask = Image.new("1", (WIDTH, HEIGHT))
        _draw(ImageDraw.Draw(mask), category, bbox, fill=1)
        shapes.append(Shape(category, bbox, int(np.count_nonzero(np.asarray(mask)))))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), tuple(shapes)


def scenes_generate(*, images: int, seed: int) -> list[Scene]:
    """The demo's images, deterministic in ``seed``. Image i is the same whatever ``images`` is
    (each gets its own child generator), so a longer demo extends a shorter one."""
    scenes = []
    for index, rng in enumerate(np.random.default_rng(seed).spawn(images)):
        png, shapes = scene_render(rng)
        scenes.append(Scene(f"shapes-{index:04d}.png", png, shapes, index % GOLD_EVERY == 0))
    return scenes


def bbox_payload(shapes: Sequence[Shape], category_ids: dict[str, int]) -> dict:
    """The answer a perfect worker would submit, in the bbox payload format."""
    return {
        "regions": [
            {"category_id": category_ids[s.category], "bbox": [float(v) for v in s.bbox]}
            for s in shapes
        ]
    }


def coco_ground_truth(
    scenes: Sequence[Scene], item_ids: dict[str, int], category_ids: dict[str, int], *, seed: int
) -> dict:
    """COCO JSON of every scene whose image is an item (``item_ids`` maps image SHA-256 to item
    id, which becomes the COCO image id); ``sha256`` and ``is_gold`` are extra image keys."""
    images, annotations = [], []
    for scene in scenes:
        digest = hashlib.sha256(scene.png).hexdigest()
        if digest not in item_ids:
            continue
        image_id = item_ids[digest]
        images.append(
            {
                "id": image_id,
                "file_name": scene.name,
                "width": WIDTH,
                "height": HEIGHT,
                "sha256": digest,
                "is_gold": scene.is_gold,
            }
        )
        for shape in scene.shapes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[shape.category],
                    "bbox": [float(v) for v in shape.bbox],
                    "area": float(shape.area),
                    "iscrowd": 0,
                }
            )
    return {
        "info": {"description": f"Quorum demo: generated shapes (seed {seed})", "seed": seed},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": category_ids[name], "name": name, "supercategory": "shape"}
            for name, _ in CLASSES
        ],
    }


# -- the database ----------------------------------------------------------------------------


def _file_write_private(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as fh:
        json.dump(document, fh, indent=2)
        fh.write("\n")


def _json_load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _passwords_load_or_create(path: Path) -> dict[str, str]:
    """The demo passwords from ``path``, generating (and saving) any that are missing."""
    saved = (_json_load(path) or {}).get("passwords", {})
    alphabet = string.ascii_letters + string.digits
    passwords = {
        account.username: saved.get(account.username)
        or "".join(secrets.choice(alphabet) for _ in range(16))
        for account in ACCOUNTS
    }
    if passwords != saved:
        note = "Plaintext passwords of the local demo accounts only. Delete with the demo."
        _file_write_private(path, {"note": note, "passwords": passwords})
    return passwords


def _account_ensure(account: DemoAccount, password: str) -> User:
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


def _qualifications_ensure(project: Project, owner: User) -> None:
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


def _project_ensure(users: dict[str, User], *, images: int) -> tuple[Project, bool]:
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


def _category_ids(project: Project) -> dict[str, int]:
    return {c.name: c.pk for c in project.label_schema.categories.all()}


def _dataset_fill(project: Project, manager: User, scenes: Sequence[Scene]) -> Dataset:
    dataset = dataset_create(project=project, name=DATASET_NAME, created_by=manager)
    category_ids = _category_ids(project)
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


def _ground_truth_ensure(project: Project, path: Path, *, images: int, seed: int) -> dict:
    """The saved ground truth if it describes this database's items, else rebuilt from the
    scenes (matched to items by image hash) and saved."""
    item_ids = {
        digest: pk
        for digest, pk in project.items.filter(dataset__name=DATASET_NAME).values_list(
            "content_hash", "pk"
        )
    }
    saved = _json_load(path)
    if saved and {image["sha256"]: image["id"] for image in saved.get("images", [])} == item_ids:
        return saved
    truth = coco_ground_truth(
        scenes_generate(images=images, seed=seed), item_ids, _category_ids(project), seed=seed
    )
    _file_write_private(path, truth)
    return truth


def demo_seed(*, images: int = 24, seed: int = 7, stdout: TextIO | None = None) -> DemoCredentials:
    """Create the demo if it is not there, and print how to log in.

    Idempotent: when the demo project exists nothing is recreated (``images`` and ``seed`` then
    only rebuild a lost ground-truth file) and the same credentials are printed again.
    """
    if images < 1:
        raise ValueError("the demo needs at least one image")
    data_dir = Path(settings.DATA_DIR)
    passwords = _passwords_load_or_create(data_dir / CREDENTIALS_FILE)
    with transaction.atomic():
        users = {a.username: _account_ensure(a, passwords[a.username]) for a in ACCOUNTS}
        project, created = _project_ensure(users, images=images)
        _qualifications_ensure(project, users["demo-manager"])
        if not project.datasets.filter(name=DATASET_NAME).exists():
            _dataset_fill(project, users["demo-manager"], scenes_generate(images=images, seed=seed))
    truth_path = data_dir / GROUND_TRUTH_FILE
    result = DemoCredentials(
        url=SITE_URL,
        logins=tuple(
            DemoLogin(a.username, passwords[a.username], a.role, a.is_superuser) for a in ACCOUNTS
        ),
        project_id=project.pk,
        created=created,
        ground_truth=_ground_truth_ensure(project, truth_path, images=images, seed=seed),
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
