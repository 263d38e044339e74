"""What each role may read of assignments and annotations: a worker only its own."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(project, wendy):
    """Wendy and Walt each labelled one item of Alice's project."""
    walt = factories.make_user("walt")
    item = factories.make_item(project=project)
    mine = factories.make_assignment(item=item, worker=wendy, status="submitted")
    theirs = factories.make_assignment(item=item, worker=walt, status="submitted")
    return {
        "mine": mine,
        "theirs": theirs,
        "my_label": factories.make_annotation(assignment=mine),
        "their_label": factories.make_annotation(assignment=theirs),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_worker_sees_only_own_assignments_and_labels(api, wendy, work):
    client = api(wendy)
    assert ids(client.get("/api/v1/assignments/")) == {work["mine"].pk}
    assert ids(client.get("/api/v1/annotations/")) == {work["my_label"].pk}
    assert client.get(f"/api/v1/assignments/{work['theirs'].pk}/").status_code == 404
    assert client.get(f"/api/v1/annotations/{work['their_label'].pk}/").status_code == 404
    assert ids(client.get(f"/api/v1/annotations/?item={work['mine'].item_id}")) == {
        work["my_label"].pk
    }


@pytest.mark.parametrize("persona", ["alice", "rita", "aldo"])
def test_project_people_see_all_labels_of_the_project(api, request, work, persona):
    client = api(request.getfixturevalue(persona))
    assert ids(client.get("/api/v1/annotations/")) == {work["my_label"].pk, work["their_label"].pk}
    assert len(ids(client.get("/api/v1/assignments/"))) == 2


def test_other_manager_sees_nothing_of_the_project(api, bob, work):
    assert ids(api(bob).get("/api/v1/annotations/")) == set()
    assert ids(api(bob).get("/api/v1/assignments/")) == set()


@pytest.mark.parametrize("persona", ["wendy", "alice", "aldo"])
def test_assignments_and_annotations_are_read_only_here(api, request, work, persona):
    client = api(request.getfixturevalue(persona))
    assert client.delete(f"/api/v1/annotations/{work['my_label'].pk}/").status_code == 405
    assert (
        client.patch(f"/api/v1/assignments/{work['mine'].pk}/", {"status": "approved"}).status_code
        == 405
    )
    work["mine"].refresh_from_db()
    assert work["mine"].status == "submitted"


def test_no_gold_field_anywhere_a_worker_reads(api, project, wendy):
    gold = {
        "regions": [
            {"category_id": project.label_schema.categories.first().pk, "bbox": [1, 1, 5, 5]}
        ]
    }
    item = factories.make_item(project=project, gold_answer=gold)
    factories.make_annotation(
        assignment=factories.make_assignment(item=item, worker=wendy, status="submitted")
    )
    client = api(wendy)
    for url in (
        "/api/v1/assignments/",
        "/api/v1/annotations/",
        "/api/v1/projects/",
        f"/api/v1/projects/{project.pk}/",
        "/api/v1/me/",
    ):
        text = client.get(url).content.decode()
        assert "gold" not in text, url
