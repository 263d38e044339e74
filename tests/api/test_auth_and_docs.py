"""Tokens, the current user, error bodies, and the OpenAPI schema and docs."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def test_password_for_token_then_token_authenticates(api, wendy):
    response = api().post(
        "/api/v1/auth/token/", {"username": "wendy", "password": factories.PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/me/").json()
    assert me["username"] == "wendy" and me["role"] == "worker"
    assert me["worker_profile"] is not None


@pytest.mark.parametrize(
    "body, status",
    [
        ({"username": "wendy", "password": "wrong"}, 401),
        ({"username": "nobody", "password": "x"}, 401),
        ({"username": "wendy"}, 400),
    ],
)
def test_bad_credentials_are_refused_with_error_body(api, wendy, body, status):
    response = api().post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_bogus_token_is_401(api):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401 and response.json()["error"]["code"]


def test_unknown_ids_are_404_with_error_body(api, alice):
    for url in ("/api/v1/projects/999999/", "/api/v1/items/999999/", "/api/v1/datasets/999999/"):
        response = api(alice).get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_malformed_json_is_a_400(api, alice):
    response = api(alice).generic(
        "POST", "/api/v1/label-schemas/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/projects/", "/api/v1/items/", "/api/v1/datasets/{id}/import/"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
