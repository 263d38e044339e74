"""The webhook API: managers manage their endpoints; everyone else is refused (404 or 403)."""

import pytest

from tests import factories
from workflows.webhooks import services
from workflows.webhooks.models import WebhookDelivery, WebhookEndpoint
from workflows.webhooks.signing import webhook_signature_verify

# Until crowd/api_v1.py registers the router, the tests mount it on top of the project's URLs.
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.webhooks.urls")]

URL = "/api/v1/webhooks/"


def assert_error(response, status, text=None):
    assert response.status_code == status, response.content
    if text:
        assert text in response.json()["error"]["message"]


def test_manager_creates_and_sees_the_secret_once(api, alice, project, receiver):
    client = api(alice)
    body = {"project": project.pk, "url": receiver.url, "events": ["item.promoted"]}
    created = client.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    endpoint = WebhookEndpoint.objects.get(pk=data["id"])
    assert data["secret"] == endpoint.secret and len(endpoint.secret) >= 40
    assert (endpoint.created_by, endpoint.events, endpoint.is_active) == (
        alice,
        ["item.promoted"],
        True,
    )
    assert "secret" not in client.get(f"{URL}{endpoint.pk}/").json()
    listed = client.get(URL).json()["results"]
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]


def test_a_given_secret_is_kept(api, alice, project, receiver):
    body = {"project": project.pk, "url": receiver.url, "secret": "x" * 32}
    created = api(alice).post(URL, body, format="json")
    assert created.status_code == 201 and created.json()["secret"] == "x" * 32


@pytest.mark.parametrize(
    "changes, text",
    [
        ({"url": "ftp://example.com/x"}, "http or https"),
        ({"url": "not a url"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"events": ["item.promoted", "item.deleted"]}, "events"),
        ({"events": ["ping"]}, "events"),
        ({"events": "item.promoted"}, "events"),
        ({"secret": "short"}, "secret"),
    ],
)
def test_bad_urls_and_events_are_400(api, alice, project, changes, text):
    body = {"project": project.pk, "url": "https://hooks.example.com/q", **changes}
    assert_error(api(alice).post(URL, body, format="json"), 400, text)
    assert not WebhookEndpoint.objects.exists()


def test_private_url_is_400_when_the_guard_is_on(api, alice, project, settings):
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = False
    body = {"project": project.pk, "url": "http://127.0.0.1:8080/x"}
    assert_error(api(alice).post(URL, body, format="json"), 400, "public address")


def test_manager_updates_and_deletes(api, alice, endpoint):
    client = api(alice)
    changed = client.patch(f"{URL}{endpoint.pk}/", {"events": ["export.ready"], "is_active": False})
    assert changed.status_code == 200, changed.content
    endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.is_active) == (["export.ready"], False)
    assert_error(client.patch(f"{URL}{endpoint.pk}/", {"secret": "y" * 40}), 400, "secret")
    other = factories.make_project(owner=alice)
    assert_error(client.patch(f"{URL}{endpoint.pk}/", {"project": other.pk}), 400, "project")
    assert_error(client.patch(f"{URL}{endpoint.pk}/", {"url": "gopher://x"}), 400)
    assert client.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_test_button_sends_a_signed_ping_and_logs_it(
    api, alice, project, endpoint, receiver, django_capture_on_commit_callbacks
):
    services.webhook_emit(project=project, event="item.promoted", payload={"item": 1})
    client = api(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{endpoint.pk}/test/")
    assert response.status_code == 202, response.content
    assert response.json()["event"] == "ping"
    (request,) = receiver.requests  # the item.promoted row was never queued (no commit here)
    assert request.headers["X-Quorum-Event"] == "ping"
    assert webhook_signature_verify(
        endpoint.secret, request.headers["X-Quorum-Signature"], request.body
    )
    log = client.get(f"{URL}{endpoint.pk}/deliveries/")
    assert log.status_code == 200
    assert [d["event"] for d in log.json()["results"]] == ["ping", "item.promoted"]
    assert [d["status"] for d in log.json()["results"]] == ["delivered", "pending"]


def test_ping_reaches_only_that_endpoint(
    api, alice, project, endpoint, receiver, django_capture_on_commit_callbacks
):
    services.webhook_endpoint_create(project=project, url=receiver.url + "/b", created_by=alice)
    with django_capture_on_commit_callbacks(execute=True):
        api(alice).post(f"{URL}{endpoint.pk}/test/")
    assert [r.path for r in receiver.requests] == ["/hooks"]
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("persona", ["wendy", "rita", "bob"])
def test_workers_reviewers_and_other_managers_see_nothing(api, request, project, endpoint, persona):
    client = api(request.getfixturevalue(persona))
    assert client.get(URL).json()["results"] == []
    for response in [
        client.get(f"{URL}{endpoint.pk}/"),
        client.get(f"{URL}{endpoint.pk}/deliveries/"),
        client.patch(f"{URL}{endpoint.pk}/", {"is_active": False}),
        client.delete(f"{URL}{endpoint.pk}/"),
        client.post(f"{URL}{endpoint.pk}/test/"),
    ]:
        assert_error(response, 404)
    endpoint.refresh_from_db()
    assert endpoint.is_active and not WebhookDelivery.objects.exists()


def test_auditor_reads_but_may_not_change(api, aldo, endpoint, receiver):
    client = api(aldo)
    assert [e["id"] for e in client.get(URL).json()["results"]] == [endpoint.pk]
    assert "secret" not in client.get(f"{URL}{endpoint.pk}/").json()
    assert client.get(f"{URL}{endpoint.pk}/deliveries/").status_code == 200
    assert_error(client.patch(f"{URL}{endpoint.pk}/", {"is_active": False}), 403)
    assert_error(client.delete(f"{URL}{endpoint.pk}/"), 403)
    assert_error(client.post(f"{URL}{endpoint.pk}/test/"), 403)
    assert receiver.requests == [] and WebhookEndpoint.objects.get().is_active


@pytest.mark.parametrize(
    "persona, status", [("wendy", 403), ("rita", 403), ("aldo", 403), ("bob", 404)]
)
def test_only_the_projects_manager_creates(api, request, project, persona, status):
    body = {"project": project.pk, "url": "https://hooks.example.com/q"}
    assert_error(api(request.getfixturevalue(persona)).post(URL, body, format="json"), status)
    assert not WebhookEndpoint.objects.exists()


def test_anonymous_is_401(api, endpoint):
    assert_error(api().get(URL), 401)
