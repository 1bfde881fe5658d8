"""The batch-export job run on the worker: the current edit's recipe applied to many photos with
:func:`engine.pipeline.batch.run_batch`.

The GUI thread builds a :class:`BatchRequest` (plain data) and a :class:`BatchFeed`, and queues
``batch_job(request, feed)`` with ``WorkerClient.submit``. The engine reports from its pipeline threads,
so the job never calls ``JobContext.progress`` (that serves previews and may raise); it records every
per-photo outcome in the feed (thread-safe, drained by the GUI) and relays throttled overall progress as
:class:`~desktop.worker.requests.JobProgress` on the worker's signal. A cancelled run's
:class:`~engine.pipeline.batch.BatchReport` is kept in ``feed.report`` (the worker reports a cancel, not a
result).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.jobs import Progress, Throttle

from .requests import JobProgress
from .worker import PROGRESS_INTERVAL_S, JobContext

STATUSES = ("done", "skipped", "failed")


@dataclass(frozen=True)
class BatchRequest:
    """Everything one batch run needs (CPU data only). ``sources``: the files and folders as the user
    gave them (folders are scanned by the engine, which also fills ``{folder}``); ``steps`` None = as the
    recipe says."""

    sources: tuple[str, ...]
    out_dir: str
    recipe_text: str
    recipe_label: str
    model_path: str
    fmt: str = "png"
    quality: int | None = None
    template: str = "{stem}_{recipe}.{ext}"
    overwrite: bool = False
    paste_back: bool | None = None
    steps: int | None = None
    aligned: bool = False
    workers: int | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class BatchEvent:
    """One photo's outcome, as the engine reported it during the run."""

    input: str
    status: str  # "done" | "skipped" | "failed"
    reason: str = ""


class BatchFeed:
    """Per-photo events from the run (any thread appends, the GUI drains) and the final report."""

    def __init__(self, known_inputs: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._events: list[BatchEvent] = []
        self.known = {str(p) for p in known_inputs}
        self.report = None  # the BatchReport, once run_batch returned (also when cancelled)

    def push(self, event: BatchEvent) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[BatchEvent]:
        with self._lock:
            out, self._events = self._events, []
        return out

    def parse(self, message: str) -> BatchEvent | None:
        """The event of an engine message ``"PATH: done|skipped|failed[: reason]"`` (paths may hold ": ")."""
        candidates = []
        for status in STATUSES:
            marker = f": {status}"
            start = 0
            while (i := message.find(marker, start)) >= 0:
                rest = message[i + len(marker):]
                if rest == "" or rest.startswith(": "):
                    candidates.append((message[:i], status, rest[2:]))
                start = i + 1
        if not candidates:
            return None
        known = [c for c in candidates if c[0] in self.known]
        path, status, reason = (known or candidates)[0]
        return BatchEvent(path, status, reason)


def recipe_file(folder: str | os.PathLike, label: str, text: str) -> Path:
    """Write ``text`` as ``FOLDER/LABEL.recipe.json`` (the engine's ``{recipe}`` field is then ``LABEL``)."""
    path = Path(folder) / f"{label}.recipe.json"
    path.write_text(text, encoding="utf-8")
    return path


def output_folder_problem(folder: str) -> str | None:
    """Why ``folder`` cannot receive a batch (one line), or None. A missing folder is fine when it can be
    created (its nearest existing parent is a writable folder)."""
    if not folder.strip():
        return "Choose an output folder first."
    p = Path(folder).expanduser()
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            return f"{p}: no existing parent folder"
        probe = probe.parent
    if not probe.is_dir():
        return f"{p}: {probe} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{p}: output folder is not writable"
    return None


def batch_job(request: BatchRequest, feed: BatchFeed):
    """Job: run the batch on the worker; returns the :class:`~engine.pipeline.batch.BatchReport`.

    Usage errors (no images, OUT not writable or busy, a bad template) raise :class:`UserError` before any
    photo is touched; a cancel returns through the worker as a cancelled job, with the report in ``feed``.
    """

    def job(ctx: JobContext):
        from engine.pipeline.batch import run_batch

        if output_folder_problem(request.out_dir):
            raise UserError(output_folder_problem(request.out_dir))
        started = time.monotonic()

        def send(p: Progress) -> None:
            elapsed = time.monotonic() - started
            frac = p.fraction
            eta = elapsed * (1 - frac) / frac if frac else None
            ctx.worker.job_progress.emit(JobProgress(ctx.job.id, ctx.job.name, p.step, p.total, p.message,
                                                     dict(p.values), frac, eta, elapsed))

        throttled = Throttle(send, PROGRESS_INTERVAL_S)
        relay_lock = threading.Lock()

        def relay(p: Progress) -> None:  # called from the engine's pipeline threads
            event = feed.parse(p.message)
            if event is not None:
                feed.push(event)
            with relay_lock:
                throttled(p)

        with tempfile.TemporaryDirectory(prefix="styledomain-batch-") as tmp:
            recipe = recipe_file(tmp, request.recipe_label, request.recipe_text)
            report = run_batch(list(request.sources), request.out_dir, recipe, model=request.model_path,
                               fmt=request.fmt, quality=request.quality, paste_back=request.paste_back,
                               name=request.template, overwrite=request.overwrite, workers=request.workers,
                               batch_size=request.batch_size, steps=request.steps, aligned=request.aligned,
                               device=str(ctx.store.device), progress=relay, cancel=ctx.cancel)
        feed.report = report
        return report

    return job
