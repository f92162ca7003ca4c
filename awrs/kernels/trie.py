"""Selector for the vocabulary-trie walk kernel (see :mod:`awrs.kernels`).

The compiled ``_trie_c`` (``csrc/_trie_c.pyx``) or its twin ``_trie_py``.
"""

from . import select

__all__ = ["trie_walk"]
(trie_walk,) = select("trie", __all__)
