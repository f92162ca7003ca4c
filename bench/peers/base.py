"""Locally constrained decoding with a peer's token-mask engine over awrs's model interface."""

from __future__ import annotations

import math
import time
from abc import abstractmethod

import torch

from ..methods import Method, Outcome, RunConfig


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
