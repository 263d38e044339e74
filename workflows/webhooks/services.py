"""Webhook verbs: manage endpoints, emit events into the outbox, deliver, sweep what is due.

Delivery is at-least-once. ``webhook_emit`` writes one row per (endpoint, event id) inside the
caller's transaction and queues the POST after commit; ``webhook_deliver`` claims the row with a
conditional UPDATE, so a duplicate message does nothing; the sweeper re-queues rows whose message
was lost. A receiver can still see an event twice (a worker killed after the POST, before the
row was updated) and deduplicates on ``X-Quorum-Delivery``.
"""

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from crowd.common.exceptions import InvalidInput
from crowd.common.followups import task_send

from . import transport
from .models import (
    PING_EVENT,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_secret,
)
from .signing import webhook_signature_header

# The delivery row is this app's own outbox, so its task is sent directly, by name.
DELIVER_TASK = "workflows.webhook_deliver"

logger = logging.getLogger(__name__)

WEBHOOK_MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
# How long a claimed row is ours; far above the 5 s POST timeout plus a slow DNS answer.
CLAIM_LEASE = timedelta(minutes=5)
# A retry message may arrive a little before next_attempt_at by the clocks of two machines.
CLAIM_SLACK = timedelta(seconds=5)
# The sweeper leaves a due row alone this long, so the retry message queued for it goes first.
SWEEP_GRACE = timedelta(seconds=60)
USER_AGENT = "Quorum-Webhooks/1"
_EVENT_ID_NAMESPACE = uuid.UUID("5b0e3f0c-4d0e-4a8e-9d55-6f7b1c2a9e41")


def _allow_private() -> bool:
    """The SSRF switch, read in one place: off in production unless explicitly set."""
    return bool(getattr(settings, "QUORUM_WEBHOOKS_ALLOW_PRIVATE", settings.DEBUG))


# Endpoints -----------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise InvalidInput(
            "url must be an absolute http or https URL", details={"url": url}
        ) from exc
    if not _allow_private():
        refusal = transport.host_refusal(urlsplit(url).hostname or "")
        if refusal:
            raise InvalidInput(
                f"url must point to a public address: {refusal}", details={"url": url}
            )
    return url


def _clean_events(events: list[str] | None) -> list[str]:
    events = list(events or [])
    unknown = [event for event in events if event not in WebhookEvent.values]
    if unknown:
        raise InvalidInput(
            f"unknown events: {', '.join(map(str, unknown))}",
            details={"events": unknown, "known": WebhookEvent.values},
        )
    return list(dict.fromkeys(events))  # drop repeats, keep the order given


def webhook_endpoint_create(
    *,
    project,
    url: str,
    created_by,
    events: list[str] | None = None,
    secret: str | None = None,
    is_active: bool = True,
) -> WebhookEndpoint:
    """Register ``url`` for ``project``'s events (all of them when ``events`` is empty).

    The returned endpoint carries its secret; the API shows it in this response only.
    """
    return WebhookEndpoint.objects.create(
        project=project,
        url=_clean_url(url),
        events=_clean_events(events),
        secret=secret or new_secret(),
        is_active=is_active,
        created_by=created_by,
    )


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; the secret and the project never change."""
    if url is not None:
        endpoint.url = _clean_url(url)
    if events is not None:
        endpoint.events = _clean_events(events)
    if is_active is not None:
        endpoint.is_active = is_active
    endpoint.save(update_fields=["url", "events", "is_active"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log; queued messages then find no row and stop."""
    endpoint.delete()


# Emitting ------------------------------------------------------------------------------------


def webhook_event_id(*parts) -> str:
    """A deterministic event id for a fact, e.g. ``webhook_event_id("item.promoted", item.pk)``.

    Callers that may run twice (Celery tasks) pass it to ``webhook_emit`` so a re-run finds the
    deliveries of the first run instead of notifying again.
    """
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, ":".join(map(str, parts))))


def _queue_delivery(delivery_id: int) -> None:
    # robust: the caller's work is committed; a broker hiccup must not turn it into an error.
    # The sweeper sends the row later.
    transaction.on_commit(lambda: task_send(DELIVER_TASK, delivery_id), robust=True)


def _delivery_get_or_create(
    *, endpoint: WebhookEndpoint, event: str, event_id: uuid.UUID, payload: dict, at: datetime
) -> WebhookDelivery:
    delivery, created = WebhookDelivery.objects.get_or_create(
        endpoint=endpoint,
        event_id=event_id,
        defaults={"event": event, "payload": payload, "created_at": at, "next_attempt_at": at},
    )
    if created:
        _queue_delivery(delivery.pk)
    elif delivery.event != event:
        logger.warning(
            "webhook event id %s reused for %s (first sent as %s)", event_id, event, delivery.event
        )
    return delivery


def webhook_emit(
    *, project, event: str, payload: dict, event_id: str | None = None
) -> list[WebhookDelivery]:
    """Record ``event`` for every active endpoint of ``project`` subscribed to it; POST on commit.

    Call inside the transaction that makes the event true (promotion, version freeze, export
    done): if it rolls back, nothing is sent. ``payload`` must be JSON-serialisable (dates,
    decimals and UUIDs become strings). With the same ``event_id`` a second call returns the
    existing deliveries and sends nothing new; without one a fresh id is drawn, so callers that
    may run twice should pass ``webhook_event_id(...)``. An unknown ``event`` raises ValueError.
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event!r}; known: {WebhookEvent.values}")
    if not isinstance(payload, dict):
        raise TypeError("webhook payload must be a dict")
    key = uuid.UUID(str(event_id)) if event_id is not None else uuid.uuid4()
    at = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(project=project, is_active=True).order_by("id")
    return [
        _delivery_get_or_create(
            endpoint=endpoint, event=event, event_id=key, payload=payload, at=at
        )
        for endpoint in endpoints
        if endpoint.subscribes_to(event)
    ]


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``ping`` event to this endpoint only (active or not): the manager's test button."""
    with transaction.atomic():
        return _delivery_get_or_create(
            endpoint=endpoint,
            event=PING_EVENT,
            event_id=uuid.uuid4(),
            payload={"message": "Quorum webhook test", "endpoint": endpoint.pk},
            at=timezone.now(),
        )


# Delivering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one call of ``webhook_deliver`` did; ``retry_in`` is set when another try is due."""

    status: str
    attempted: bool
    retry_in: int | None = None


def webhook_backoff_seconds(*, delivery_id: int, attempts: int) -> int:
    """Seconds before the next try after ``attempts`` failures: 30 s x 2^attempts, capped at 6 h.

    Up to 20% jitter spreads endpoints that failed together; it comes from a hash of the
    delivery and attempt, so it is the same on every worker and in every test run.
    """
    digest = hashlib.sha256(f"{delivery_id}:{attempts}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    base = BACKOFF_BASE_SECONDS * 2 ** min(attempts, 20)
    return int(min(base * (1 + 0.2 * fraction), BACKOFF_CAP_SECONDS))


def webhook_request_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes POSTed (and signed); the same on every attempt of a delivery."""
    body = {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "project": delivery.endpoint.project_id,
        "data": delivery.payload,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the row: pending and due, or delivering with a lapsed lease (its worker died).

    The conditional UPDATE is the idempotency guard: of two copies of a message, one gets 1 row.
    Counting the attempt here, not after the POST, bounds a worker that keeps dying mid-attempt.
    """
    claimed = WebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.DELIVERING),
        pk=delivery_id,
        next_attempt_at__lte=now + CLAIM_SLACK,
        attempts__lt=WEBHOOK_MAX_ATTEMPTS,
    ).update(
        status=DeliveryStatus.DELIVERING,
        attempts=F("attempts") + 1,
        next_attempt_at=now + CLAIM_LEASE,
    )
    return claimed == 1


def webhook_deliver(*, delivery_id: int) -> DeliveryOutcome:
    """Make one attempt at a delivery if it is due; safe to call any number of times.

    Runs outside any transaction: the POST (up to 5 s) holds no lock. 2xx means delivered;
    anything else is retried with backoff until ``WEBHOOK_MAX_ATTEMPTS``, then ``failed`` with
    an error log (the alert). A target that is not a public address fails at once unless
    ``QUORUM_WEBHOOKS_ALLOW_PRIVATE`` is on.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        current = WebhookDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True)
        return DeliveryOutcome(status=current.first() or "missing", attempted=False)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = webhook_request_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Quorum-Event": delivery.event,
        "X-Quorum-Delivery": str(delivery.event_id),
        "X-Quorum-Signature": webhook_signature_header(endpoint.secret, body),
    }
    result = transport.post_json(endpoint.url, body, headers, allow_private=_allow_private())
    return _record(delivery, result)


def _record(delivery: WebhookDelivery, result: transport.PostResult) -> DeliveryOutcome:
    now = timezone.now()
    # The claim made the row ours, so the attempts read after it are current.
    if result.ok:
        status, retry_in, fields = DeliveryStatus.DELIVERED, None, {"delivered_at": now}
    elif result.refused or delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
        status, retry_in, fields = DeliveryStatus.FAILED, None, {}
    else:
        retry_in = webhook_backoff_seconds(delivery_id=delivery.pk, attempts=delivery.attempts)
        status = DeliveryStatus.PENDING
        fields = {"next_attempt_at": now + timedelta(seconds=retry_in)}
    updated = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.DELIVERING
    ).update(status=status, last_status_code=result.status_code, last_error=result.error, **fields)
    if not updated:
        # Our lease lapsed and another worker took the row over; its outcome stands.
        logger.warning("webhook delivery %s changed hands during its attempt", delivery.pk)
        return DeliveryOutcome(status=DeliveryStatus.DELIVERING, attempted=True)
    if status == DeliveryStatus.FAILED:
        logger.error(
            "webhook delivery %s (%s %s) to %s failed after %d attempt(s): %s",
            delivery.pk, delivery.event, delivery.event_id, delivery.endpoint.url,
            delivery.attempts, result.error or f"HTTP {result.status_code}",
        )  # fmt: skip
    elif status == DeliveryStatus.PENDING:
        logger.warning(
            "webhook delivery %s attempt %d failed (%s); next in %d s",
            delivery.pk, delivery.attempts, result.error or result.status_code, retry_in,
        )  # fmt: skip
    return DeliveryOutcome(status=status, attempted=True, retry_in=retry_in)


def webhook_retry_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue every delivery whose message was lost; return how many were queued.

    Due means pending past ``next_attempt_at``, or delivering past its lease (the worker died),
    each by ``SWEEP_GRACE`` so the retry message already queued normally goes first. A lapsed
    lease on the last allowed attempt is closed as failed here, since no claim may take it.
    """
    now = now or timezone.now()
    cutoff = now - SWEEP_GRACE
    due = WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.DELIVERING], next_attempt_at__lte=cutoff
    )
    exhausted = due.filter(status=DeliveryStatus.DELIVERING, attempts__gte=WEBHOOK_MAX_ATTEMPTS)
    for delivery_id in list(exhausted.values_list("pk", flat=True)):
        closed = WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.DELIVERING, next_attempt_at__lte=cutoff
        ).update(status=DeliveryStatus.FAILED, last_error="worker lost during the last attempt")
        if closed:
            logger.error(
                "webhook delivery %s failed: worker lost during the last attempt", delivery_id
            )
    ids = list(
        due.filter(attempts__lt=WEBHOOK_MAX_ATTEMPTS)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        task_send(DELIVER_TASK, delivery_id)
    return len(ids)
