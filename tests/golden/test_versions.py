"""Golden dataset versions: freezing (numbering, immutability, refusals), diffs and the API."""

import threading

import pytest
from django.db import connection

from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from tests import factories
from tests.golden.golden_factories import boxes, make_consensus, make_golden
from workflows.golden.models import GoldenDatasetVersion
from workflows.golden.versions import (
    golden_content_hash,
    golden_version_diff,
    golden_version_freeze,
)

pytestmark = pytest.mark.urls("tests.golden.urls")


@pytest.fixture
def cats(project):
    return {c.name: c.pk for c in project.label_schema.categories.all()}


@pytest.fixture
def labelled(project, cats, rita):
    """Two items with golden labels and one gold item (which must never enter a version)."""
    first, second = factories.make_item(project=project), factories.make_item(project=project)
    gold = factories.make_item(project=project, gold_answer=boxes((cats["cat"], 1, 1, 5, 5)))
    make_golden(item=first, payload=boxes((cats["cat"], 1, 2, 10, 10)), reviewer=rita)
    make_golden(item=second, payload=boxes((cats["dog"], 5, 5, 20, 10)), reviewer=rita)
    return first, second, gold


def test_freeze_numbers_versions_from_one_and_records_what_it_took(project, alice, labelled, cats):
    first, second, gold = labelled
    version = golden_version_freeze(project=project, actor=alice)
    assert version.number == 1
    assert version.created_by == alice
    assert {g.item_id for g in version.annotations.all()} == {first.pk, second.pk}
    assert version.counts == {"items": 2, "regions": 2, "per_category": {"cat": 1, "dog": 1}}
    assert version.parameters["project"]["accept_agreement"] == project.accept_agreement
    assert version.parameters["project"]["min_redundancy"] == project.min_redundancy
    assert version.parameters["project"]["accept_relaxed_from"] == project.accept_relaxed_from
    assert version.parameters["label_schema"]["kind"] == "bbox"
    assert len(version.content_hash) == 64


def test_freeze_refuses_when_nothing_changed_and_when_nothing_is_golden(project, alice, labelled):
    golden_version_freeze(project=project, actor=alice)
    with pytest.raises(Conflict, match="nothing changed since version 1"):
        golden_version_freeze(project=project, actor=alice)
    empty = factories.make_project(owner=alice)
    with pytest.raises(Conflict, match="no promoted golden labels"):
        golden_version_freeze(project=empty, actor=alice)
    assert GoldenDatasetVersion.objects.filter(project=project).count() == 1


def test_freeze_counts_only_gold_free_items_even_when_a_gold_item_has_a_golden_row(
    project, alice, labelled, rita, cats
):
    _, _, gold = labelled
    make_golden(item=gold, payload=boxes((cats["cat"], 1, 1, 5, 5)), reviewer=rita)
    version = golden_version_freeze(project=project, actor=alice)
    assert gold.pk not in {g.item_id for g in version.annotations.all()}
    assert version.counts["items"] == 2


def test_later_promotions_go_into_the_next_version_only(project, alice, labelled, rita, cats):
    first, second, _ = labelled
    v1 = golden_version_freeze(project=project, actor=alice)
    v1_rows = set(v1.annotations.values_list("pk", flat=True))
    third = factories.make_item(project=project)
    make_golden(item=third, payload=boxes((cats["dog"], 0, 0, 4, 4)), reviewer=rita)
    make_golden(item=first, payload=boxes((cats["dog"], 1, 2, 10, 10)), reviewer=rita)
    v2 = golden_version_freeze(project=project, actor=alice)
    v1.refresh_from_db()
    assert v2.number == 2
    assert set(v1.annotations.values_list("pk", flat=True)) == v1_rows
    assert v1.counts["items"] == 2
    assert {g.item_id for g in v2.annotations.all()} == {first.pk, second.pk, third.pk}
    assert v2.content_hash != v1.content_hash


def test_content_hash_ignores_order_and_depends_on_payload_and_image():
    a, b = ("a" * 64, {"regions": []}), ("b" * 64, {"regions": [{"category_id": 1}]})
    assert golden_content_hash([a, b]) == golden_content_hash([b, a])
    assert golden_content_hash([a]) != golden_content_hash([b])
    assert golden_content_hash([("c" * 64, a[1])]) != golden_content_hash([a])


@pytest.mark.parametrize("persona", ["bob", "wendy", "rita", "aldo"])
def test_only_the_manager_or_an_operator_may_freeze(project, labelled, persona, request):
    with pytest.raises(Forbidden):
        golden_version_freeze(project=project, actor=request.getfixturevalue(persona))
    operator = factories.make_user("ops", role="worker", is_staff=True)
    assert golden_version_freeze(project=project, actor=operator).number == 1


def test_diff_lists_added_removed_and_changed_items(project, alice, labelled, rita, cats):
    first, second, _ = labelled
    v1 = golden_version_freeze(project=project, actor=alice)
    third = factories.make_item(project=project)
    make_golden(item=third, payload=boxes((cats["cat"], 0, 0, 4, 4)), reviewer=rita)
    new_first = make_golden(item=first, payload=boxes((cats["dog"], 1, 2, 10, 10)), reviewer=rita)
    # The same label promoted again is not a change.
    make_golden(item=second, payload=boxes((cats["dog"], 5, 5, 20, 10)), reviewer=rita)
    v2 = golden_version_freeze(project=project, actor=alice)
    diff = golden_version_diff(base=v1, other=v2)
    assert diff["added"] == [third.pk]
    assert diff["removed"] == []
    assert [c["item_id"] for c in diff["changed"]] == [first.pk]
    assert diff["changed"][0]["old"] == boxes((cats["cat"], 1, 2, 10, 10))
    assert diff["changed"][0]["new_annotation_id"] == new_first.pk
    assert diff["unchanged"] == 1
    assert golden_version_diff(base=v2, other=v1)["removed"] == [third.pk]


def test_diff_refuses_versions_of_different_projects(project, alice, labelled, cats, rita):
    other_project = factories.make_project(owner=alice)
    item = factories.make_item(project=other_project)
    names = {c.name: c.pk for c in other_project.label_schema.categories.all()}
    make_golden(item=item, payload=boxes((names["cat"], 0, 0, 3, 3)), reviewer=rita)
    with pytest.raises(InvalidInput):
        golden_version_diff(
            base=golden_version_freeze(project=project, actor=alice),
            other=golden_version_freeze(project=other_project, actor=alice),
        )


def test_version_keeps_consensus_methods_and_package_versions(project, alice, wendy, cats):
    item = factories.make_item(project=project)
    payload = boxes((cats["cat"], 1, 1, 8, 8))
    result, _ = make_consensus(item=item, payload=payload, workers=[wendy])
    make_golden(item=item, payload=payload, consensus_result=result)
    version = golden_version_freeze(project=project, actor=alice)
    assert version.parameters["consensus"]["methods"] == ["bbox:auto"]
    assert version.parameters["consensus"]["package_versions"] == ["1"]


# -- API -------------------------------------------------------------------------------------


def test_api_freeze_list_retrieve_and_diff(api, project, alice, aldo, labelled, rita, cats):
    response = api(alice).post(f"/api/v1/projects/{project.pk}/golden-versions/")
    assert response.status_code == 201, response.content
    v1 = response.json()
    assert v1["number"] == 1 and v1["annotation_count"] == 2
    again = api(alice).post(f"/api/v1/projects/{project.pk}/golden-versions/")
    assert again.status_code == 409
    make_golden(item=labelled[0], payload=boxes((cats["dog"], 1, 1, 3, 3)), reviewer=rita)
    v2 = api(alice).post(f"/api/v1/projects/{project.pk}/golden-versions/").json()

    listing = api(aldo).get(f"/api/v1/golden-versions/?project={project.pk}")
    assert listing.status_code == 200
    assert [v["number"] for v in listing.json()["results"]] == [1, 2]
    assert api(aldo).get(f"/api/v1/golden-versions/{v1['id']}/").json()["content_hash"]
    diff = api(aldo).get(f"/api/v1/golden-versions/{v2['id']}/diff/?against={v1['id']}")
    assert diff.status_code == 200
    assert [c["item_id"] for c in diff.json()["changed"]] == [labelled[0].pk]
    assert api(aldo).get(f"/api/v1/golden-versions/{v2['id']}/diff/").status_code == 400


def test_api_refuses_workers_reviewers_and_other_managers(api, project, alice, bob, wendy, rita,
                                                          aldo, labelled):  # fmt: skip
    version = golden_version_freeze(project=project, actor=alice)
    for user in (bob, wendy, rita):
        assert api(user).get(f"/api/v1/golden-versions/{version.pk}/").status_code == 404
        assert api(user).get("/api/v1/golden-versions/").json()["results"] == []
    assert api(aldo).post(f"/api/v1/projects/{project.pk}/golden-versions/").status_code == 403
    assert api(bob).post(f"/api/v1/projects/{project.pk}/golden-versions/").status_code == 404
    assert api().get("/api/v1/golden-versions/").status_code in (401, 403)


def test_api_versions_have_no_update_or_delete(api, project, alice, labelled):
    version = golden_version_freeze(project=project, actor=alice)
    url = f"/api/v1/golden-versions/{version.pk}/"
    assert api(alice).patch(url, {"number": 7}, format="json").status_code == 405
    assert api(alice).delete(url).status_code == 405
    version.refresh_from_db()
    assert version.number == 1


def test_api_list_query_count_does_not_grow_with_versions(
    api, project, alice, labelled, rita, cats, django_assert_max_num_queries
):
    for n in range(3):
        make_golden(item=labelled[0], payload=boxes((cats["cat"], 1, 1, 3 + n, 3)), reviewer=rita)
        golden_version_freeze(project=project, actor=alice)
    client = api(alice)
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/golden-versions/").json()["results"]) == 3


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_freezes_make_one_version(alice, rita):
    project = factories.make_project(owner=alice, reviewers=[rita])
    cat = project.label_schema.categories.first().pk
    for _ in range(3):
        make_golden(item=factories.make_item(project=project), payload=boxes((cat, 1, 1, 4, 4)),
                    reviewer=rita)  # fmt: skip
    outcomes, barrier = [], threading.Barrier(4)

    def freeze():
        barrier.wait()
        try:
            outcomes.append(golden_version_freeze(project=project, actor=alice).number)
        except Conflict as exc:
            outcomes.append(exc.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=freeze) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1]
    assert all("nothing changed" in o for o in outcomes if isinstance(o, str))
    assert GoldenDatasetVersion.objects.filter(project=project).count() == 1
