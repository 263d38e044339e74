"""The worker's annotate page in a real browser: draw a box on a scaled image, pick its
category, submit, get the next task; and the messages when something is wrong or nothing is
left."""

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from crowd.assignment.models import Assignment
from crowd.labeling.models import Annotation
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.browser.urls_pages")]

# Larger than the stage, so the page scales it down and the overlay must convert coordinates.
WIDTH, HEIGHT = 1600, 1200


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_contain_text(username)


@pytest.fixture
def bbox_project(transactional_db):
    owner = factories.make_user("olga", role="manager")
    schema = factories.make_schema(owner=owner, names=("cat", "dog"))
    project = factories.make_project(
        owner=owner,
        schema=schema,
        name="Find the cats",
        instructions="Draw a tight box around every cat.",
    )
    for _ in range(2):
        factories.make_item(project=project, width=WIDTH, height=HEIGHT)
    return project


def drag_box(page: Page, x: float, y: float, w: float, h: float) -> None:
    """Drag from image pixel (x, y) to (x + w, y + h), converting to screen pixels."""
    image = page.get_by_test_id("image")
    expect(image).to_be_visible()
    box = image.bounding_box()
    assert box is not None and box["width"] < WIDTH, "the image should be scaled down"
    sx, sy = box["width"] / WIDTH, box["height"] / HEIGHT
    page.mouse.move(box["x"] + x * sx, box["y"] + y * sy)
    page.mouse.down()
    page.mouse.move(box["x"] + (x + w) * sx / 2, box["y"] + (y + h) * sy / 2, steps=3)
    page.mouse.move(box["x"] + (x + w) * sx, box["y"] + (y + h) * sy, steps=5)
    page.mouse.up()


def test_worker_draws_a_box_picks_its_category_submits_and_gets_the_next_task(
    page: Page, bbox_project
):
    factories.make_user("wanda")
    log_in(page, "wanda")
    row = page.get_by_test_id("projects").get_by_role("row", name="Find the cats")
    row.get_by_role("link", name="Start working").click()
    expect(page).to_have_url(f"/work/projects/{bbox_project.pk}/")
    task = page.get_by_test_id("task")
    expect(task).to_be_visible()
    expect(page.get_by_test_id("instructions")).to_contain_text("tight box around every cat")
    expect(page.get_by_test_id("time-left")).to_contain_text("Time left 1")
    first = Assignment.objects.get(worker__username="wanda")
    expect(task).to_have_attribute("data-assignment", str(first.pk))

    drag_box(page, 400, 300, 600, 450)
    expect(page.get_by_test_id("shape")).to_have_count(1)
    page.get_by_label("cat").check()
    expect(page.get_by_test_id("region")).to_contain_text("cat")
    page.get_by_test_id("submit").click()

    expect(page.get_by_test_id("status")).to_contain_text("Here is your next task")
    annotation = Annotation.objects.get(assignment=first)
    (region,) = annotation.payload["regions"]
    cat = bbox_project.label_schema.categories.get(name="cat")
    assert region["category_id"] == cat.pk
    # One screen pixel is about 2.2 image pixels here.
    assert region["bbox"] == pytest.approx([400, 300, 600, 450], abs=3)

    second = Assignment.objects.get(worker__username="wanda", status="leased")
    expect(task).to_have_attribute("data-assignment", str(second.pk))
    expect(page.get_by_test_id("shape")).to_have_count(0)
    # An empty answer ("no cat here") is valid; then nothing is left for this worker.
    page.get_by_test_id("submit").click()
    nothing = page.get_by_test_id("nothing")
    expect(nothing).to_be_visible()
    expect(nothing).to_have_attribute("data-reason", "nothing_left")
    expect(page.get_by_test_id("nothing-reason")).to_contain_text("nothing left")
    expect(task).to_be_hidden()
    assert Annotation.objects.get(assignment=second).payload == {"regions": []}


def test_submitting_a_box_without_a_category_says_what_is_missing(page: Page, bbox_project):
    factories.make_user("wanda")
    log_in(page, "wanda")
    page.goto(f"/work/projects/{bbox_project.pk}/")
    drag_box(page, 100, 100, 300, 200)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("error")).to_contain_text("Shape 1 has no category")
    assert not Annotation.objects.exists()

    # Deleting the box and drawing a new one after picking a category fixes it.
    page.get_by_role("button", name="Delete shape 1").click()
    expect(page.get_by_test_id("shape")).to_have_count(0)
    page.get_by_label("dog").check()
    drag_box(page, 800, 600, 200, 100)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("status")).to_contain_text("Here is your next task")
    (region,) = Annotation.objects.get().payload["regions"]
    assert region["bbox"] == pytest.approx([800, 600, 200, 100], abs=3)


def test_worker_is_told_why_there_is_nothing_to_do(page: Page, transactional_db):
    owner = factories.make_user("olga", role="manager")
    project = factories.make_project(owner=owner, name="Empty")
    factories.make_user("wanda")
    log_in(page, "wanda")
    page.goto(f"/work/projects/{project.pk}/")
    expect(page.get_by_test_id("nothing")).to_have_attribute("data-reason", "nothing_left")
    expect(page.get_by_test_id("nothing-message")).not_to_be_empty()
    expect(page.get_by_test_id("task")).to_be_hidden()


def test_only_workers_open_the_annotate_page(transactional_db):
    owner = factories.make_user("olga", role="manager")
    active = factories.make_project(owner=owner)
    draft = factories.make_project(owner=owner, status="draft")
    client = Client()
    assert client.get(f"/work/projects/{active.pk}/").status_code == 302  # to log in

    client.force_login(factories.make_user("wanda"))
    assert client.get(f"/work/projects/{active.pk}/").status_code == 200
    assert client.get(f"/work/projects/{draft.pk}/").status_code == 404
    assert client.get("/work/projects/999999/").status_code == 404
    client.force_login(owner)
    assert client.get(f"/work/projects/{active.pk}/").status_code == 403


def test_classification_needs_a_category_then_submits_it(page: Page, transactional_db):
    owner = factories.make_user("olga", role="manager")
    schema = factories.make_schema(owner=owner, kind="classification", names=("cat", "dog"))
    project = factories.make_project(owner=owner, schema=schema)
    factories.make_item(project=project)
    factories.make_user("wanda")
    log_in(page, "wanda")
    page.goto(f"/work/projects/{project.pk}/")
    expect(page.get_by_test_id("task")).to_be_visible()
    expect(page.get_by_test_id("regions-box")).to_be_hidden()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("error")).to_contain_text("Pick a category")
    page.get_by_label("dog").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("nothing")).to_have_attribute("data-reason", "nothing_left")
    dog = schema.categories.get(name="dog")
    assert Annotation.objects.get().payload == {"category_id": dog.pk}


def test_polygon_is_drawn_point_by_point_and_closed_on_its_first_point(
    page: Page, transactional_db
):
    owner = factories.make_user("olga", role="manager")
    schema = factories.make_schema(owner=owner, kind="polygon", names=("lake",))
    project = factories.make_project(owner=owner, schema=schema)
    factories.make_item(project=project, width=WIDTH, height=HEIGHT)
    factories.make_user("wanda")
    log_in(page, "wanda")
    page.goto(f"/work/projects/{project.pk}/")
    page.get_by_label("lake").check()
    box = page.get_by_test_id("image").bounding_box()
    assert box is not None
    scale = box["width"] / WIDTH
    corners = [(200, 200), (1000, 200), (1000, 800), (200, 800), (200, 200)]
    for x, y in corners:
        page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
    expect(page.get_by_test_id("shape")).to_have_count(1)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("nothing")).to_be_visible()
    (region,) = Annotation.objects.get().payload["regions"]
    assert region["polygon"] == pytest.approx([200, 200, 1000, 200, 1000, 800, 200, 800], abs=3)
