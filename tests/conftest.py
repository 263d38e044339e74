"""Shared fixtures: the named personas, API clients, isolated media, and the PostgreSQL marker."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests import factories


def pytest_configure(config):
    from django.conf import settings

    # Password hashing is deliberately slow; tests create many users and prove nothing with it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    """Tests that only PostgreSQL can prove are skipped, visibly, on any other database."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks, concurrency): set DATABASE_URL=postgres://..."
    )
    for item in items:
        if "requires_postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# Personas (healthchecks style): a manager and a second manager who must not see the first's
# projects, a worker, a reviewer and an auditor.
@pytest.fixture
def alice(db):
    return factories.make_user("alice", role="manager")


@pytest.fixture
def bob(db):
    return factories.make_user("bob", role="manager")


@pytest.fixture
def wendy(db):
    return factories.make_user("wendy", role="worker")


@pytest.fixture
def rita(db):
    return factories.make_user("rita", role="reviewer")


@pytest.fixture
def aldo(db):
    return factories.make_user("aldo", role="auditor")


@pytest.fixture
def project(alice, rita, aldo):
    """Alice's active bbox project, reviewed by Rita and audited by Aldo."""
    return factories.make_project(owner=alice, reviewers=[rita], auditors=[aldo])


@pytest.fixture
def api():
    """Return an API client logged in (by token) as the given user, or anonymous."""

    def client_for(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {factories.token_for(user)}")
        return client

    return client_for
