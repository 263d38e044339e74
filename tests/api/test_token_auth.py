"""The API token check (crowd.accounts.authentication): DRF's rules through our own lookup."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crowd.accounts.authentication import token_user
from crowd.accounts.models import User
from tests import factories

pytestmark = pytest.mark.django_db


def with_token(api, key):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_user_comes_back_as_the_orm_loads_it(wendy):
    User.objects.filter(pk=wendy.pk).update(last_login=timezone.now(), first_name="Wendy")
    key = factories.token_for(wendy)
    user, token = token_user(key)
    expected = User.objects.get(pk=wendy.pk)
    for field in User._meta.concrete_fields:  # converted per field (SQLite dates, booleans)
        got, want = getattr(user, field.attname), getattr(expected, field.attname)
        assert (got, type(got)) == (want, type(want)), field.name  # True, not 1
    assert token.pk == key and token.user is user
    assert token.created == Token.objects.get(pk=key).created  # loaded when read


def test_one_query_per_check(wendy):
    key = factories.token_for(wendy)
    with CaptureQueriesContext(connection) as queries:
        token_user(key)
    assert len(queries) == 1


def test_a_valid_token_authenticates(api, wendy):
    response = with_token(api, factories.token_for(wendy)).get("/api/v1/me/")
    assert response.status_code == 200 and response.json()["username"] == "wendy"


def test_the_key_must_match_exactly(api, wendy):
    key = factories.token_for(wendy)
    for wrong in (key.upper(), key[:-1], key + "0", f"{key[:20]}%"):
        response = with_token(api, wrong).get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid token."
        assert response["WWW-Authenticate"] == "Token"


def test_an_inactive_users_token_is_refused(api, wendy):
    key = factories.token_for(wendy)
    User.objects.filter(pk=wendy.pk).update(is_active=False)
    response = with_token(api, key).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."


@pytest.mark.requires_postgres
def test_the_lookup_is_prepared_on_the_server_once_repeated(wendy):
    """Server-side binding (settings): a query a connection has run five times is planned
    once. With Django's default, binding on the client, the token check is re-planned on every
    request."""
    key = factories.token_for(wendy)
    for _ in range(6):
        assert token_user(key)[0] == wendy
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "authtoken_token"' in sql and "$1" in sql for sql in prepared)
