"""The Ray engine: one actor per slot, each loading the model once, on a local Ray instance or
a cluster (``address``)."""

from __future__ import annotations

import contextlib
from typing import Any

from ..errors import ConfigurationError, ModelLoadError
from .engine import CRASHED, Engine
from .records import Record

_WAIT = 1.0  # seconds per ray.wait round


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ConfigurationError(
            "engine='ray' needs Ray: pip install 'awrs[ray]' (or pip install ray)"
        ) from exc
    return ray


class RayEngine(Engine):
    """``workers`` actors (default: one per CPU of the Ray cluster), one CPU each.

    ``ray.init()`` starts a local instance when Ray is not running and ``address`` is
    ``None``; ``address`` (``"auto"``, ``"ray://host:10001"``, ...) joins a cluster. An actor
    that dies (node lost, ``ray.kill``, out of memory) is replaced and its records retried.
    Actors are named ``awrs-batch-<slot>`` (plus a restart count after the first).
    """

    crash_type = "ActorDied"

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        in_flight: int = 16,
        **config,
    ):
        self.ray = _ray()
        self.address, self.in_flight, self.config = address, in_flight, config
        self.config.setdefault("threads", 1)
        self._workers = workers
        self._owns = False
        self._actors: list = []
        self._gen: list[int] = []
        self._calls: dict = {}  # ObjectRef -> slot
        self._cls: Any = None  # the Ray actor class of Worker, made on first use

    def start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.n_slots = self._workers or max(1, cpus)
        self._gen = [0] * self.n_slots
        self._actors = [self._actor(slot) for slot in range(self.n_slots)]
        try:
            ray.get([a.ready.remote() for a in self._actors])
        except ray.exceptions.RayError as exc:
            raise ModelLoadError(f"a batch actor could not start: {exc}") from exc

    def _actor(self, slot: int):
        from .worker import Worker

        if self._cls is None:
            self._cls = self.ray.remote(num_cpus=1)(Worker)
        gen = self._gen[slot]
        self._gen[slot] += 1
        name = f"awrs-batch-{slot}" + (f"-{gen}" if gen else "")
        return self._cls.options(name=name).remote(**self.config)

    def call(self, slot: int, records: list[Record]) -> None:
        self._calls[self._actors[slot].advance.remote(records)] = slot

    def wait(self):
        ray = self.ray
        while True:
            done, _ = ray.wait(list(self._calls), num_returns=1, timeout=_WAIT)
            if done:
                break
        out = []
        for ref in done:
            slot = self._calls.pop(ref)
            try:
                out.append((slot, ray.get(ref)))
            except ray.exceptions.RayError:  # the actor died (or its call failed in Ray)
                out.append((slot, CRASHED))
        return out

    def restart(self, slot: int) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.ray.kill(self._actors[slot])
        self._actors[slot] = self._actor(slot)

    def stop(self) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
        self._actors, self._calls = [], {}
        if self._owns:
            self.ray.shutdown()
            self._owns = False
