"""How panels run engine jobs: through a runner with the worker client's interface.

The studio passes its :class:`desktop.worker.client.WorkerClient` (``submit(name, fn, on_done=,
on_error=) -> id``, ``cancel(id)``, signal ``job_progress(p)`` with ``p.job_id``). :class:`InlineRunner`
has the same interface and runs the job at once in the calling thread (tests, headless tools).
A job function takes a context with ``progress`` (an engine ``ProgressFn``), ``cancel``
(:class:`engine.jobs.CancelToken`), ``checkpoint()`` and optionally ``store`` (the worker's model cache).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from engine.errors import UserError
from engine.jobs import Cancelled, CancelToken, Progress

JobFn = Callable[[Any], Any]


class JobRunner(Protocol):
    job_progress: Signal

    def submit(self, name: str, fn: JobFn, *, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None) -> int: ...

    def cancel(self, job_id: int | None = None) -> None: ...


@dataclass
class RelayedProgress:
    """The fields panels read from a progress report (as the worker's ``JobProgress``)."""

    job_id: int
    name: str
    step: int
    total: int | None
    message: str
    values: dict = field(default_factory=dict)
    fraction: float | None = None
    eta_seconds: float | None = None
    elapsed_seconds: float = 0.0
    preview: Any = None


class _InlineContext:
    def __init__(self, runner: InlineRunner, job_id: int, name: str, cancel: CancelToken) -> None:
        self._runner, self._id, self._name, self.cancel = runner, job_id, name, cancel
        self.started = time.monotonic()
        self.store = None

    def checkpoint(self) -> None:
        self.cancel.raise_if_cancelled(self._name)

    def progress(self, p: Progress) -> None:
        elapsed = time.monotonic() - self.started
        frac = p.fraction
        eta = elapsed * (1 - frac) / frac if frac else None
        self._runner.job_progress.emit(RelayedProgress(self._id, self._name, p.step, p.total, p.message,
                                                       dict(p.values), frac, eta, elapsed, p.preview))


class InlineRunner(QObject):
    """Runs each job immediately, synchronously; ``cancel_after`` cancels a job after that many reports."""

    job_progress = Signal(object)
    job_cancelled = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._tokens: dict[int, CancelToken] = {}
        self.cancel_after: int | None = None
        self.submitted: list[str] = []

    def submit(self, name: str, fn: JobFn, *, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None, **_ignored: Any) -> int:
        job_id = next(self._ids)
        token = CancelToken()
        self._tokens[job_id] = token
        self.submitted.append(name)
        ctx = _InlineContext(self, job_id, name, token)
        if self.cancel_after is not None:
            seen = [0]
            inner = ctx.progress

            def counting(p: Progress) -> None:
                inner(p)
                seen[0] += 1
                if seen[0] >= (self.cancel_after or 0):
                    token.cancel()
            ctx.progress = counting  # type: ignore[method-assign]
        try:
            result = fn(ctx)
        except Cancelled:
            self.job_cancelled.emit(job_id)
            return job_id
        except UserError as exc:
            if on_error is not None:
                on_error(str(exc))
            return job_id
        finally:
            self._tokens.pop(job_id, None)
        if on_done is not None:
            on_done(result)
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        for jid, token in list(self._tokens.items()):
            if job_id is None or jid == job_id:
                token.cancel()


def context_generator(ctx: Any, model_path: str):
    """The job context's cached generator when it has a store, else the file loaded now."""
    store = getattr(ctx, "store", None)
    if store is not None:
        return store.generator(model_path)
    from engine.checkpoints import load_generator

    return load_generator(model_path)
