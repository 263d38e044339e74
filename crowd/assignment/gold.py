"""Gold injection: which claims hand out a hidden gold item."""

import hashlib


def gold_turn(*, worker_id: int, project_id: int, gold_rate: float, handed_out: int) -> bool:
    """Whether this claim should be a gold item: a deterministic draw per (worker, project,
    claim number), so the share of gold converges to ``gold_rate`` with no global RNG and
    nothing the worker can observe."""
    digest = hashlib.blake2b(f"{worker_id}:{project_id}:{handed_out}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2**64 < gold_rate
