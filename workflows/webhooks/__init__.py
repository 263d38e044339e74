"""Outgoing webhooks: signed, retried, logged notifications of pipeline events."""
