"""Pure-Python twin of the LALR(1) shift/reduce kernel (``csrc/_lalr_c.pyx``)."""

from __future__ import annotations

import numpy as np


class LALRTables:
    """Integer LALR(1) tables and the loop that feeds one terminal to an immutable stack.

    A parse stack is a ``tuple`` of state ids (bottom first); it is never mutated, so
    resampled particles share it. Equivalent loop of :meth:`feed`::

        st = list(stack)
        while True:
            a = action[st[-1], term]
            if a == 0: return None                      # syntax error
            if a > 0: return tuple(st + [a - 1])        # shift
            r = -a - 1                                  # reduce by rule r
            del st[len(st) - rule_len[r]:]
            st.append(goto[st[-1], rule_lhs[r]])

    Args:
        action: (S, T) int32; ``0`` error, ``s > 0`` shift to state ``s - 1``, ``a < 0``
            reduce by rule ``-a - 1``.
        goto: (S, N) int32 state after reducing to nonterminal ``n`` (-1 if none).
        rule_len: (R,) int32 right-hand-side lengths.
        rule_lhs: (R,) int32 left-hand-side nonterminals.
        end_term: the column of ``$END``.
        end_state: the state whose appearance on top after a reduction on ``$END`` accepts.
    """

    def __init__(
        self,
        action: np.ndarray,
        goto: np.ndarray,
        rule_len: np.ndarray,
        rule_lhs: np.ndarray,
        end_term: int,
        end_state: int,
    ):
        self.action = np.ascontiguousarray(action, dtype=np.int32)
        self.goto = np.ascontiguousarray(goto, dtype=np.int32)
        self.rule_len = np.ascontiguousarray(rule_len, dtype=np.int32)
        self.rule_lhs = np.ascontiguousarray(rule_lhs, dtype=np.int32)
        self.end_term, self.end_state = int(end_term), int(end_state)
        self._act = self.action.tolist()
        self._goto = self.goto.tolist()
        self._len = self.rule_len.tolist()
        self._lhs = self.rule_lhs.tolist()

    def _reduce(self, st: list, rule: int) -> int:
        """Pop ``rule``'s right-hand side off ``st`` and push its goto state (-1: error)."""
        n = self._len[rule]
        if n:
            del st[-n:]
        g = self._goto[st[-1]][self._lhs[rule]]
        if g >= 0:
            st.append(g)
        return g

    def feed(self, stack: tuple, term: int) -> tuple | None:
        """The stack after shifting terminal ``term`` (reductions first); None on error."""
        act = self._act
        st = list(stack)
        while True:
            a = act[st[-1]][term]
            if a > 0:
                st.append(a - 1)
                return tuple(st)
            if a == 0 or self._reduce(st, -a - 1) < 0:
                return None

    def feed_end(self, stack: tuple) -> bool:
        """Whether ``$END`` is accepted: reduce on it until ``end_state`` is on top."""
        act, end, fin = self._act, self.end_term, self.end_state
        st = list(stack)
        while True:
            a = act[st[-1]][end]
            if a >= 0:
                return False
            g = self._reduce(st, -a - 1)
            if g < 0:
                return False
            if g == fin:
                return True
