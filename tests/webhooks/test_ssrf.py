"""The SSRF guard: no webhook reaches a private or loopback address unless the setting allows."""

import pytest

from crowd.common.exceptions import InvalidInput
from workflows.webhooks import services, transport
from workflows.webhooks.models import WebhookDelivery
from workflows.webhooks.services import webhook_deliver, webhook_emit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "address, public",
    [
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False),
        ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
        ("0.0.0.0", False), ("224.0.0.1", False), ("::1", False), ("fe80::1%eth0", False),
        ("fc00::1", False), ("::ffff:127.0.0.1", False), ("93.184.216.34", True),
        ("2606:4700::1111", True),
    ],
)  # fmt: skip
def test_which_addresses_are_public(address, public):
    assert transport.address_is_public(address) is public


def test_loopback_is_refused_when_the_setting_is_off(project, endpoint, receiver, settings):
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = False
    (delivery,) = webhook_emit(project=project, event="item.promoted", payload={})
    outcome = webhook_deliver(delivery_id=delivery.pk)
    # A refusal is not retried: the address will not become public by waiting.
    assert outcome.status == "failed" and outcome.retry_in is None
    delivery.refresh_from_db()
    assert "refused" in delivery.last_error and "127.0.0.1" in delivery.last_error
    assert receiver.requests == []


def test_a_name_that_rebinds_to_loopback_is_caught_after_connecting(
    project, endpoint, receiver, settings, monkeypatch
):
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = False
    # The name check passes (as if DNS said "public"), then the socket lands on 127.0.0.1.
    monkeypatch.setattr(transport, "_check_resolved", lambda host, port: None)
    (delivery,) = webhook_emit(project=project, event="item.promoted", payload={})
    assert webhook_deliver(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert "connected to 127.0.0.1" in delivery.last_error
    assert receiver.requests == []


def test_the_setting_defaults_to_debug(project, endpoint, receiver, settings):
    del settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE
    settings.DEBUG = True
    (first,) = webhook_emit(project=project, event="item.promoted", payload={})
    assert webhook_deliver(delivery_id=first.pk).status == "delivered"
    settings.DEBUG = False
    (second,) = webhook_emit(project=project, event="item.promoted", payload={})
    assert webhook_deliver(delivery_id=second.pk).status == "failed"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/x", "http://localhost/x", "https://10.0.0.5/x", "http://[::1]/x",
     "http://169.254.169.254/latest/meta-data"],
)  # fmt: skip
def test_private_targets_are_refused_at_registration(project, alice, settings, url):
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(InvalidInput, match="public address"):
        services.webhook_endpoint_create(project=project, url=url, created_by=alice)
    assert not WebhookDelivery.objects.exists()


def test_public_names_and_private_targets_in_development_are_accepted(project, alice, settings):
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = False
    services.webhook_endpoint_create(
        project=project, url="https://hooks.example.com/q", created_by=alice
    )
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = True
    services.webhook_endpoint_create(
        project=project, url="http://localhost:9000/q", created_by=alice
    )
