"""Webhook signatures (Stripe style). Standard library only, so receivers can copy this file.

Every delivery carries ``X-Quorum-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256, keyed with the endpoint's secret, of ``"<t>.<raw request body>"``. A receiver:

1. reads the raw body bytes (before any JSON parsing: re-serialising changes the bytes);
2. calls ``webhook_signature_verify(secret, request.headers["X-Quorum-Signature"], body)``;
3. drops the request unless it returns True; the timestamp bound (default 5 minutes) stops a
   captured request from being replayed later;
4. deduplicates on ``X-Quorum-Delivery`` (the event id): delivery is at-least-once.

More than one ``v1=`` may appear (for example while a secret is being rotated); any match counts.
"""

import hashlib
import hmac
import time


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Quorum-Signature`` value for ``body`` sent at ``timestamp`` (default: now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={webhook_signature(secret, t, body)}"


def webhook_signature_verify(
    secret: str,
    header: str,
    body: bytes | str,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` s old."""
    if isinstance(body, str):
        body = body.encode()
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body)
    # Constant-time comparison: a timing side channel must not reveal the signature byte by byte.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
