"""Random inputs of the kernels, shared by the parity tests and the AWRS kernel's own tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def problems(draw, max_v: int = 12):
    """A random next-token distribution (flat, random or peaked, some zeros) and accepted set."""
    v = draw(st.integers(1, max_v))
    scale = draw(st.sampled_from([0.3, 2.0, 8.0]))
    logits = np.array(draw(st.lists(st.floats(-3, 3), min_size=v, max_size=v))) * scale
    p = np.exp(logits - logits.max())
    zeros = draw(st.lists(st.booleans(), min_size=v, max_size=v))
    p[np.array(zeros) & (np.arange(v) > 0)] = 0.0
    p = (p / p.sum()).astype(np.float32)
    accepted = draw(
        st.one_of(
            st.just(frozenset()),
            st.integers(0, v - 1).map(lambda a: frozenset([a])),
            st.frozensets(st.integers(0, v - 1)),
        )
    )
    block_size = draw(st.sampled_from([1, 3, 4, 256]))
    return p, accepted, block_size
