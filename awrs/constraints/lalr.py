"""LALR(1) parse tables read from lark's analysis, and the parser backend that feeds them."""

from __future__ import annotations

import numpy as np

from ..errors import ConstraintError
from ..kernels.lalr import LALRTables

#: the most cells of one dense parse table (states x terminals, states x nonterminals):
#: 16M int32 cells, 64 MiB; grammars with larger tables are refused before allocating (the
#: shipped SQL grammar needs 0.06M, a hostile 6,000-rule grammar 288M: 1.2 GB a table)
MAX_TABLE_CELLS = 1 << 24


class LALRBackend:
    """Parse stacks (tuples of LALR state ids) over lark's own LALR(1) table.

    The table is lark's ``IntParseTable`` turned into integer arrays for the
    :class:`~awrs.kernels.lalr.LALRTables` kernel; the lexer of each state is the one lark's
    contextual lexer uses there (only the terminals that state has an action for, plus
    ``%ignore``).

    Args:
        lark_obj: a ``Lark(..., parser="lalr", lexer="contextual")`` instance.
        term_ids: terminal name -> column (``$END`` included).
        start: the start symbol.
    """

    kind = "lalr"

    def __init__(self, lark_obj, term_ids: dict[str, int], start: str):
        from lark.parsers.lalr_analysis import Shift

        table = lark_obj.parser.parser.parser.parse_table
        states = table.states
        n_states = max(states) + 1
        nonterms: dict[str, int] = {}
        rules: dict = {}
        for acts in states.values():
            for sym, (kind, arg) in acts.items():
                if sym not in term_ids:
                    nonterms.setdefault(sym, len(nonterms))
                if kind is not Shift:
                    rules.setdefault(arg, len(rules))
        for rule in rules:
            nonterms.setdefault(rule.origin.name, len(nonterms))
        _check_size(n_states, len(term_ids), max(len(nonterms), 1))
        action = np.zeros((n_states, len(term_ids)), np.int32)
        goto = np.full((n_states, max(len(nonterms), 1)), -1, np.int32)
        shifts: list[set[int]] = [set() for _ in range(n_states)]
        for s, acts in states.items():
            for sym, (kind, arg) in acts.items():
                if sym in term_ids:
                    t = term_ids[sym]
                    if kind is Shift:
                        action[s, t] = arg + 1
                        shifts[s].add(t)
                    else:
                        action[s, t] = -rules[arg] - 1
                elif kind is Shift:
                    goto[s, nonterms[sym]] = arg
        rule_len = np.array([len(r.expansion) for r in rules] or [0], np.int32)
        rule_lhs = np.array([nonterms[r.origin.name] for r in rules] or [0], np.int32)
        self.tables = LALRTables(
            action, goto, rule_len, rule_lhs, term_ids["$END"], table.end_states[start]
        )
        self.feed = self.tables.feed
        self.feed_end = self.tables.feed_end
        self.start_state = table.start_states[start]
        self.shift_terms = [frozenset(s) for s in shifts]
        ctx = lark_obj.parser.lexer
        self.lexers: list = []
        index: dict[int, int] = {}
        self.lexer_of_state = [0] * n_states
        for s in range(n_states):
            lexer = ctx.lexers.get(s, ctx.root_lexer)
            if id(lexer) not in index:
                index[id(lexer)] = len(self.lexers)
                self.lexers.append(lexer)
            self.lexer_of_state[s] = index[id(lexer)]
        self.n_states = n_states

    def initial(self) -> tuple:
        """The stack before any input."""
        return (self.start_state,)

    def lexer_index(self, stack: tuple) -> int:
        """The contextual lexer in force on top of ``stack``."""
        return self.lexer_of_state[stack[-1]]

    def can_take(self, stack: tuple, terms) -> bool:
        """Whether some terminal of ``terms`` can be shifted (after reductions) on ``stack``."""
        if not self.shift_terms[stack[-1]].isdisjoint(terms):
            return True
        feed = self.feed
        return any(feed(stack, t) is not None for t in terms)


def _check_size(states: int, terminals: int, nonterminals: int) -> None:
    """Refuse parse tables over :data:`MAX_TABLE_CELLS` cells (before allocating them)."""
    cells = states * max(terminals, nonterminals)
    if cells > MAX_TABLE_CELLS:
        raise ConstraintError(
            f"the grammar's LALR table would have {states:,} states x "
            f"{max(terminals, nonterminals):,} symbols ({cells:,} cells); expected at most "
            f"{MAX_TABLE_CELLS:,} cells: simplify the grammar"
        )
