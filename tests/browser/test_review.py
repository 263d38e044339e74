"""The reviewer's page in a real browser: an escalated item's candidates overlaid on the
image, accepted, edited or rejected, with the decision promoted under the reviewer's name."""

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from tests import factories
from workflows.golden.models import GoldenAnnotation
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.submit import annotation_submit

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.browser.urls_pages")]

WIDTH, HEIGHT = 1200, 900  # scaled down on the page
SPOTS = [(50, 50, 300, 300), (600, 600, 300, 200), (800, 100, 250, 250)]


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_contain_text(username)


@pytest.fixture
def escalated(transactional_db):
    """Three workers disagree completely on an item of a project that asks for exactly three
    labels, so consensus escalates it to Rita, the project's reviewer."""
    owner = factories.make_user("alice", role="manager")
    rita = factories.make_user("rita", role="reviewer")
    project = factories.make_project(
        owner=owner, min_redundancy=3, max_redundancy=3, accept_agreement=0.8, reviewers=[rita]
    )
    item = factories.make_item(project=project, width=WIDTH, height=HEIGHT)
    category = project.label_schema.categories.order_by("pk").first().pk
    for bbox in SPOTS:
        worker = factories.make_user()
        lease = assignment_claim_next(worker=worker, project_id=project.pk).assignment
        payload = {"regions": [{"category_id": category, "bbox": list(bbox)}]}
        annotation_submit(worker=worker, assignment_id=lease.pk, payload=payload)
    item.refresh_from_db()
    assert item.state == "escalated"
    return project, item, rita


def open_queue(page: Page, project, item) -> None:
    log_in(page, "rita")
    row = page.get_by_test_id("projects").get_by_role("row", name=project.name)
    row.get_by_role("link", name="Review queue").click()
    expect(page).to_have_url(f"/review/projects/{project.pk}/")
    expect(page.get_by_test_id("entry")).to_have_attribute("data-item", str(item.pk))


def test_reviewer_sees_every_candidate_overlaid_and_accepts_one(page: Page, escalated):
    project, item, rita = escalated
    open_queue(page, project, item)
    annotations = list(item.annotations.order_by("pk"))
    consensus = item.consensus_results.order_by("-round").first()
    expected = len(consensus.result.get("regions", [])) + len(annotations)
    overlay = page.get_by_test_id("overlay")
    expect(overlay.locator("rect[data-candidate]")).to_have_count(expected)
    for annotation in annotations:
        shapes = overlay.locator(f'rect[data-candidate="{annotation.pk}"]')
        expect(shapes).to_have_count(1)
    legend = page.get_by_test_id("legend")
    expect(legend.locator("li")).to_have_count(len(annotations) + 1)

    # The legend hides and shows a candidate.
    chosen = annotations[1]
    row = page.get_by_test_id(f"candidate-{chosen.pk}")
    row.get_by_role("checkbox").uncheck()
    expect(overlay.locator(f'g[data-candidate="{chosen.pk}"]')).to_be_hidden()
    row.get_by_role("checkbox").check()

    row.get_by_role("button", name="Accept").click()
    expect(page.get_by_test_id("status")).to_contain_text(f"Item {item.pk} accepted")
    expect(page.get_by_test_id("empty")).to_be_visible()
    golden = GoldenAnnotation.objects.get(item=item)
    assert golden.reviewed_by == rita and golden.payload == chosen.payload
    item.refresh_from_db()
    assert item.state == "promoted"


def test_reviewer_edits_a_candidate_by_dragging_its_edge(page: Page, escalated):
    project, item, rita = escalated
    open_queue(page, project, item)
    chosen = item.annotations.order_by("pk").first()  # the box at (50, 50, 300, 300)
    page.get_by_test_id(f"candidate-{chosen.pk}").get_by_role("button", name="Edit").click()
    expect(page.get_by_test_id("editor")).to_be_visible()
    expect(page.get_by_test_id("shape")).to_have_count(1)

    page.get_by_test_id("shape").click()  # select it: its handles appear
    east = page.locator('[data-testid="overlay"] .handle[data-handle="e"]')
    handle = east.bounding_box()
    image = page.get_by_test_id("image").bounding_box()
    assert handle is not None and image is not None
    scale = image["width"] / WIDTH
    start_x, start_y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move(start_x + 100 * scale, start_y, steps=5)  # 100 image pixels wider
    page.mouse.up()
    page.get_by_test_id("save-edit").click()

    expect(page.get_by_test_id("status")).to_contain_text(f"Item {item.pk} edited")
    golden = GoldenAnnotation.objects.get(item=item)
    assert golden.reviewed_by == rita
    (region,) = golden.payload["regions"]
    assert region["category_id"] == chosen.payload["regions"][0]["category_id"]
    assert region["bbox"] == pytest.approx([50, 50, 400, 300], abs=3)


def test_reviewer_rejects_the_item_with_a_reason(page: Page, escalated):
    project, item, rita = escalated
    open_queue(page, project, item)
    page.get_by_test_id("reject").click()
    expect(page.get_by_test_id("error")).to_contain_text("Give a reason")
    item.refresh_from_db()
    assert item.state == "escalated"

    page.get_by_label("Reason").fill("The image is too blurry to tell.")
    page.get_by_test_id("reject").click()
    expect(page.get_by_test_id("status")).to_contain_text(f"Item {item.pk} rejected")
    expect(page.get_by_test_id("empty")).to_be_visible()
    item.refresh_from_db()
    assert item.state == "rejected"
    assert not GoldenAnnotation.objects.exists()


def test_only_the_projects_reviewers_open_its_review_page(transactional_db):
    owner = factories.make_user("alice", role="manager")
    rita = factories.make_user("rita", role="reviewer")
    project = factories.make_project(owner=owner, reviewers=[rita])
    url = f"/review/projects/{project.pk}/"
    client = Client()
    assert client.get(url).status_code == 302  # to log in
    client.force_login(rita)
    assert client.get(url).status_code == 200
    # The owner reads the project's items but does not decide them (403); the others may not
    # see them (404).
    for user, code in (
        (factories.make_user("other-reviewer", role="reviewer"), 404),
        (factories.make_user("wendy"), 404),
        (owner, 403),
    ):
        client.force_login(user)
        assert client.get(url).status_code == code, user
