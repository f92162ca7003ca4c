"""An Earley recogniser over terminals: the fallback for grammars that are not LALR(1)."""

from __future__ import annotations


class Column:
    """The Earley items at one position: ``items`` (rule, dot, origin) and, per symbol, the
    items waiting for it (``waiting``); ``expected`` are the terminals some item waits for."""

    __slots__ = ("items", "waiting", "expected")

    def __init__(self, items: frozenset, waiting: dict, expected: frozenset):
        self.items, self.waiting, self.expected = items, waiting, expected


class EarleyBackend:
    """Charts (tuples of :class:`Column`) over lark's compiled rules.

    Cost: feeding a terminal builds one Earley column — predictions and completions over the
    items of every earlier column an item started in — so one token costs O(|G| * n) in the
    worst case (n tokens so far) and a whole string O(|G| * n^3) for ambiguous grammars;
    unambiguous, mostly left-to-right grammars stay near O(|G|) per token. The chart is an
    immutable tuple of columns, shared between states.

    Args:
        lark_obj: a ``Lark(..., parser="earley", lexer="basic")`` instance; its basic
            (non-contextual) lexer tokenises, as lark's own Earley+basic parser does.
        term_ids: terminal name -> id.
        start: the start symbol.
    """

    kind = "earley"

    def __init__(self, lark_obj, term_ids: dict[str, int], start: str):
        nonterms: dict[str, int] = {}
        n_terms = len(term_ids)

        def sym(s) -> int:
            if s.is_term:
                return term_ids[s.name]
            return nonterms.setdefault(s.name, n_terms + len(nonterms))

        self.rules = [(sym(r.origin), tuple(sym(s) for s in r.expansion)) for r in lark_obj.rules]
        self.n_terms = n_terms
        self.start_sym = nonterms.get(start, -1)
        self.by_lhs: dict[int, list[int]] = {}
        for i, (lhs, _) in enumerate(self.rules):
            self.by_lhs.setdefault(lhs, []).append(i)
        self.nullable = self._nullable()
        self.lexers = [lark_obj.parser.lexer]
        self._initial = (
            self._column([(r, 0, 0) for r in self.by_lhs.get(self.start_sym, [])], (), 0),
        )

    def _nullable(self) -> set[int]:
        null: set[int] = set()
        changed = True
        while changed:
            changed = False
            for lhs, rhs in self.rules:
                if lhs not in null and all(s in null for s in rhs):
                    null.add(lhs)
                    changed = True
        return null

    def _column(self, agenda: list, chart: tuple, k: int) -> Column:
        rules, by_lhs, null, nt = self.rules, self.by_lhs, self.nullable, self.n_terms
        items: set = set()
        waiting: dict[int, list] = {}
        while agenda:
            it = agenda.pop()
            if it in items:
                continue
            items.add(it)
            r, d, o = it
            lhs, rhs = rules[r]
            if d < len(rhs):
                x = rhs[d]
                waiting.setdefault(x, []).append(it)
                if x >= nt:
                    agenda.extend((r2, 0, k) for r2 in by_lhs.get(x, ()))
                    if x in null:
                        agenda.append((r, d + 1, o))
            elif o < k:  # completions of nullable derivations (o == k) were advanced above
                agenda.extend((r2, d2 + 1, o2) for r2, d2, o2 in chart[o].waiting.get(lhs, ()))
        expected = frozenset(x for x in waiting if x < nt)
        return Column(frozenset(items), {x: tuple(v) for x, v in waiting.items()}, expected)

    def initial(self) -> tuple:
        """The chart before any input."""
        return self._initial

    def lexer_index(self, chart: tuple) -> int:
        return 0

    def feed(self, chart: tuple, term: int) -> tuple | None:
        """The chart after scanning ``term``; None if no item expects it."""
        scanned = chart[-1].waiting.get(term)
        if not scanned:
            return None
        col = self._column([(r, d + 1, o) for r, d, o in scanned], chart, len(chart))
        return chart + (col,)

    def feed_end(self, chart: tuple) -> bool:
        """Whether the terminals fed so far form a complete ``start``."""
        rules, start = self.rules, self.start_sym
        return any(
            o == 0 and rules[r][0] == start and d == len(rules[r][1]) for r, d, o in chart[-1].items
        )

    def can_take(self, chart: tuple, terms) -> bool:
        expected = chart[-1].expected
        return any(t in expected for t in terms)
