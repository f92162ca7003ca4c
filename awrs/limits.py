"""Default bounds of the scheduler that the entry points expose (no heavy imports here)."""

from __future__ import annotations

#: Prompt tokens computed per scheduler step for a long prompt (chosen by measurement:
#: ``python -m bench.prefill``, docs/results/serve-boundary).
DEFAULT_PREFILL_CHUNK = 512
#: Bound on a batch's cached keys/values: rows x longest context x bytes per token.
DEFAULT_CACHE_BYTES = 2 << 30
