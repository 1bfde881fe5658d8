"""The GPU-owner worker: one QObject on one QThread serialises every device operation.

Previews arrive in a size-one :class:`LatestSlot` (latest wins); long jobs in a FIFO queue. While a
job runs, each of its progress reports (and :meth:`JobContext.checkpoint`) first serves the pending
preview, so the canvas stays live during inversion or adaptation. Everything crossing to the GUI
thread is CPU data (QImage, floats, dataclasses) sent through queued signals.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import UserError
from engine.jobs import Cancelled, CancelToken, Progress, Throttle

from .preview_size import AdaptiveDraftSize
from .render import paste_into_photo, pil_to_qimage, render_spec
from .requests import JobProgress, PreviewRequest, PreviewResult
from .slot import LatestSlot
from .store import ModelStore

log = logging.getLogger("desktop.worker")

#: progress reaches the GUI at most this often (seconds)
PROGRESS_INTERVAL_S = 0.05
#: the name of the worker thread (logs, ``threading.enumerate()`` while it runs)
THREAD_NAME = "styledomain-worker"

JobFn = Callable[["JobContext"], Any]


def is_oom(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    return isinstance(exc, oom) or "out of memory" in str(exc).lower()


def oom_message(what: str, device: str) -> str:
    """The one-line message the user sees when the device ran out of memory (after memory was freed)."""
    return (f"{what}: out of memory on {device}. Memory was freed; close other programs, use a smaller model "
            "or preview size, or choose the CPU in Settings.")


def describe_error(exc: BaseException) -> str:
    """One line for the user: the message of user errors, the type and message otherwise."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{getattr(exc, 'filename', '') or ''} {exc.strerror or exc}".strip()
    return f"{type(exc).__name__}: {exc}"


class StudioCancelToken(CancelToken):
    """A :class:`CancelToken` that also answers the older contracts (``token()`` and ``token.is_set()``)."""

    __slots__ = ()

    def __call__(self) -> bool:
        return self.cancelled

    def is_set(self) -> bool:
        return self.cancelled


@dataclass
class Job:
    id: int
    name: str
    fn: JobFn
    cancel: CancelToken = field(default_factory=StudioCancelToken)
    interleave_previews: bool = True
    #: the job honours its token itself and returns what it has on cancel (adaptation keeps the steps done):
    #: progress reports do not raise :class:`Cancelled`, and a result returned after a cancel is delivered
    partial_on_cancel: bool = False


@dataclass
class BackgroundTask:
    """Quiet work (``fn()``, no progress, no cancel), e.g. warming a model up: queued in turn with the jobs
    (by id, which jobs and tasks share) behind any pending preview, but not a job: the job bar, the job
    count and the quit question never see it."""

    id: int
    name: str
    fn: Callable[[], Any]


class JobContext:
    """What a job function gets on the worker thread: the store, its cancel token, and progress."""

    def __init__(self, worker: Worker, job: Job) -> None:
        self.worker = worker
        self.job = job
        self.store: ModelStore = worker.store
        self.cancel: CancelToken = job.cancel
        self.started = time.monotonic()
        self._emit = Throttle(self._send, PROGRESS_INTERVAL_S)

    def progress(self, p: Progress | int, *legacy) -> None:
        """An engine ``ProgressFn``: serve a pending preview, then relay (throttled) to the GUI.

        Also accepts the projector's older ``(step, total, loss, preview)`` call.
        """
        if not isinstance(p, Progress):
            total = legacy[0] if legacy else None
            loss = legacy[1] if len(legacy) > 1 else None
            values = {"loss": float(loss)} if isinstance(loss, (int, float)) else {}
            p = Progress(self.job.name, int(p), total, "", values, legacy[2] if len(legacy) > 2 else None)
        self.checkpoint()
        self._emit(p)

    def checkpoint(self) -> None:
        """Serve a pending preview request and raise :class:`Cancelled` when cancelled."""
        if self.job.interleave_previews:
            self.worker.serve_preview()
        if not self.job.partial_on_cancel:
            self.cancel.raise_if_cancelled(self.job.name)

    def _send(self, p: Progress) -> None:
        elapsed = time.monotonic() - self.started
        frac = p.fraction
        eta = elapsed * (1 - frac) / frac if frac else None
        preview = p.preview
        if preview is not None:
            try:
                from engine.pipeline.images import to_pil

                if hasattr(preview, "convert"):
                    pil = preview
                else:  # a [3, H, W] grid (adaptation previews) or a [B, 3, H, W] batch (its first image)
                    t = preview.detach().float().cpu()
                    pil = to_pil(t.unsqueeze(0) if t.dim() == 3 else t)
                preview = pil_to_qimage(pil)
            except Exception:  # a bad preview must not kill the job
                preview = None
        self.worker.job_progress.emit(JobProgress(self.job.id, self.job.name, p.step, p.total, p.message,
                                                  dict(p.values), frac, eta, elapsed, preview))


class Worker(QObject):
    """Lives on the worker thread; :meth:`run_loop` runs there until :meth:`stop`."""

    preview_ready = Signal(object)  # PreviewResult
    preview_failed = Signal(int, str)  # request id, message
    job_started = Signal(int, str)
    job_progress = Signal(object)  # JobProgress
    job_finished = Signal(int, object)
    job_failed = Signal(int, str)
    job_cancelled = Signal(int)
    task_finished = Signal(int, object)  # background task id, result
    task_failed = Signal(int, str)  # background task id, one-line message
    notice = Signal(str)
    stopped = Signal()

    def __init__(self, device: str = "cpu", precision: str = "fp32") -> None:
        super().__init__()
        self.store = ModelStore(device)
        self.precision = precision  # previews only; exports always render in fp32
        self.slot: LatestSlot[PreviewRequest] = LatestSlot()
        self._jobs: collections.deque[Job] = collections.deque()
        self._tasks: collections.deque[BackgroundTask] = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._current: Job | None = None
        self._drafts: dict[str, AdaptiveDraftSize] = {}
        self._before_cache: tuple[tuple, int, Any] | None = None
        self._last_resolution: int | None = None
        self.preview_policy = "adaptive"  # desktop.worker.preview_size.POLICIES

    # ---- called from any thread -----------------------------------------------------------------
    def submit_preview(self, request: PreviewRequest) -> None:
        self.slot.put(request)
        with self._cond:
            self._cond.notify_all()

    def submit_job(self, job: Job) -> None:
        with self._cond:
            self._jobs.append(job)
            self._cond.notify_all()

    def submit_task(self, task: BackgroundTask) -> None:
        """Queue ``task``: it runs after the jobs queued before it (lower ids), before those queued after."""
        with self._cond:
            self._tasks.append(task)
            self._cond.notify_all()

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job (queued or running), or all of them when ``job_id`` is None."""
        with self._cond:
            jobs = list(self._jobs) + ([self._current] if self._current else [])
        for job in jobs:
            if job_id is None or job.id == job_id:
                job.cancel.cancel()

    def stop(self) -> None:
        self.cancel()
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or bool(self._jobs)

    # ---- worker thread ----------------------------------------------------------------------------
    @Slot()
    def run_loop(self) -> None:
        me = threading.current_thread()
        me.name = THREAD_NAME
        try:
            self._loop()
        finally:
            self.stopped.emit()
            _forget_foreign_thread(me)

    def _loop(self) -> None:
        log.info("worker started on %s", self.store.device)
        while True:
            with self._cond:
                while not self._stop and not self._jobs and not self._tasks and not self.slot.pending():
                    self._cond.wait(0.5)
                if self._stop:
                    break
            if self.slot.pending():
                self.serve_preview()
                continue
            with self._cond:
                task = self._tasks.popleft() if self._tasks and (
                    not self._jobs or self._tasks[0].id < self._jobs[0].id) else None
                job = self._jobs.popleft() if task is None and self._jobs else None
                self._current = job
            if job is not None:
                self._run_job(job)
                with self._cond:
                    self._current = None
            elif task is not None:
                self._run_task(task)
        with self._cond:
            dropped = list(self._jobs)
            self._jobs.clear()
            self._tasks.clear()
        for job in dropped:
            self.job_cancelled.emit(job.id)
        log.info("worker stopped")

    def _run_job(self, job: Job) -> None:
        if job.cancel.cancelled:
            self.job_cancelled.emit(job.id)
            return
        self.job_started.emit(job.id, job.name)
        ctx = JobContext(self, job)
        try:
            result = job.fn(ctx)
        except Cancelled:
            log.info("job %s cancelled", job.name)
            self.job_cancelled.emit(job.id)
            return
        except Exception as exc:
            if is_oom(exc):
                self.store.free()
                msg = oom_message(job.name, self.store.device)
            else:
                msg = f"{job.name}: {describe_error(exc)}"
            if not isinstance(exc, UserError):
                log.error("job %s failed:\n%s", job.name, traceback.format_exc())
            self.job_failed.emit(job.id, msg)
            return
        if job.cancel.cancelled and not job.partial_on_cancel:
            self.job_cancelled.emit(job.id)
        else:
            self.job_finished.emit(job.id, result)

    def _run_task(self, task: BackgroundTask) -> None:
        try:
            result = task.fn()
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.error("background task %s failed:\n%s", task.name, traceback.format_exc())
            self.task_failed.emit(task.id, f"{task.name}: {describe_error(exc)}")
            return
        self.task_finished.emit(task.id, result)

    def set_preview_policy(self, policy: str) -> None:
        """Draft size policy for every model (any thread; a plain attribute swap)."""
        AdaptiveDraftSize([8], policy=policy)  # validates the name
        self.preview_policy = policy

    def draft_size(self, model_path: str) -> AdaptiveDraftSize:
        key = ModelStore.key(model_path)
        if key not in self._drafts:
            gen = self.store.generator(model_path).generator
            self._drafts[key] = AdaptiveDraftSize(gen.config.resolutions)
        sizer = self._drafts[key]
        if sizer.policy != self.preview_policy:
            sizer.set_policy(self.preview_policy)
        return sizer

    def serve_preview(self) -> None:
        """Render the pending preview request, if any (worker thread)."""
        req = self.slot.take()
        if req is None:
            return
        try:
            result = self._render_preview(req)
        except Exception as exc:
            if is_oom(exc):
                result = self._retry_after_oom(req)
                if result is None:
                    return
            else:
                if not isinstance(exc, UserError):
                    log.error("preview failed:\n%s", traceback.format_exc())
                self.preview_failed.emit(req.id, describe_error(exc))
                return
        self.preview_ready.emit(result)

    def _retry_after_oom(self, req: PreviewRequest) -> PreviewResult | None:
        """Free memory and render once more one size smaller; a second failure becomes a clear message."""
        failed = self._last_resolution
        log.warning("out of memory rendering a %s px preview on %s", failed, self.store.device)
        self.store.free()
        try:
            gen = self.store.generator(req.spec.model_path).generator
            sizes = [r for r in gen.config.resolutions if r >= 8] or list(gen.config.resolutions)
            smaller = max([r for r in sizes if failed is None or r < failed] or [sizes[0]])
            if req.draft and failed is not None:
                self.draft_size(req.spec.model_path).record(failed, float("inf"))  # a ceiling for a while
            result = self._render_preview(req, resolution=smaller)
        except Exception as exc:
            if not is_oom(exc):
                log.error("preview failed after freeing memory:\n%s", traceback.format_exc())
                self.preview_failed.emit(req.id, describe_error(exc))
                return None
            self.store.free()
            self.preview_failed.emit(req.id, oom_message("Preview", self.store.device))
            return None
        result.notes.append(f"out of memory at {failed} px: memory was freed and the preview rendered at "
                            f"{result.resolution} px")
        self.notice.emit(f"Out of memory: memory was freed and the preview rendered at {result.resolution} px.")
        return result

    def _render_preview(self, req: PreviewRequest, resolution: int | None = None) -> PreviewResult:
        """Render ``req`` at ``resolution`` (default: the adaptive draft size, or full size); one frame's
        whole time (edit, "before" image, paste-back) feeds the draft-size policy."""
        spec = req.spec
        gen = self.store.generator(spec.model_path).generator
        sizer = self.draft_size(spec.model_path) if req.draft else None
        res = resolution or (sizer.pick() if sizer else gen.config.size)
        self._last_resolution = res
        t0 = time.perf_counter()
        image = render_spec(self.store, spec, res, precision=self.precision)
        before = None
        if req.want_before:
            key = spec.latent_key()
            if self._before_cache and self._before_cache[0] == key and self._before_cache[1] == res:
                before = self._before_cache[2]
            else:
                before = render_spec(self.store, spec.without_edit(), res, precision=self.precision)
                self._before_cache = (key, res, before)
        pasted = False
        if req.paste_back:
            full = paste_into_photo(self.store, spec, image)
            if full is not None:
                image, pasted = full, True
                if before is not None:
                    before = paste_into_photo(self.store, spec, before)
        result = PreviewResult(req.id, pil_to_qimage(image), None if before is None else pil_to_qimage(before),
                               res, req.draft or resolution is not None, 0.0, pasted)
        result.seconds = time.perf_counter() - t0
        if sizer is not None and resolution is None:
            sizer.record(res, result.seconds)
        return result


def _forget_foreign_thread(thread: threading.Thread) -> None:
    """Drop the placeholder ``threading`` keeps for a thread it did not start (a QThread).

    Python (before 3.13) never removes such a ``_DummyThread`` from ``threading.enumerate()``, so an
    ended worker thread would look alive forever; call this as the last thing on that thread.
    """
    if not isinstance(thread, threading._DummyThread):  # type: ignore[attr-defined]
        return
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        threading._active.pop(threading.get_ident(), None)  # type: ignore[attr-defined]
