"""TEMPORARY stand-in for awrs.sampling.sampler/scheduler: one whole generate() per step."""

from __future__ import annotations

from ..sampling.api import generate


class _Sampler:
    def __init__(self, lm, prompt, constraint, **kw):
        self.lm, self.prompt, self.constraint, self.kw = lm, prompt, constraint, kw
        self._result = None
        self.particles = []

    @property
    def finished(self):
        return self._result is not None

    def step(self, logp=None):
        self._result = generate(self.lm, self.prompt, self.constraint, **self.kw)

    def result(self):
        return self._result


def make_sampler(lm, prompt, constraint=None, **kw):
    from ..sampling.api import _check_options

    _check_options(kw.get("method", "smc"), kw.get("n_particles", 8),
                   kw.get("ess_threshold", 0.5), kw.get("max_tokens", 256),
                   kw.get("temperature", 1.0), "auto", None, "stratified", kw.get("critic"),
                   constraint)
    return _Sampler(lm, prompt, constraint, **kw)


class Scheduler:
    def __init__(self, lm, max_rows=64):
        self.active, self.lm_calls = [], 0

    def add(self, s):
        self.active.append(s)

    def remove(self, s):
        if s in self.active:
            self.active.remove(s)

    def step(self):
        done = list(self.active)
        for s in done:
            s.step()
        self.active = []
        return done
