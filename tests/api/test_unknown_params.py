"""A query parameter no list endpoint knows is a 400 that names it and lists the known ones,
never a filter silently ignored (``?state=`` for ``?status=`` used to return every row)."""

import pytest

from crowd.qualifications.services import qualification_type_create
from tests import factories
from tests.golden.golden_factories import boxes, make_golden
from workflows.golden.versions import golden_version_freeze
from workflows.webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

PAGINATION_AND_FRIENDS = {"page", "page_size", "search", "ordering", "format"}


@pytest.fixture
def olga(db):
    """An operator: sees every list, payout batches included."""
    return factories.make_user("olga", role="manager", is_staff=True)


@pytest.fixture
def assignments(project, wendy):
    leased, submitted = (factories.make_item(project=project) for _ in range(2))
    return {
        "leased": factories.make_assignment(item=leased, worker=wendy),
        "submitted": factories.make_assignment(item=submitted, worker=wendy, status="submitted"),
    }


def test_an_unknown_filter_is_a_400_naming_it_and_the_known_ones(api, wendy, assignments):
    response = api(wendy).get("/api/v1/assignments/?state=submitted")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "'state'" in error["message"] and "status" in error["message"]
    assert error["details"]["unknown"] == ["state"]
    known = set(error["details"]["known"])
    assert {"project", "status", "worker"} | PAGINATION_AND_FRIENDS <= known


def test_a_known_filter_still_filters(api, wendy, assignments):
    response = api(wendy).get("/api/v1/assignments/?status=submitted&ordering=-id&page_size=5")
    assert response.status_code == 200, response.content
    assert [a["id"] for a in response.json()["results"]] == [assignments["submitted"].pk]


def test_every_unknown_parameter_is_named(api, wendy, assignments):
    response = api(wendy).get("/api/v1/assignments/?state=x&status=submitted&limit=3")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["unknown"] == ["limit", "state"]


LIST_ROUTES = [
    ("label-schemas", {"kind", "search"}),
    ("projects", {"status", "search"}),
    ("datasets", {"project"}),
    ("items", {"project", "state", "is_gold"}),
    ("qualification-types", {"system", "is_active", "search"}),
    ("qualification-requirements", {"project", "qualification_type", "comparator"}),
    ("qualification-grants", {"worker", "qualification_type"}),
    ("qualification-events", {"worker", "type"}),  # read by the view itself
    ("assignments", {"status"}),
    ("annotations", {"item"}),
    ("blocks", {"worker", "project"}),
    ("golden-annotations", {"project", "item"}),
    ("consensus-results", {"item", "decision"}),
    ("webhooks", {"project", "is_active"}),
    ("payout-batches", {"currency", "status"}),
    ("bonus-rules", {"project", "active"}),
    ("golden-versions", {"project"}),
    ("exports", {"version", "format", "status"}),
]


@pytest.mark.parametrize(("route", "filters"), LIST_ROUTES, ids=[r for r, _ in LIST_ROUTES])
def test_every_list_refuses_unknown_parameters_and_accepts_its_own(api, olga, route, filters):
    client = api(olga)
    refused = client.get(f"/api/v1/{route}/?colour=red")
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["code"] == "invalid" and "'colour'" in error["message"]
    assert filters | (PAGINATION_AND_FRIENDS - {"search"}) <= set(error["details"]["known"])

    assert client.get(f"/api/v1/{route}/?page=1&page_size=5&ordering=id").status_code == 200


def test_parameters_a_view_reads_itself_keep_working(api, alice, wendy):
    qtype = qualification_type_create(owner=alice, name="steady hands")
    response = api(alice).get(f"/api/v1/qualification-events/?worker={wendy.pk}&type={qtype.pk}")
    assert response.status_code == 200, response.content


def test_the_diffs_against_is_known_to_the_diff_only(api, project, alice, rita):
    categories = list(project.label_schema.categories.values_list("pk", flat=True))
    item = factories.make_item(project=project)
    make_golden(item=item, payload=boxes((categories[0], 1, 1, 5, 5)), reviewer=rita)
    v1 = golden_version_freeze(project=project, actor=alice)
    make_golden(item=item, payload=boxes((categories[1], 1, 1, 5, 5)), reviewer=rita)
    v2 = golden_version_freeze(project=project, actor=alice)
    client = api(alice)

    diff = client.get(f"/api/v1/golden-versions/{v2.pk}/diff/?against={v1.pk}")
    assert diff.status_code == 200, diff.content
    assert [c["item_id"] for c in diff.json()["changed"]] == [item.pk]
    refused = client.get(f"/api/v1/golden-versions/{v2.pk}/diff/?against={v1.pk}&agianst=1")
    assert refused.status_code == 400
    assert "against" in refused.json()["error"]["details"]["known"]
    listing = client.get(f"/api/v1/golden-versions/?against={v1.pk}")
    assert listing.status_code == 400 and "'against'" in listing.json()["error"]["message"]


def test_a_paginated_detail_action_takes_pagination(api, alice, project, settings):
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = True
    endpoint = webhook_endpoint_create(
        project=project, url="http://127.0.0.1:9/hooks", created_by=alice
    )
    deliveries = f"/api/v1/webhooks/{endpoint.pk}/deliveries/"
    assert api(alice).get(f"{deliveries}?page=1&page_size=10").status_code == 200
    assert api(alice).get(f"{deliveries}?colour=red").status_code == 400
