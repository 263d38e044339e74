"""Gold injection: which claims hand out a hidden gold item."""

import hashlib

# The draw uses 52 bits of an MD5 digest (a spread, not a secret), so that the number and its
# division by 2**52 are exact in a double: PostgreSQL computes the very same draw in the fast
# claim's SQL (GOLD_DRAW_SQL), and the two roads agree on every claim.
_BITS = 52
GOLD_DRAW_SQL = (
    "(('x' || lpad(left(md5({worker} || ':' || {project} || ':' || {handed_out}), 13), 16, '0'))"
    f"::bit(64)::bigint::float8 / {2**_BITS}::float8)"
)


def gold_draw(*, worker_id: int, project_id: int, handed_out: int) -> float:
    """A deterministic number in [0, 1) per (worker, project, claim number)."""
    digest = hashlib.md5(f"{worker_id}:{project_id}:{handed_out}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[: _BITS // 4], 16) / 2**_BITS


def gold_turn(*, worker_id: int, project_id: int, gold_rate: float, handed_out: int) -> bool:
    """Whether this claim should be a gold item: a deterministic draw per (worker, project,
    claim number), so the share of gold converges to ``gold_rate`` with no global RNG and
    nothing the worker can observe."""
    return gold_draw(worker_id=worker_id, project_id=project_id, handed_out=handed_out) < gold_rate
