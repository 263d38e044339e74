"""Projects and label schemas over the API: who may create, read, change and delete."""

import pytest

from tests import factories
from workflows.projects.models import LabelSchema, Project

pytestmark = pytest.mark.django_db

SCHEMA = {"name": "animals", "kind": "bbox", "categories": [{"name": "cat"}, {"name": "dog"}]}


def project_body(schema_id, **overrides):
    body = {"name": "Cats", "label_schema": schema_id, "min_redundancy": 2, "max_redundancy": 4}
    body.update(overrides)
    return body


def assert_error(response, status, code=None, text=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    if text:
        assert text in error["message"]


def test_manager_creates_schema_and_project(api, alice):
    client = api(alice)
    schema = client.post("/api/v1/label-schemas/", SCHEMA, format="json")
    assert schema.status_code == 201, schema.content
    assert [c["name"] for c in schema.json()["categories"]] == ["cat", "dog"]
    response = client.post("/api/v1/projects/", project_body(schema.json()["id"]), format="json")
    assert response.status_code == 201, response.content
    project = Project.objects.get(pk=response.json()["id"])
    assert project.owner == alice and project.status == "draft"
    assert (project.min_redundancy, project.max_redundancy) == (2, 4)


@pytest.mark.parametrize("persona", ["wendy", "rita", "aldo"])
def test_only_managers_create_projects_and_schemas(api, request, alice, persona):
    schema = factories.make_schema(owner=alice)
    client = api(request.getfixturevalue(persona))
    assert_error(client.post("/api/v1/label-schemas/", SCHEMA, format="json"), 403)
    assert_error(client.post("/api/v1/projects/", project_body(schema.pk), format="json"), 403)
    assert Project.objects.count() == 0
    assert LabelSchema.objects.count() == 1


def test_anonymous_gets_401_with_error_body(api):
    assert_error(api().get("/api/v1/projects/"), 401, code="not_authenticated")


def test_manager_cannot_use_another_managers_schema(api, alice, bob):
    schema = factories.make_schema(owner=bob)
    response = api(alice).post("/api/v1/projects/", project_body(schema.pk), format="json")
    assert_error(response, 403, text="your own label schemas")
    assert Project.objects.count() == 0


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"min_redundancy": 5, "max_redundancy": 3}, "max_redundancy must be at least"),
        ({"currency": "dollars"}, "currency"),
        ({"gold_rate": 1.0}, "gold_rate"),
        ({"iou_threshold": 0}, "iou_threshold"),
        ({"lease_seconds": 1}, "lease_seconds"),
        ({"reward_minor": -5}, "reward_minor"),
        ({"status": "completed"}, "draft or active"),
        ({"label_schema": 999999}, "label_schema"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_project_settings_get_clear_400_and_nothing_written(api, alice, overrides, text):
    schema = factories.make_schema(owner=alice)
    response = api(alice).post(
        "/api/v1/projects/", project_body(schema.pk, **overrides), format="json"
    )
    assert_error(response, 400, text=text)
    assert Project.objects.count() == 0


def test_project_lists_are_scoped_by_role(api, project, alice, bob, wendy, rita, aldo):
    factories.make_project(owner=bob)
    draft = factories.make_project(owner=alice, status="draft")

    def ids(user):
        return {p["id"] for p in api(user).get("/api/v1/projects/").json()["results"]}

    assert ids(alice) == {project.pk, draft.pk}
    assert project.pk not in ids(bob)
    assert ids(rita) == {project.pk}
    assert ids(aldo) == {project.pk}
    # Workers see active projects only, without budget or people.
    assert draft.pk not in ids(wendy) and project.pk in ids(wendy)
    body = api(wendy).get(f"/api/v1/projects/{project.pk}/").json()
    assert "budget_minor" not in body and "auditors" not in body
    assert body["label_schema"]["categories"]


def test_other_managers_project_is_404_not_403(api, project, bob):
    assert_error(api(bob).get(f"/api/v1/projects/{project.pk}/"), 404)
    assert_error(api(bob).patch(f"/api/v1/projects/{project.pk}/", {"name": "x"}), 404)


@pytest.mark.parametrize("persona", ["wendy", "rita", "aldo"])
def test_readers_cannot_change_or_delete_a_project(api, request, project, persona):
    client = api(request.getfixturevalue(persona))
    assert_error(client.patch(f"/api/v1/projects/{project.pk}/", {"name": "mine"}), 403)
    assert_error(client.delete(f"/api/v1/projects/{project.pk}/"), 403)
    project.refresh_from_db()
    assert project.name != "mine"


def test_status_transitions_are_checked(api, project, alice):
    client = api(alice)
    assert client.patch(f"/api/v1/projects/{project.pk}/", {"status": "paused"}).status_code == 200
    response = client.patch(f"/api/v1/projects/{project.pk}/", {"status": "draft"})
    assert_error(response, 409, text="cannot become draft")
    project.refresh_from_db()
    assert project.status == "paused"


def test_attached_people_must_have_the_right_role(api, project, alice, wendy):
    response = api(alice).patch(
        f"/api/v1/projects/{project.pk}/", {"auditors": [wendy.pk]}, format="json"
    )
    assert_error(response, 400, text="auditor role")
    assert not project.auditors.filter(pk=wendy.pk).exists()


def test_raising_min_redundancy_raises_open_items(api, project, alice):
    item = factories.make_item(project=project)
    assert item.labels_wanted == project.min_redundancy
    api(alice).patch(f"/api/v1/projects/{project.pk}/", {"min_redundancy": 4, "max_redundancy": 6})
    item.refresh_from_db()
    assert item.labels_wanted == 4


def test_project_with_work_cannot_be_deleted(api, project, alice, wendy):
    item = factories.make_item(project=project)
    factories.make_assignment(item=item, worker=wendy)
    assert_error(api(alice).delete(f"/api/v1/projects/{project.pk}/"), 409, text="archive")
    assert Project.objects.filter(pk=project.pk).exists()


def test_empty_project_can_be_deleted(api, alice):
    project = factories.make_project(owner=alice)
    assert api(alice).delete(f"/api/v1/projects/{project.pk}/").status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


@pytest.mark.parametrize(
    "body, text",
    [
        ({"name": "x", "kind": "bbox", "categories": []}, "at least one category"),
        ({"name": "x", "kind": "bbox", "categories": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"name": "x", "kind": "cube", "categories": [{"name": "a"}]}, "kind"),
        ({"name": "x", "kind": "keypoints", "categories": [{"name": "a"}]}, "name their points"),
        ({"name": "x", "kind": "bbox", "categories": [{"name": "a", "color": "red"}]}, "hex"),
    ],
)
def test_bad_schemas_are_refused_whole(api, alice, body, text):
    assert_error(api(alice).post("/api/v1/label-schemas/", body, format="json"), 400, text=text)
    assert LabelSchema.objects.count() == 0


def test_schema_categories_freeze_once_annotated(api, project, alice, wendy):
    item = factories.make_item(project=project)
    factories.make_annotation(
        assignment=factories.make_assignment(item=item, worker=wendy, status="submitted")
    )
    response = api(alice).patch(
        f"/api/v1/label-schemas/{project.label_schema_id}/",
        {"categories": [{"name": "bird"}]},
        format="json",
    )
    assert_error(response, 409, text="annotated")
    assert [c.name for c in project.label_schema.categories.all()] == ["cat", "dog"]


def test_list_endpoint_query_count_does_not_grow_with_rows(
    api, alice, django_assert_max_num_queries
):
    for _ in range(5):
        factories.make_project(owner=alice)
    client = api(alice)
    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/projects/")
    assert response.json()["count"] == 5


def test_filtering_and_pagination(api, alice):
    factories.make_project(owner=alice, name="alpha")
    factories.make_project(owner=alice, name="beta", status="draft")
    client = api(alice)
    assert [p["name"] for p in client.get("/api/v1/projects/?status=draft").json()["results"]] == [
        "beta"
    ]
    page = client.get("/api/v1/projects/?page_size=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]
    assert [p["name"] for p in client.get("/api/v1/projects/?search=alp").json()["results"]] == [
        "alpha"
    ]
