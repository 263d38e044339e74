"""The pages a person sees first, in a real browser: sign-up, log-in, log-out, the per-role
dashboard and the API docs."""

import pytest
from playwright.sync_api import Page, expect

from crowd.accounts.services import user_create
from workflows.demo.project import PROJECT_NAME
from workflows.demo.seed import demo_seed
from workflows.projects.services import label_schema_create, project_create

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery-42"


def _log_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def open_project(transactional_db):
    """An active project that any worker's dashboard lists, paying 12 cents a task."""
    owner = user_create(username="olga", password=PASSWORD, role="manager")
    schema = label_schema_create(
        owner=owner, name="Animals", kind="bbox", categories=[{"name": "cat"}]
    )
    return project_create(
        owner=owner, label_schema=schema, name="Find the cats", status="active", reward_minor=12
    )


def test_visitor_signs_up_as_worker_logs_out_and_logs_in_again(page: Page, open_project):
    page.goto("/")
    page.get_by_role("link", name="Sign up as a worker").click()
    page.get_by_label("Email").fill("vera@example.com")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url("/")
    expect(page.get_by_test_id("role")).to_contain_text("worker")
    row = page.get_by_test_id("projects").get_by_role("row", name="Find the cats")
    expect(row).to_contain_text("0.12 USD")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_test_id("who")).to_have_count(0)

    _log_in(page, "vera", PASSWORD)
    expect(page.get_by_test_id("who")).to_have_text("vera · Worker")
    expect(page.get_by_test_id("projects")).to_contain_text("Find the cats")


def test_demo_manager_logs_in_and_sees_the_demo_project_with_its_items(
    page: Page, transactional_db, data_dir
):
    demo = demo_seed(images=6, seed=1)
    _log_in(page, "demo-manager", demo.password_of("demo-manager"))
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    row = page.get_by_test_id("projects").get_by_role("row", name=PROJECT_NAME)
    expect(row.get_by_role("cell").nth(3)).to_have_text("6")
    expect(row).to_contain_text("Active")


def test_wrong_password_shows_an_error_and_stays_logged_out(page: Page, transactional_db):
    user_create(username="wendy", password=PASSWORD, role="worker")
    _log_in(page, "wendy", "not-the-password")
    expect(page.get_by_test_id("form-errors")).to_contain_text("not correct")
    expect(page).to_have_url("/accounts/login/")
    expect(page.get_by_test_id("who")).to_have_count(0)


def test_api_docs_page_renders_with_the_quorum_schema(page: Page, transactional_db):
    response = page.goto("/api/docs/", wait_until="domcontentloaded")
    assert response is not None and response.ok
    expect(page).to_have_title("Quorum API")
    expect(page.locator("#swagger-ui")).to_be_attached()
    schema = page.request.get("/api/schema/")
    assert schema.ok and "/api/v1/projects/" in schema.text()
