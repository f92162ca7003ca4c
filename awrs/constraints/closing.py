"""Known short completions: how to close a prefix, and what that costs in tokens.

A :class:`Closing` finds, for a constraint state, one short byte string that completes it (a
bounded depth-first search over the constraint's own transitions, closing bytes first, bytes
grouped into classes so that a key or a digit costs one branch, not 95), and the fewest
vocabulary tokens that spell it. The token count is an *upper* bound on the state's shortest
completion: a path to a complete text that is known to exist. Budget-aware samplers use it
to close a text before ``max_tokens`` (:mod:`awrs.sampling.budget`), where the sound lower
bounds of :mod:`awrs.constraints.shortest` come too late.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import completion

WHITESPACE = b"\n\t"
#: byte classes tried at each search node, in order (closers first: a short completion ends
#: values early; UTF-8 continuation bytes finish a split character; newline and tab only when
#: nothing else completes); within a class the first byte the constraint accepts comes first
CLASSES: tuple[bytes, ...] = (
    b'"',
    b"}",
    b"]",
    b")",
    b";",
    b",",
    b"1023456789",
    b":",
    b"'",
    b"abcdefghijklmnopqrstuvwxyz",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b"{",
    b"[",
    b"(",
    b"-",
    b".",
    b"_",
    b"=",
    b"*",
    b"+",
    b"/",
    b"<",
    b">",
    b"!",
    b"@",
    b"#",
    b"$",
    b"%",
    b"&",
    b"?",
    b"^",
    b"`",
    b"|",
    b"~",
    b" ",
    b"\\",
    bytes(range(0x80, 0xC0)),
    WHITESPACE,
)
#: search nodes expanded per search pass before giving up (the state then has no known
#: completion), unless the constraint sets ``closing_nodes`` (0: its hints alone)
MAX_NODES = 200
#: constraint transitions tried per search before giving up
MAX_ADVANCES = 4000
#: bytes of a completion searched for at most
MAX_BYTES = 512
#: the longest run of one byte a search appends (no endless `}}}}` inside a key)
MAX_RUN = 6


class Closing:
    """Short completions of one constraint's states, and their cost in tokens.

    Args:
        constraint: an incremental constraint (``advance``, ``is_complete``); its
            :class:`~awrs.constraints.base.Completion` (``search_advance``, ``closing_hints``,
            ``closing_nodes``, and ``state_key``: states that complete alike share a cache and
            search key) steers the search.
        tokens: the vocabulary's byte strings (EOS excluded).
    """

    __slots__ = (
        "constraint",
        "_vocab",
        "_longest",
        "_cache",
        "_classes",
        "_advance",
        "_hints",
        "_max_nodes",
        "_state_key",
        "nodes",
        "searches",
        "failures",
        "advances",
    )

    def __init__(self, constraint, tokens: Sequence[bytes] | frozenset):
        self.constraint = constraint
        self.nodes = 0  # statistic: search nodes expanded so far (MAX_NODES bounds each search)
        self.advances = 0  # constraint transitions the searches tried (callers budget them)
        self.searches = self.failures = 0  # searches run, and those that found nothing
        self._vocab = tokens if isinstance(tokens, frozenset) else frozenset(t for t in tokens if t)
        self._longest = max((len(t) for t in self._vocab), default=1)
        self._cache: dict = {}
        alphabet = constraint.alphabet() if hasattr(constraint, "alphabet") else None
        spelt = frozenset(b"".join(self._vocab))  # bytes some token holds
        keep = [
            bytes(b for b in c if (alphabet is None or b in alphabet) and b in spelt)
            for c in CLASSES
        ]
        # the last class is whitespace, searched only when nothing else completes
        self._classes = [c for c in keep[:-1] if c] + [keep[-1]]
        capability = completion(constraint)
        self._advance = capability.search_advance
        self._hints = capability.closing_hints
        nodes = capability.closing_nodes
        self._max_nodes = MAX_NODES if nodes is None else nodes
        self._state_key = capability.state_key

    def cached(self, state):
        """``(tokens, completion)`` of ``state`` if already known (no search), else ``None``."""
        key = self.key(state)
        return self._cache.get(key) if key is not None else None

    def tokens(self, state) -> int | None:
        """Tokens (EOS excluded) of a known completion of ``state``: 0 when complete, ``None``
        when none was found within the search limits."""
        return self.entry(state)[0]

    def entry(self, state, limit: int = MAX_ADVANCES) -> tuple[int | None, bytes | None]:
        """``(tokens, completion)``: a known completion of ``state`` and the fewest tokens
        spelling it, ``(None, None)`` when none was found within ``limit`` transitions tried;
        searched once per key (again when a search cut short by ``limit`` found nothing)."""
        key = self.key(state)
        hit = self._cache.get(key) if key is not None else None
        if hit is None:
            tail = self.completion(state, limit)
            self.searches += 1
            self.failures += tail is None
            hit = (None, None) if tail is None else (self.spell(tail), tail)
            if tail is not None or limit >= MAX_ADVANCES:  # (cut short: searched again later)
                self._store(key, hit)
        return hit

    def learn(self, state, tail: bytes) -> tuple[int | None, bytes | None]:
        """Record ``tail`` (known to complete ``state``, e.g. the rest of its parent's
        completion) as its completion unless one as short in tokens is known; returns the
        state's entry."""
        key = self.key(state)
        hit = self._cache.get(key) if key is not None else None
        if hit is None or hit[0] is None or hit[0] > 0:
            n = self.spell(tail)
            if n is None or (hit is not None and hit[0] is not None and hit[0] <= n):
                return hit or (None, None)  # nothing learnt
            hit = (n, tail)
            self._store(key, hit)
        return hit

    def learn_unknown(self, state) -> None:
        """Record that no completion of ``state`` is known, so that it is not searched (e.g.
        its parent's search found none); not counted as a search."""
        self._store(self.key(state), (None, None))

    def _store(self, key, hit) -> None:
        if key is not None:
            if len(self._cache) >= 100_000:
                self._cache.clear()
            self._cache[key] = hit

    def completion(self, state, limit: int = MAX_ADVANCES) -> bytes | None:
        """A short byte string taking ``state`` to a complete state (``b""`` when it is
        complete): of the constraint's ``closing_hints`` that do, the one spelled in the fewest
        tokens, else found depth-first; ``None`` when the searches stopped at :data:`MAX_NODES`
        nodes (or the constraint's ``closing_nodes``) or ``limit`` transitions tried, or found
        nothing."""
        c = self.constraint
        if c.is_complete(state):
            return b""
        stop = self.advances + min(limit, MAX_ADVANCES)
        best: tuple[int, int, bytes] | None = None
        for hint in self._hints(state):  # the constraint's guesses: the fewest tokens wins
            if self.advances >= stop:
                break
            try:
                t = self._advance(state, hint)
                self.advances += 1
                done = t is not None and c.is_complete(t)
            except Exception as exc:
                _on_path(exc, hint)
                raise
            if done:
                n = self.spell(hint)
                if n is not None and (best is None or (n, len(hint)) < best[:2]):
                    best = (n, len(hint), hint)
        if best is not None:
            return best[2]
        if self.advances >= stop:
            return None
        for classes in (self._classes[:-1], self._classes):  # whitespace only if needed
            if not self._max_nodes:
                break  # the constraint's hints alone
            found = self._search(state, classes, stop)
            if found is not None:
                return found
        return None

    def _search(self, state, classes, stop: int) -> bytes | None:
        """Depth first up to :data:`MAX_BYTES` bytes: children in class order, within a class
        the first accepted byte first and the others only if its subtree fails; each key
        visited once; no byte repeated more than :data:`MAX_RUN` times in a row."""
        c, advance = self.constraint, self._advance
        seen = {self.key(state)}
        stack = [(state, b"", 0, 0)]  # (state, path, class index, next byte in that class)
        nodes, max_nodes = 0, self._max_nodes
        while stack:
            s, path, k, j = stack.pop()
            if k == j == 0:
                nodes += 1
                self.nodes += 1
                if nodes > max_nodes:
                    return None
            if k >= len(classes) or len(path) >= MAX_BYTES:
                continue
            cls = classes[k]
            stack.append((s, path, k + 1, 0))  # the next class, after this one
            for i in range(j, len(cls)):
                b = cls[i]
                if self.advances >= stop:
                    return None
                try:
                    t = advance(s, cls[i : i + 1])
                    self.advances += 1
                    done = t is not None and c.is_complete(t)
                except Exception as exc:
                    _on_path(exc, path + cls[i : i + 1])
                    raise
                if t is None:
                    continue
                if done:
                    return path + cls[i : i + 1]
                key = self.key(t)
                if (key is not None and key in seen) or path[-MAX_RUN:] == bytes((b,)) * MAX_RUN:
                    continue
                if key is not None:
                    seen.add(key)
                stack.append((s, path, k, i + 1))  # the class's other bytes, if this fails
                stack.append((t, path + cls[i : i + 1], 0, 0))
                break
        return None

    def spell(self, text: bytes) -> int | None:
        """The fewest vocabulary tokens whose concatenation is ``text`` (dynamic programming
        over its positions); ``None`` if no token sequence spells it."""
        n = len(text)
        best = [0] + [n + 1] * n  # best[j]: tokens spelling text[:j]
        vocab, longest = self._vocab, self._longest
        for j in range(1, n + 1):
            for i in range(max(0, j - longest), j):
                if best[i] + 1 < best[j] and text[i:j] in vocab:
                    best[j] = best[i] + 1
        return best[n] if best[n] <= n else None

    def key(self, state):
        """The cache and search key of ``state`` (``None``: unhashable, never cached)."""
        key = self._state_key(state)
        try:
            hash(key)
        except TypeError:
            return None
        return key


def _on_path(exc: Exception, path: bytes) -> None:
    """Record on ``exc``, raised by the constraint on the searched state followed by ``path``,
    that path (``exc.closing_path``), for the error that names the text."""
    exc.closing_path = path  # type: ignore[attr-defined]
