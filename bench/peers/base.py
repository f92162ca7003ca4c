"""Locally constrained decoding with a peer's token-mask engine over awrs's model interface."""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from dataclasses import dataclass

import torch

from ..methods import Method, Outcome, RunConfig


@dataclass(frozen=True, slots=True)
class BatchSample:
    """One row of :meth:`MaskingPeer.run_batch`: its text, ids, whether the engine accepted it
    as complete, and the tokens it sampled (EOS included)."""

    text: str
    token_ids: tuple[int, ...]
    finished: bool
    tokens: int


class MaskingPeer(Method):
    """Token-by-token sampling from the model renormalized over a peer engine's allowed tokens.

    The forward passes go through the same :class:`~awrs.models.LanguageModel` (and KV cache)
    as awrs's methods, so time differences come from the constraint engine and the sampler.
    Subclasses compile a constraint into a matcher factory and implement the three matcher
    hooks.
    """

    uses_particles = False
    needs_constraint = False

    #: the EOS id the engine's tokenizer uses (set by :meth:`prepare` of subclasses)
    peer_eos: int = -1

    def prepare(self, lm, cfg: RunConfig) -> None:
        self._lm = lm
        self._eos = sorted(lm.eos_token_ids)

    @abstractmethod
    def new_matcher(self, built):
        """A fresh matcher for one generation."""

    @abstractmethod
    def fill_mask(self, matcher, logprobs: torch.Tensor) -> None:
        """Set disallowed entries of the (1, V) ``logprobs`` to -inf in place."""

    @abstractmethod
    def consume(self, matcher, token: int) -> bool:
        """Advance the matcher by ``token``; False when the engine rejects it."""

    def eos_allowed(self, matcher) -> bool:
        """Whether the output may end here (default: fill a mask and look at EOS)."""
        probe = torch.zeros((1, len(self._lm.vocab)))
        self.fill_mask(matcher, probe)
        return bool(torch.isfinite(probe[0, self.peer_eos]))

    def run(self, built, prompt_ids, seed, cfg):
        lm = self._lm
        gen = torch.Generator().manual_seed(int(seed))
        matcher = self.new_matcher(built)
        ctx = list(prompt_ids)
        out: list[int] = []
        lm_s = 0.0
        # at most max_tokens tokens, EOS included (as awrs.generate counts them)
        for _ in range(cfg.max_tokens - 1):
            t0 = time.perf_counter()
            logp = lm.next_token_logprobs([ctx + out], temperature=cfg.temperature)  # (1, V)
            lm_s += time.perf_counter() - t0
            logp = logp.clone()
            eos_lp = logp[0, self._eos].clone()
            self.fill_mask(matcher, logp)
            eos_ok = bool(torch.isfinite(logp[0, self.peer_eos]))
            logp[0, self._eos] = eos_lp if eos_ok else -math.inf
            if not torch.isfinite(logp).any():
                return Outcome(
                    None, False, len(out), extra={"lm_s": lm_s, "dead": 1.0, "out_of_budget": 0.0}
                )  # dead end
            probs = torch.softmax(logp[0], dim=-1)
            tok = int(torch.multinomial(probs, 1, generator=gen))
            if tok in lm.eos_token_ids:
                text = lm.decode(out)
                return Outcome(
                    text,
                    True,
                    len(out) + 1,
                    posterior={text: 1.0},
                    extra={"lm_s": lm_s, "dead": 0.0, "out_of_budget": 0.0},
                )
            if not self.consume(matcher, tok):
                raise RuntimeError(f"{self.name} rejected token {tok} that its own mask allowed")
            out.append(tok)
        # budget reached: the sequence ends here if the engine accepts it as complete
        text = lm.decode(out)
        if self.eos_allowed(matcher):
            return Outcome(
                text,
                True,
                len(out) + 1,
                posterior={text: 1.0},
                extra={"lm_s": lm_s, "dead": 0.0, "out_of_budget": 0.0},
            )
        # unfinished: no complete output, as in awrs
        return Outcome(
            None,
            False,
            len(out),
            extra={"lm_s": lm_s, "dead": 0.0, "out_of_budget": 1.0},
            partial=text,
        )

    def run_batch(self, built, prompt_ids, seed: int, cfg: RunConfig, n: int) -> list[BatchSample]:
        """``n`` independent samples, all live rows in one forward per step, a mask per row.

        Each row follows :meth:`run`'s rules (EOS only where the engine allows it, at most
        ``max_tokens`` tokens, EOS included); a row with no allowed token dies unfinished.
        """
        lm = self._lm
        gen = torch.Generator().manual_seed(int(seed))
        matchers = [self.new_matcher(built) for _ in range(n)]
        outs: list[list[int]] = [[] for _ in range(n)]
        ended: dict[int, bool] = {}  # row -> finished
        ctx = list(prompt_ids)
        for _ in range(cfg.max_tokens - 1):
            live = [i for i in range(n) if i not in ended]
            if not live:
                break
            logp = lm.next_token_logprobs(
                [ctx + outs[i] for i in live], temperature=cfg.temperature
            )
            logp = logp.clone()
            for r, i in enumerate(live):
                tok = self._sample_row(matchers[i], logp[r : r + 1], gen)
                if tok is None or tok in lm.eos_token_ids:
                    ended[i] = tok is not None
                elif not self.consume(matchers[i], tok):
                    raise RuntimeError(
                        f"{self.name} rejected token {tok} that its own mask allowed"
                    )
                else:
                    outs[i].append(tok)
        for i in range(n):  # budget reached: complete if the engine accepts the row as it is
            if i not in ended:
                ended[i] = self.eos_allowed(matchers[i])
        return [
            BatchSample(lm.decode(outs[i]), tuple(outs[i]), ended[i], len(outs[i]) + ended[i])
            for i in range(n)
        ]

    def _sample_row(self, matcher, logp: torch.Tensor, gen: torch.Generator) -> int | None:
        """A token from one (1, V) row masked by ``matcher`` (None: no token is allowed)."""
        eos_lp = logp[0, self._eos].clone()
        self.fill_mask(matcher, logp)
        eos_ok = bool(torch.isfinite(logp[0, self.peer_eos]))
        logp[0, self._eos] = eos_lp if eos_ok else -math.inf
        if not torch.isfinite(logp).any():
            return None
        return int(torch.multinomial(torch.softmax(logp[0], dim=-1), 1, generator=gen))
