"""Qualification types and project requirements over the API."""

import pytest

from crowd.qualifications.models import QualificationRequirement, QualificationType

pytestmark = pytest.mark.django_db


def test_manager_creates_a_type_everyone_reads_it(api, alice, wendy):
    response = api(alice).post(
        "/api/v1/qualification-types/",
        {"name": "Birds expert", "auto_grant": True, "auto_grant_value": 1},
        format="json",
    )
    assert response.status_code == 201, response.content
    names = [q["name"] for q in api(wendy).get("/api/v1/qualification-types/").json()["results"]]
    assert names == ["Birds expert"]


@pytest.mark.parametrize("persona", ["wendy", "rita", "aldo"])
def test_non_managers_cannot_create_types(api, request, persona):
    client = api(request.getfixturevalue(persona))
    response = client.post("/api/v1/qualification-types/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert QualificationType.objects.count() == 0


def test_auto_grant_needs_a_value_and_names_are_unique(api, alice, bob):
    client = api(alice)
    response = client.post(
        "/api/v1/qualification-types/", {"name": "x", "auto_grant": True}, format="json"
    )
    assert response.status_code == 400 and "auto_grant_value" in response.json()["error"]["message"]
    assert (
        client.post("/api/v1/qualification-types/", {"name": "x"}, format="json").status_code == 201
    )
    response = api(bob).post("/api/v1/qualification-types/", {"name": "x"}, format="json")
    assert response.status_code == 400 and "already exists" in response.json()["error"]["message"]
    assert QualificationType.objects.count() == 1


def test_only_the_owner_changes_a_type(api, alice, bob):
    qtype = api(alice).post("/api/v1/qualification-types/", {"name": "x"}, format="json").json()
    response = api(bob).patch(f"/api/v1/qualification-types/{qtype['id']}/", {"name": "mine"})
    assert response.status_code == 403
    assert QualificationType.objects.get().name == "x"


@pytest.mark.parametrize(
    "comparator, operands",
    [
        ("lt", {"value": 5}), ("lte", {"value": 5}), ("gt", {"value": 5}), ("gte", {"value": 5}),
        ("eq", {"value": 5}), ("neq", {"value": 5}), ("exists", {}), ("not_exists", {}),
        ("in", {"values": [1, 2]}), ("not_in", {"values": [3]}),
    ],
)  # fmt: skip
def test_every_comparator_can_be_required(api, project, alice, comparator, operands):
    from crowd.qualifications.services import qualification_type_create

    qtype = qualification_type_create(owner=alice, name="skill")
    body = {"project": project.pk, "qualification_type": qtype.pk, "comparator": comparator}
    response = api(alice).post(
        "/api/v1/qualification-requirements/", {**body, **operands}, format="json"
    )
    assert response.status_code == 201, response.content
    stored = QualificationRequirement.objects.get()
    assert stored.comparator == comparator
    assert stored.value == operands.get("value") and stored.values == operands.get("values")


@pytest.mark.parametrize(
    "comparator, operands, text",
    [
        ("gte", {}, "exactly one integer value"),
        ("gte", {"value": 1, "values": [1]}, "exactly one integer value"),
        ("in", {"value": 1}, "non-empty list"),
        ("in", {"values": []}, "non-empty list"),
        ("exists", {"value": 1}, "takes no value"),
        ("approx", {"value": 1}, "comparator"),
        ("in", {"values": ["a"]}, "values"),
    ],
)
def test_requirement_operands_are_checked(api, project, alice, comparator, operands, text):
    from crowd.qualifications.services import qualification_type_create

    qtype = qualification_type_create(owner=alice, name="skill")
    body = {"project": project.pk, "qualification_type": qtype.pk, "comparator": comparator}
    response = api(alice).post(
        "/api/v1/qualification-requirements/", {**body, **operands}, format="json"
    )
    assert response.status_code == 400, response.content
    assert text in response.json()["error"]["message"]
    assert QualificationRequirement.objects.count() == 0


def test_requirements_only_on_managed_projects_and_not_twice(api, project, alice, bob, aldo):
    from crowd.qualifications.services import qualification_type_create

    qtype = qualification_type_create(owner=alice, name="skill")
    body = {"project": project.pk, "qualification_type": qtype.pk, "comparator": "exists"}
    # Bob may not see Alice's project (404); Aldo audits it: he sees it but changes nothing.
    assert (
        api(bob).post("/api/v1/qualification-requirements/", body, format="json").status_code == 404
    )
    assert (
        api(aldo).post("/api/v1/qualification-requirements/", body, format="json").status_code
        == 403
    )
    assert (
        api(alice).post("/api/v1/qualification-requirements/", body, format="json").status_code
        == 201
    )
    again = api(alice).post("/api/v1/qualification-requirements/", body, format="json")
    assert again.status_code in (400, 409)
    assert QualificationRequirement.objects.count() == 1
    # A required type cannot be deleted from under the project.
    assert api(alice).delete(f"/api/v1/qualification-types/{qtype.pk}/").status_code == 409
