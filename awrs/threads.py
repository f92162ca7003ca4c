"""Thread defaults that hold up on a shared machine (measured: docs/results/serve-boundary).

Torch's default (one intra-op thread per core, OpenMP threads spinning while they wait) is
fastest on an idle machine and several times slower when another process keeps a core busy:
the spinning threads wait for the one that was descheduled. With a passive OpenMP wait policy
the same threads lose a little when idle and hold up when a core is taken (2 cores, decode step
at batch 8: 84 ms idle / 590-680 ms busy with torch's default; 120 ms / 135-147 ms passive;
one thread 147 ms / 150 ms). The entry points (``awrs serve``, ``awrs batch``, ``awrs
generate``) therefore default to the usable cores (at most 8) and ``OMP_WAIT_POLICY=PASSIVE``.
The policy only takes effect when set before torch is first imported, so :func:`configure`
runs before any torch import.
"""

from __future__ import annotations

import os
import sys

__all__ = ["configure", "default_threads"]


def default_threads() -> int:
    """The cores this process may use, at least 1 and at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def configure(threads: int | None) -> int:
    """Set the OpenMP wait policy (unless the environment sets it, or torch is already
    imported) and return the thread count to use (``None`` or 0: :func:`default_threads`)."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return threads if threads else default_threads()
