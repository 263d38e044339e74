"""Races PostgreSQL must settle: duplicate messages and duplicate emits reach the receiver once."""

import threading

import pytest
from django.db import connection, transaction

from workflows.webhooks import services
from workflows.webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]
THREADS = 8


def race(target) -> list:
    """Run ``target`` in THREADS threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS

    def run(index):
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:  # reported to the test, which asserts there are none
            results[index] = exc
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_copies_of_one_message_post_once(project, endpoint, receiver, monkeypatch):
    # Outside a transaction on_commit runs at once; keep the row pending for the racers instead.
    monkeypatch.setattr(services, "_queue_delivery", lambda delivery_id: None)
    (delivery,) = services.webhook_emit(project=project, event="item.promoted", payload={})
    outcomes = race(lambda: services.webhook_deliver(delivery_id=delivery.pk))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(o.attempted for o in outcomes) == 1
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_concurrent_emits_of_one_event_make_one_delivery(project, endpoint, receiver):
    event_id = services.webhook_event_id("version.frozen", project.pk, 3)

    def emit():
        with transaction.atomic():
            return [
                d.pk
                for d in services.webhook_emit(
                    project=project,
                    event="version.frozen",
                    payload={"version": 3},
                    event_id=event_id,
                )
            ]

    results = race(emit)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({tuple(r) for r in results}) == 1
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1  # only the emit that created the row queued a POST
