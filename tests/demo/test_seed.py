"""The demo seed: what it promises exists, a rerun changes nothing, and the images hold the
shapes exactly where the ground truth says."""

import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image
from pycocotools.coco import COCO

from crowd.accounts.models import Role, User
from crowd.qualifications.models import QualificationRequirement, QualificationType
from workflows.demo.logins import ACCOUNTS
from workflows.demo.project import PROJECT_NAME
from workflows.demo.scenes import scenes_generate
from workflows.demo.seed import CREDENTIALS_FILE, GROUND_TRUTH_FILE, demo_seed
from workflows.projects.models import Category, Dataset, Item, LabelSchema, Project
from workflows.projects.validation import ImageFrame, payload_validate

pytestmark = pytest.mark.django_db
IMAGES = 12


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def demo(data_dir):
    return demo_seed(images=IMAGES, seed=3)


def _snapshot(data_dir) -> dict:
    """Everything a rerun could change: rows, password hashes and the demo files."""
    models = (User, LabelSchema, Category, Project, Dataset, Item, QualificationType)
    return {
        "rows": {m.__name__: list(m.objects.order_by("pk").values()) for m in models},
        "requirements": list(QualificationRequirement.objects.values()),
        "files": {p.name: p.read_bytes() for p in data_dir.glob("demo-*.json")},
    }


def _shape_pixels(pixels: np.ndarray, boxes: list[list[float]]) -> np.ndarray:
    """Pixels far from the background colour, estimated as the median outside every box."""
    outside = np.ones(pixels.shape[:2], dtype=bool)
    for x, y, w, h in boxes:
        outside[int(y) : int(y + h), int(x) : int(x + w)] = False
    background = np.median(pixels[outside], axis=0)
    return np.linalg.norm(pixels - background, axis=2) > 60


def test_seed_demo_command_prints_the_site_every_login_and_the_token_hint(data_dir):
    out = io.StringIO()
    call_command("seed_demo", "--images", "6", stdout=out)
    text = out.getvalue()
    saved = json.loads((data_dir / CREDENTIALS_FILE).read_text())["passwords"]
    assert "http://127.0.0.1:8000" in text and "POST /api/v1/auth/token/" in text
    for account in ACCOUNTS:
        assert f"{account.username:<16}{saved[account.username]}" in text


def test_every_demo_account_logs_in_with_its_printed_password(demo):
    roles = {login.username: login.role for login in demo.logins}
    assert roles == {
        "demo-admin": Role.MANAGER,
        "demo-manager": Role.MANAGER,
        "demo-worker1": Role.WORKER,
        "demo-worker2": Role.WORKER,
        "demo-worker3": Role.WORKER,
        "demo-reviewer": Role.REVIEWER,
        "demo-auditor": Role.AUDITOR,
    }
    for login in demo.logins:
        user = User.objects.get(username=login.username)
        assert user.check_password(login.password) and user.role == login.role
    assert User.objects.get(username="demo-admin").is_superuser
    assert len({login.password for login in demo.logins}) == len(demo.logins)


def test_demo_project_is_an_active_bbox_project_with_the_promised_settings(demo):
    project = Project.objects.get(pk=demo.project_id)
    assert project.name == PROJECT_NAME and project.status == "active"
    assert project.owner.username == "demo-manager"
    assert (project.min_redundancy, project.max_redundancy) == (3, 5)
    assert (project.reward_minor, project.currency, project.gold_rate) == (5, "USD", 0.1)
    assert project.budget_minor > 0
    assert [u.username for u in project.auditors.all()] == ["demo-auditor"]
    assert [u.username for u in project.reviewers.all()] == ["demo-reviewer"]
    assert project.label_schema.kind == "bbox"
    names = [c.name for c in project.label_schema.categories.all()]
    assert names == ["square", "circle", "triangle"]


def test_demo_has_an_auto_granted_and_a_manual_qualification_and_a_requirement(demo):
    training = QualificationType.objects.get(name="Shapes training")
    careful = QualificationType.objects.get(name="Careful annotator")
    assert (training.auto_grant, training.auto_grant_value) == (True, 1)
    assert careful.auto_grant is False
    requirement = QualificationRequirement.objects.get(project_id=demo.project_id)
    assert (requirement.qualification_type, requirement.comparator) == (training, "exists")


def test_demo_items_are_320x240_images_and_about_one_in_six_is_gold(demo):
    items = Item.objects.filter(project_id=demo.project_id)
    assert items.count() == IMAGES
    assert {(i.width, i.height) for i in items} == {(320, 240)}
    assert items.filter(is_gold=True).count() == 2  # items 0 and 6 of 12
    gold_in_truth = {img["id"] for img in demo.ground_truth["images"] if img["is_gold"]}
    assert gold_in_truth == set(items.filter(is_gold=True).values_list("pk", flat=True))


def test_second_run_changes_nothing_and_returns_the_same_credentials(demo, data_dir):
    before = _snapshot(data_dir)
    again = demo_seed(images=IMAGES, seed=3)
    assert _snapshot(data_dir) == before
    assert again.created is False and demo.created is True
    assert again.logins == demo.logins and again.ground_truth == demo.ground_truth


def test_a_rerun_with_other_arguments_does_not_recreate_the_demo(demo, data_dir):
    before = _snapshot(data_dir)
    demo_seed(images=30, seed=99)
    assert _snapshot(data_dir) == before


def test_lost_credentials_file_gives_new_passwords_that_work(demo, data_dir):
    (data_dir / CREDENTIALS_FILE).unlink()
    again = demo_seed(images=IMAGES, seed=3)
    assert again.password_of("demo-worker1") != demo.password_of("demo-worker1")
    for login in again.logins:
        assert User.objects.get(username=login.username).check_password(login.password)


def test_gold_answers_validate_and_equal_the_ground_truth(demo):
    truth = COCO()
    truth.dataset = demo.ground_truth
    truth.createIndex()
    project = Project.objects.get(pk=demo.project_id)
    categories = {c.pk: c.keypoint_names for c in project.label_schema.categories.all()}
    for item in project.items.filter(is_gold=True):
        frame = ImageFrame(width=item.width, height=item.height)
        payload_validate(item.gold_answer, kind="bbox", categories=categories, frame=frame)
        expected = [
            (a["category_id"], a["bbox"]) for a in truth.loadAnns(truth.getAnnIds(imgIds=item.pk))
        ]
        got = [(r["category_id"], r["bbox"]) for r in item.gold_answer["regions"]]
        assert got == expected and got


def test_ground_truth_file_is_coco_that_pycocotools_reads(demo):
    coco = COCO(str(demo.ground_truth_path))
    item_ids = set(Item.objects.filter(project_id=demo.project_id).values_list("pk", flat=True))
    assert set(coco.getImgIds()) == item_ids
    assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == [
        "circle",
        "square",
        "triangle",
    ]
    assert all(1 <= len(coco.getAnnIds(imgIds=i)) <= 4 for i in item_ids)
    assert demo.ground_truth_path.name == GROUND_TRUTH_FILE


def test_the_pixels_hold_a_shape_tightly_inside_every_recorded_box(demo):
    by_image: dict[int, list] = {}
    for annotation in demo.ground_truth["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    for item in Item.objects.filter(project_id=demo.project_id):
        with item.image.open("rb") as fh:
            pixels = np.asarray(Image.open(fh).convert("RGB"), dtype=float)
        annotations = by_image[item.pk]
        shape = _shape_pixels(pixels, [a["bbox"] for a in annotations])
        for annotation in annotations:
            x, y, w, h = (int(v) for v in annotation["bbox"])
            inside = shape[y : y + h, x : x + w]
            # Triangles fill half their box, circles about 79%, squares all of it.
            assert inside.mean() > 0.4
            assert inside.sum() == pytest.approx(annotation["area"], rel=0.02)
            # Tight: the shape reaches every edge of its box.
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
        # And nothing shape-coloured lies outside the boxes.
        assert shape.sum() == pytest.approx(sum(a["area"] for a in annotations), rel=0.02)


def test_scenes_are_deterministic_in_the_seed_and_extend_with_more_images():
    first = scenes_generate(images=3, seed=5)
    assert [s.png for s in first] == [s.png for s in scenes_generate(images=3, seed=5)]
    assert [s.png for s in scenes_generate(images=5, seed=5)[:3]] == [s.png for s in first]
    assert first[0].png != scenes_generate(images=1, seed=6)[0].png
