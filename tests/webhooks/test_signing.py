"""The signature scheme receivers rely on: it verifies, and it fails on any change."""

from workflows.webhooks.signing import (
    webhook_signature,
    webhook_signature_header,
    webhook_signature_verify,
)

SECRET = "s3cret-for-tests-only"
BODY = b'{"event":"item.promoted","id":"x"}'


def test_header_verifies_with_its_secret():
    header = webhook_signature_header(SECRET, BODY, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert webhook_signature_verify(SECRET, header, BODY, now=1_700_000_010)
    assert webhook_signature_verify(SECRET, header, BODY.decode(), now=1_700_000_010)


def test_wrong_secret_tampered_body_and_old_timestamp_fail():
    header = webhook_signature_header(SECRET, BODY, timestamp=1_700_000_000)
    assert not webhook_signature_verify("another-secret", header, BODY, now=1_700_000_000)
    assert not webhook_signature_verify(SECRET, header, BODY + b" ", now=1_700_000_000)
    assert not webhook_signature_verify(SECRET, header, BODY, now=1_700_000_301)
    assert webhook_signature_verify(SECRET, header, BODY, tolerance=400, now=1_700_000_301)


def test_timestamp_is_signed_and_malformed_headers_fail():
    header = webhook_signature_header(SECRET, BODY, timestamp=1_700_000_000)
    moved = header.replace("t=1700000000", "t=1700000100")
    assert not webhook_signature_verify(SECRET, moved, BODY, now=1_700_000_100)
    for bad in ["", "garbage", "t=1700000000", "v1=abc", "t=abc,v1=abc"]:
        assert not webhook_signature_verify(SECRET, bad, BODY, now=1_700_000_000)


def test_any_of_several_v1_signatures_counts():
    good = webhook_signature(SECRET, 1_700_000_000, BODY)
    header = f"t=1700000000,v1={'0' * 64},v1={good}"
    assert webhook_signature_verify(SECRET, header, BODY, now=1_700_000_000)
