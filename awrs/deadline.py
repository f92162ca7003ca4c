"""Deadlines for work a stranger can make long: building a constraint from a request.

A :class:`Deadline` is armed on the thread doing the work (:meth:`Deadline.run`). Builders
call :func:`check` in their loops (cooperative); SQLite's progress handler asks
:func:`expired`. For third-party code that never checks (Lark's grammar analysis, ``re``'s
compiler), :meth:`Deadline.cancel` also raises :class:`~awrs.errors.DeadlineExceeded`
asynchronously in the working thread (``PyThreadState_SetAsyncExc``), so the computation
stops at its next bytecode rather than burning on after the request was answered. Long calls
inside C extensions are not interrupted this way; they carry their own bounds (SQLite's
progress handler, the ``Pattern`` match timeout).
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import DeadlineExceeded

__all__ = ["Deadline", "check", "expired"]

T = TypeVar("T")
#: times :meth:`Deadline.cancel` interrupts the working thread (every 0.1 s) while it runs
INTERRUPTS = 300
_local = threading.local()


class Deadline:
    """A point in time (``time.monotonic``) past which work stops, or an explicit cancel.

    Args:
        seconds: how long from now; ``None``: no time limit (cancel only).
        what: what the work is, for error messages.
    """

    __slots__ = ("at", "what", "reason", "_thread", "_lock")

    def __init__(self, seconds: float | None, what: str = "the work"):
        self.at = None if seconds is None else time.monotonic() + seconds
        self.what = what
        self.reason: str | None = None  # set by cancel()
        self._thread: int | None = None
        self._lock = threading.Lock()

    def left(self) -> float:
        """Seconds left (``inf`` without a time limit; ``<= 0`` once passed)."""
        return float("inf") if self.at is None else self.at - time.monotonic()

    def expired(self) -> bool:
        return self.reason is not None or self.left() <= 0

    def error(self) -> DeadlineExceeded:
        why = self.reason or "it ran past its time limit"
        return DeadlineExceeded(f"{self.what} was stopped: {why}")

    def check(self) -> None:
        """Raise :class:`~awrs.errors.DeadlineExceeded` once expired or cancelled."""
        if self.expired():
            raise self.error()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` on this thread with the deadline armed (see :func:`check`)."""
        prev = getattr(_local, "deadline", None)
        _local.deadline = self
        with self._lock:
            self._thread = threading.get_ident()
        try:
            self.check()
            return fn(*args)
        finally:
            with self._lock:
                if self.reason is not None:  # drop an interrupt still pending
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(threading.get_ident()), None
                    )
                self._thread = None
            _local.deadline = prev

    def cancel(self, reason: str, interrupt: bool = True) -> None:
        """Stop the work: cooperative checks raise; with ``interrupt`` the working thread gets
        :class:`~awrs.errors.DeadlineExceeded` raised at its next bytecode."""
        if self.reason is not None:
            return  # cancelled (and interrupted) once already
        self.reason = reason
        if not interrupt:
            return
        threading.Thread(target=self._interrupt, daemon=True).start()

    def _interrupt(self) -> None:
        """Raise :class:`~awrs.errors.DeadlineExceeded` in the working thread, again every
        0.1 s while it runs: third-party code may catch and swallow one (``except
        Exception``)."""
        for _ in range(INTERRUPTS):
            with self._lock:
                if self._thread is None:
                    return
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._thread), ctypes.py_object(DeadlineExceeded)
                )
            time.sleep(0.1)


def current() -> Deadline | None:
    """The deadline armed on this thread, if any."""
    return getattr(_local, "deadline", None)


def expired() -> bool:
    """Whether the deadline armed on this thread (if any) has passed or was cancelled."""
    d = current()
    return d is not None and d.expired()


def check() -> None:
    """Raise :class:`~awrs.errors.DeadlineExceeded` if this thread's deadline has passed."""
    d = current()
    if d is not None:
        d.check()
