"""Contract checks any constraint can run on itself (used by the test suite)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from .base import Constraint


def check_prefix_monotone(
    c: Constraint,
    strings: Iterable[bytes],
    *,
    extensions: int = 8,
    seed: int = 0,
    alphabet: bytes | None = None,
) -> None:
    """Assert the prefix contract on sampled strings and random extensions.

    For every string ``s`` and each prefix ``p`` of it: if ``prefix_ok(p)`` is false, then no
    longer prefix of ``s`` (nor random extensions) is accepted by ``prefix_ok`` or
    ``complete_ok``; ``complete_ok(p)`` implies ``prefix_ok(p)``; and the incremental form
    agrees with ``prefix_ok``/``complete_ok`` byte by byte.

    Raises:
        AssertionError: naming the offending prefix.
    """
    rng = random.Random(seed)
    pool = alphabet or bytes(range(32, 127))
    for s in strings:
        for _ in range(extensions):
            s = s + bytes(rng.choice(pool) for _ in range(rng.randint(0, 4)))
        dead_at = None
        state = c.start()
        for n in range(len(s) + 1):
            p = s[:n]
            ok, done = c.prefix_ok(p), c.complete_ok(p)
            assert not done or ok, f"complete_ok but not prefix_ok for {p!r}"
            if dead_at is not None:
                assert not ok and not done, f"{p!r} accepted after {s[:dead_at]!r} was rejected"
            elif not ok:
                dead_at = n
            if state is not None and n:
                state = c.advance(state, s[n - 1 : n])
            assert (state is not None) == ok, f"advance disagrees with prefix_ok at {p!r}"
            if state is not None:
                assert c.is_complete(state) == done, f"is_complete disagrees at {p!r}"
