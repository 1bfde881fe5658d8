"""The GUI-thread face of the worker: submit previews and jobs, receive results as main-thread signals.

Usage (GUI thread)::

    client = WorkerClient(device="cpu"); client.start()
    rid = client.request_preview(spec, draft=True)        # latest wins; stale results never arrive
    client.preview_ready.connect(show)                     # PreviewResult, only for the newest id
    job = client.submit("Invert photo", fn)                # fn(ctx: JobContext) runs on the worker
    client.job_progress.connect(...)                       # JobProgress, at most every 50 ms, with ETA
    client.job_finished.connect(lambda job_id, result: ...)
    client.cancel(job)                                     # honoured at the job's next step
    client.stop()                                          # cancels, stops and joins the thread
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from .requests import JobProgress, PreviewRequest, PreviewResult, RenderSpec
from .worker import BackgroundTask, Job, JobFn, Worker

log = logging.getLogger("desktop.worker")


class WorkerClient(QObject):
    """Owns the worker thread. All signals are emitted on the GUI thread."""

    preview_ready = Signal(object)  # PreviewResult (newest request only)
    preview_failed = Signal(int, str)
    job_started = Signal(int, str)
    job_progress = Signal(object)  # JobProgress
    job_finished = Signal(int, object)
    job_failed = Signal(int, str)
    job_cancelled = Signal(int)
    jobs_changed = Signal(int)  # number of queued + running jobs
    notice = Signal(str)
    error = Signal(str)  # any failure, one line, for the non-modal message bar

    def __init__(self, device: str = "cpu", parent: QObject | None = None, *, precision: str = "fp32") -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._latest_preview = 0
        self.stale_dropped = 0
        self._jobs: dict[int, Job] = {}
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._task_callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self.device = device
        self.precision = precision
        self.thread = QThread()
        self.thread.setObjectName("styledomain-worker")
        self.worker = Worker(device, precision)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run_loop)
        q = Qt.ConnectionType.QueuedConnection
        self.worker.preview_ready.connect(self._on_preview, q)
        self.worker.preview_failed.connect(self._on_preview_failed, q)
        self.worker.job_started.connect(self.job_started, q)
        self.worker.job_progress.connect(self._on_progress, q)
        self.worker.job_finished.connect(self._on_finished, q)
        self.worker.job_failed.connect(self._on_failed, q)
        self.worker.job_cancelled.connect(self._on_cancelled, q)
        self.worker.task_finished.connect(self._on_task_finished, q)
        self.worker.task_failed.connect(self._on_task_failed, q)
        self.worker.notice.connect(self.notice, q)
        self.worker.stopped.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self._started = False

    # ---- lifetime --------------------------------------------------------------------------------
    def start(self) -> None:
        if not self._started:
            self._started = True
            self.thread.start()

    def stop(self, timeout_ms: int = 10000) -> bool:
        """Cancel every queued and running job, stop the loop and join the thread.

        A running job ends at its next step (engine jobs check their token at least once per step), so
        this returns within one step; True when the thread ended within ``timeout_ms``. On False the
        thread is still running (a job that never checks its token) and ``stop`` may be called again.
        """
        if not self._started:
            return True
        self.worker.stop()
        ok = self.thread.wait(timeout_ms)
        if not ok:
            log.error("worker thread did not stop within %d ms", timeout_ms)
            return False
        self._started = False
        return True

    def is_running(self) -> bool:
        return self.thread.isRunning()

    # ---- previews --------------------------------------------------------------------------------
    def request_preview(self, spec: RenderSpec, *, draft: bool = False, paste_back: bool = False,
                        want_before: bool = False) -> int:
        rid = next(self._ids)
        self._latest_preview = rid
        self.worker.submit_preview(PreviewRequest(rid, spec, draft, paste_back, want_before))
        return rid

    def set_preview_policy(self, policy: str) -> None:
        """The draft size policy: adaptive, smallest or full (the ``preview/policy`` setting)."""
        self.worker.set_preview_policy(policy)

    @property
    def latest_preview_id(self) -> int:
        return self._latest_preview

    @Slot(object)
    def _on_preview(self, result: PreviewResult) -> None:
        if result.id != self._latest_preview:
            self.stale_dropped += 1
            return
        self.preview_ready.emit(result)

    @Slot(int, str)
    def _on_preview_failed(self, rid: int, message: str) -> None:
        if rid == self._latest_preview:
            self.preview_failed.emit(rid, message)
            self.error.emit(f"Preview: {message}")

    # ---- jobs ------------------------------------------------------------------------------------
    def submit(self, name: str, fn: JobFn, *, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None, interleave_previews: bool = True,
               partial_on_cancel: bool = False) -> int:
        """Queue ``fn(ctx)`` on the worker; ``on_done(result)`` / ``on_error(message)`` run on the GUI
        thread. Returns the job id."""
        job = Job(next(self._ids), name, fn, interleave_previews=interleave_previews,
                  partial_on_cancel=partial_on_cancel)
        self._jobs[job.id] = job
        self._callbacks[job.id] = (on_done, on_error)
        self.worker.submit_job(job)
        self.jobs_changed.emit(len(self._jobs))
        return job.id

    def run_in_background(self, name: str, fn: Callable[[], Any], *,
                          on_done: Callable[[Any], None] | None = None,
                          on_error: Callable[[str], None] | None = None) -> int:
        """Run ``fn()`` on the worker in turn with the jobs (after those submitted before, pending previews
        first), but not as a job: no job bar, no cancel, not in :meth:`pending_jobs`. Callbacks run on the
        GUI thread. Returns its id."""
        task = BackgroundTask(next(self._ids), name, fn)
        self._task_callbacks[task.id] = (on_done, on_error)
        self.worker.submit_task(task)
        return task.id

    @Slot(int, object)
    def _on_task_finished(self, task_id: int, result: object) -> None:
        on_done, _ = self._task_callbacks.pop(task_id, (None, None))
        if on_done is not None:
            try:
                on_done(result)
            except Exception:  # a GUI callback bug must not take the app down
                log.exception("background task callback failed")

    @Slot(int, str)
    def _on_task_failed(self, task_id: int, message: str) -> None:
        _, on_error = self._task_callbacks.pop(task_id, (None, None))
        log.warning("%s", message)
        if on_error is not None:
            on_error(message)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every queued and running job."""
        self.worker.cancel(job_id)

    def pending_jobs(self) -> list[tuple[int, str]]:
        return [(j.id, j.name) for j in self._jobs.values()]

    @Slot(object)
    def _on_progress(self, p: JobProgress) -> None:
        self.job_progress.emit(p)

    def _done(self, job_id: int) -> tuple[Callable | None, Callable | None]:
        self._jobs.pop(job_id, None)
        cbs = self._callbacks.pop(job_id, (None, None))
        self.jobs_changed.emit(len(self._jobs))
        return cbs

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        on_done, _ = self._done(job_id)
        self.job_finished.emit(job_id, result)
        if on_done is not None:
            try:
                on_done(result)
            except Exception as exc:  # a GUI callback bug must not take the app down
                log.exception("job callback failed")
                self.error.emit(f"{type(exc).__name__}: {exc}")

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        _, on_error = self._done(job_id)
        self.job_failed.emit(job_id, message)
        if on_error is not None:
            on_error(message)
        self.error.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._done(job_id)
        self.job_cancelled.emit(job_id)
