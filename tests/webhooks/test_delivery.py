"""Emitting and delivering against a real HTTP receiver: shape, signature, idempotency, retries."""

import json
import logging
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests import factories
from workflows.webhooks import services
from workflows.webhooks.models import WebhookDelivery
from workflows.webhooks.services import (
    WEBHOOK_MAX_ATTEMPTS,
    webhook_backoff_seconds,
    webhook_deliver,
    webhook_emit,
    webhook_retry_due,
)
from workflows.webhooks.signing import webhook_signature_verify
from workflows.webhooks.tasks import webhook_deliver_task

pytestmark = pytest.mark.django_db

PAYLOAD = {"item": 7, "labels": [{"category": "cat", "bbox": [1, 2, 3, 4]}]}


def emit(project, event="item.promoted", payload=PAYLOAD, event_id=None):
    """Emit outside the test's transaction semantics: callbacks are not run."""
    return webhook_emit(project=project, event=event, payload=payload, event_id=event_id)


def make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_emit_queues_the_post_on_commit(
    project, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        (delivery,) = emit(project)
        assert receiver.requests == []
    assert len(callbacks) == 1 and receiver.requests == []
    callbacks[0]()
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None


def test_rolled_back_emit_sends_nothing(
    project, endpoint, receiver, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        emit(project)
        raise RuntimeError("the promotion failed")
    assert callbacks == [] and receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_payload_shape_headers_and_signature(
    project, endpoint, receiver, django_capture_on_commit_callbacks
):
    event_id = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = emit(project, event="version.frozen", event_id=event_id)
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body == {
        "id": event_id,
        "event": "version.frozen",
        "created_at": delivery.created_at.isoformat(),
        "project": project.pk,
        "data": PAYLOAD,
    }
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert request.path == "/hooks"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Quorum-Webhooks/1"
    assert headers["x-quorum-event"] == "version.frozen"
    assert headers["x-quorum-delivery"] == event_id
    signature = headers["x-quorum-signature"]
    assert webhook_signature_verify(endpoint.secret, signature, request.body)
    assert not webhook_signature_verify("not-the-secret", signature, request.body)
    tampered = request.body.replace(b'"cat"', b'"dog"')
    assert tampered != request.body
    assert not webhook_signature_verify(endpoint.secret, signature, tampered)


def test_same_event_id_is_one_delivery_and_one_post(
    project, endpoint, receiver, django_capture_on_commit_callbacks
):
    event_id = services.webhook_event_id("item.promoted", 7, 1)
    assert event_id == services.webhook_event_id("item.promoted", 7, 1)
    with django_capture_on_commit_callbacks(execute=True) as first:
        (a,) = emit(project, event_id=event_id)
    with django_capture_on_commit_callbacks(execute=True) as second:
        (b,) = emit(project, event_id=event_id)  # the caller's task ran again
    assert a.pk == b.pk and len(first) == 1 and second == []
    assert WebhookDelivery.objects.count() == 1 and len(receiver.requests) == 1


def test_delivering_twice_posts_once(project, endpoint, receiver):
    (delivery,) = emit(project)
    assert webhook_deliver(delivery_id=delivery.pk).status == "delivered"
    again = webhook_deliver(delivery_id=delivery.pk)
    assert (again.status, again.attempted) == ("delivered", False)
    assert webhook_deliver_task.delay(delivery.pk).get() == "delivered"  # a redelivered message
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_only_active_subscribed_endpoints_get_the_event(project, alice, receiver, endpoint):
    subscribed = services.webhook_endpoint_create(
        project=project, url=receiver.url + "/exports", created_by=alice, events=["export.ready"]
    )
    services.webhook_endpoint_create(
        project=project, url=receiver.url + "/off", created_by=alice, is_active=False
    )
    other = factories.make_project(owner=alice)
    services.webhook_endpoint_create(project=other, url=receiver.url + "/other", created_by=alice)
    assert [d.endpoint_id for d in emit(project, event="item.promoted")] == [endpoint.pk]
    assert [d.endpoint_id for d in emit(project, event="export.ready")] == [
        endpoint.pk,
        subscribed.pk,
    ]


def test_unknown_event_is_a_programming_error(project, endpoint):
    with pytest.raises(ValueError, match="unknown webhook event"):
        emit(project, event="item.promotd")
    with pytest.raises(ValueError):
        emit(project, event="ping")  # internal: only the test button sends it
    assert not WebhookDelivery.objects.exists()


def test_server_errors_back_off_then_succeed(project, endpoint, receiver):
    receiver.statuses = [500, 502]
    (delivery,) = emit(project)
    before = timezone.now()
    first = webhook_deliver(delivery_id=delivery.pk)
    assert (first.status, first.retry_in) == (
        "pending",
        webhook_backoff_seconds(delivery_id=delivery.pk, attempts=1),
    )
    assert 60 <= first.retry_in <= 72
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert "HTTP 500" in delivery.last_error
    assert delivery.next_attempt_at >= before + timedelta(seconds=first.retry_in)
    # Not due yet: an early or duplicate message does nothing.
    assert webhook_deliver(delivery_id=delivery.pk).attempted is False
    assert len(receiver.requests) == 1
    make_due(delivery)
    second = webhook_deliver(delivery_id=delivery.pk)
    assert second.status == "pending" and 120 <= second.retry_in <= 144
    make_due(delivery)
    assert webhook_deliver(delivery_id=delivery.pk).status == "delivered"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.last_error == ""
    # Every attempt is the same event, byte for byte; receivers deduplicate on its id.
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["X-Quorum-Delivery"] for r in receiver.requests}) == 1


def test_gives_up_after_max_attempts_and_logs_an_error(project, endpoint, receiver, caplog):
    receiver.statuses = [503] * WEBHOOK_MAX_ATTEMPTS
    (delivery,) = emit(project)
    with caplog.at_level(logging.WARNING, logger="workflows.webhooks.services"):
        for _ in range(WEBHOOK_MAX_ATTEMPTS):
            make_due(delivery)
            outcome = webhook_deliver(delivery_id=delivery.pk)
    assert outcome.status == "failed" and outcome.retry_in is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", WEBHOOK_MAX_ATTEMPTS)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "failed after 8 attempt(s)" in errors[0].getMessage()
    make_due(delivery)
    assert webhook_deliver(delivery_id=delivery.pk).attempted is False
    assert webhook_retry_due(now=timezone.now() + timedelta(hours=1)) == 0
    assert len(receiver.requests) == WEBHOOK_MAX_ATTEMPTS


def test_backoff_doubles_with_deterministic_jitter_and_a_cap():
    delays = [webhook_backoff_seconds(delivery_id=42, attempts=n) for n in range(1, 12)]
    assert delays == [webhook_backoff_seconds(delivery_id=42, attempts=n) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        base = 30 * 2**n
        assert min(base, 6 * 3600) <= delay <= min(base * 1.2, 6 * 3600)
    assert delays[-1] == 6 * 3600
    assert webhook_backoff_seconds(delivery_id=43, attempts=3) != delays[2]


def test_eager_task_retry_does_not_loop(
    project, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = emit(project)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert len(receiver.requests) == 1


def test_sweeper_sends_what_a_lost_message_left_behind(project, endpoint, receiver):
    (delivery,) = emit(project)  # its on-commit message never ran: "lost"
    assert webhook_retry_due() == 0  # within the grace the queued message goes first
    assert webhook_retry_due(now=timezone.now() + timedelta(minutes=2)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(receiver.requests) == 1


def test_sweeper_recovers_a_claim_whose_worker_died(project, endpoint, receiver):
    (delivery,) = emit(project)
    # A worker claimed it and was killed before recording anything.
    held = WebhookDelivery.objects.filter(pk=delivery.pk)
    held.update(
        status="delivering", attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=4)
    )
    assert webhook_retry_due() == 0  # the lease is still held
    assert webhook_deliver(delivery_id=delivery.pk).attempted is False
    held.update(next_attempt_at=timezone.now() - timedelta(minutes=2))  # the lease lapsed
    assert webhook_retry_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_sweeper_fails_a_lost_last_attempt(project, endpoint, receiver, caplog):
    (delivery,) = emit(project)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="delivering", attempts=WEBHOOK_MAX_ATTEMPTS, next_attempt_at=timezone.now()
    )
    with caplog.at_level(logging.ERROR, logger="workflows.webhooks.services"):
        assert webhook_retry_due(now=timezone.now() + timedelta(minutes=2)) == 0
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "worker lost" in delivery.last_error
    assert any("worker lost" in r.getMessage() for r in caplog.records)
    assert receiver.requests == []


def test_redirects_are_not_followed(project, endpoint, receiver):
    receiver.statuses = [302]
    (delivery,) = emit(project)
    assert webhook_deliver(delivery_id=delivery.pk).status == "pending"
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and len(receiver.requests) == 1


def test_unreachable_and_slow_receivers_are_failed_attempts(project, alice, receiver, monkeypatch):
    monkeypatch.setattr(services.transport, "TIMEOUT_SECONDS", 0.3)
    receiver.delay = 1.0
    slow = services.webhook_endpoint_create(project=project, url=receiver.url, created_by=alice)
    closed = services.webhook_endpoint_create(
        project=project, url="http://127.0.0.1:9/nothing-listens", created_by=alice
    )
    deliveries = {d.endpoint_id: d for d in emit(project)}
    for endpoint in (slow, closed):
        assert webhook_deliver(delivery_id=deliveries[endpoint.pk].pk).status == "pending"
        row = WebhookDelivery.objects.get(pk=deliveries[endpoint.pk].pk)
        assert row.last_status_code is None and row.last_error and row.attempts == 1


def test_delivery_of_a_deleted_endpoint_is_a_no_op(project, endpoint, receiver):
    (delivery,) = emit(project)
    services.webhook_endpoint_delete(endpoint=endpoint)
    assert webhook_deliver(delivery_id=delivery.pk).status == "missing"
    assert receiver.requests == []
