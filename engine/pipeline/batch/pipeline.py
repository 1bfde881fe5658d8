"""An overlapped three-stage pipeline with bounded queues, independent of what the stages do.

::

    feeder ──> [jobs] ──> prepare (CPU workers, N threads) ──> [prepared] ──> process (the calling
    thread: the device, batches of up to B) ──> [results] ──> finish (writer threads) ──> on_done

Every queue is bounded, so at most about ``2 N + 3 B + 2 W`` items are in flight whatever the number of
jobs: memory stays flat. A stage that raises for one item (any ``Exception``) fails that item only:
``on_failed(job, exc)`` is called and the run goes on. ``process`` gets a list and returns one result
or exception per item; when it raises for a whole batch of several items, each item is retried alone
so that the failure is pinned on the item that causes it. ``BaseException`` (e.g. ``KeyboardInterrupt``)
and a set :class:`~engine.jobs.CancelToken` stop every thread; :func:`run_pipeline` then raises
:class:`~engine.jobs.Cancelled` (for a cancel) or re-raises. A stage that raises ``Cancelled`` (it was handed the
run's token) stops the run the same way: that item is neither done nor failed. Busy seconds are summed per stage
(across threads), for ``stage_seconds`` and the benchmark.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.jobs import Cancelled, CancelToken

_END = object()
_POLL = 0.05


@dataclass
class Stages:
    """The three stage callables. ``process`` may return an ``Exception`` instance for a failed item."""

    prepare: Callable[[Any], Any]
    process: Callable[[list[Any]], list[Any]]
    finish: Callable[[Any, Any], Any]
    names: tuple[str, str, str] = ("prepare", "process", "finish")


@dataclass
class PipelineStats:
    """Busy seconds per stage (summed over threads) and the wall-clock length of the run."""

    busy: dict[str, float] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    wall: float = 0.0

    def add(self, stage: str, seconds: float, items: int = 1) -> None:
        self.busy[stage] = self.busy.get(stage, 0.0) + seconds
        self.items[stage] = self.items.get(stage, 0) + items


class _Stop(Exception):
    pass


class _Run:
    def __init__(self, stages: Stages, workers: int, writers: int, batch: int, cancel: CancelToken | None,
                 on_done: Callable[[Any, Any], None], on_failed: Callable[[Any, BaseException], None]):
        self.stages, self.workers, self.writers, self.batch = stages, workers, writers, batch
        self.cancel = cancel
        self.on_done, self.on_failed = on_done, on_failed
        self.jobs: queue.Queue = queue.Queue(maxsize=2 * workers)
        self.prepared: queue.Queue = queue.Queue(maxsize=2 * batch + workers)
        self.results: queue.Queue = queue.Queue(maxsize=batch + writers)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.stats = PipelineStats(busy={n: 0.0 for n in stages.names}, items={n: 0 for n in stages.names})
        self._stats_lock = threading.Lock()
        self._report_lock = threading.Lock()

    # ---- helpers ------------------------------------------------------------------------------------
    def stopping(self) -> bool:
        return self.stop.is_set() or (self.cancel is not None and self.cancel.cancelled)

    def put(self, q: queue.Queue, item) -> None:
        while True:
            if self.stopping() and item is not _END:
                raise _Stop
            try:
                q.put(item, timeout=_POLL)
                return
            except queue.Full:  # a full queue when the run stops (cancel included): its consumer may be gone
                if self.stopping():
                    raise _Stop from None

    def get(self, q: queue.Queue, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.stop.is_set():
                raise _Stop
            wait = _POLL if deadline is None else min(_POLL, max(0.0, deadline - time.monotonic()))
            try:
                return q.get(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue

    def timed(self, stage: str, fn, *args, items: int = 1):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            with self._stats_lock:
                self.stats.add(stage, time.perf_counter() - t0, items)

    def fail(self, job, exc: BaseException) -> None:
        with self._report_lock:
            self.on_failed(job, exc)

    def done(self, job, value) -> None:
        with self._report_lock:
            self.on_done(job, value)

    def guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except _Stop:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                if self.error is None:
                    self.error = exc
                self.stop.set()
        return run

    # ---- stage bodies ---------------------------------------------------------------------------------
    def feed(self, jobs: Iterable) -> None:
        try:
            for job in jobs:
                self.put(self.jobs, job)
        finally:
            for _ in range(self.workers):
                self.put(self.jobs, _END)

    def work(self) -> None:
        name = self.stages.names[0]
        try:
            while True:
                job = self.get(self.jobs)
                if job is _END:
                    return
                if self.stopping():
                    raise _Stop
                try:
                    item = self.timed(name, self.stages.prepare, job)
                except Cancelled:  # the run's cancel, not this input's fault: it stays not started
                    raise _Stop from None
                except Exception as exc:  # noqa: BLE001 - one bad input fails alone
                    self.fail(job, exc)
                    continue
                self.put(self.prepared, (job, item))
        finally:
            self.put(self.prepared, _END)

    def device(self) -> None:
        name = self.stages.names[1]
        ended = 0
        try:
            while ended < self.workers:
                first = self.get(self.prepared)
                if first is _END:
                    ended += 1
                    continue
                batch = [first]
                while len(batch) < self.batch and ended < self.workers:
                    try:
                        nxt = self.prepared.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _END:
                        ended += 1
                    else:
                        batch.append(nxt)
                if self.stopping():
                    raise _Stop
                for (job, _), out in zip(batch, self.process(name, batch), strict=True):
                    if isinstance(out, BaseException):
                        self.fail(job, out)
                    else:
                        self.put(self.results, (job, out))
        finally:
            for _ in range(self.writers):
                self.put(self.results, _END)

    def process(self, name: str, batch: list) -> list:
        items = [item for _, item in batch]
        try:
            out = self.timed(name, self.stages.process, items, items=len(items))
            self.stats.batches += 1
            if len(out) != len(items):
                raise RuntimeError(f"process stage returned {len(out)} results for {len(items)} items")
            return out
        except Cancelled:
            raise _Stop from None
        except Exception as exc:  # noqa: BLE001
            if len(items) == 1:
                return [exc]
        return [self.process(name, [b])[0] for b in batch]  # pin the failure on its item

    def write(self) -> None:
        name = self.stages.names[2]
        while True:
            got = self.get(self.results)
            if got is _END:
                return
            job, value = got
            if self.stopping():
                raise _Stop
            try:
                out = self.timed(name, self.stages.finish, job, value)
            except Cancelled:
                raise _Stop from None
            except Exception as exc:  # noqa: BLE001
                self.fail(job, exc)
                continue
            self.done(job, out)


def run_pipeline(jobs: Iterable, stages: Stages, *, workers: int = 2, writers: int = 1, batch: int = 4,
                 on_done: Callable[[Any, Any], None], on_failed: Callable[[Any, BaseException], None],
                 cancel: CancelToken | None = None) -> PipelineStats:
    """Run ``jobs`` through ``stages`` (see the module docstring); ``process`` runs on the calling thread.

    ``on_done``/``on_failed`` are called under one lock, from any thread. Raises :class:`Cancelled` when
    ``cancel`` was set (items already finished were reported).
    """
    if workers < 1 or writers < 1 or batch < 1:
        raise ValueError("workers, writers and batch must be >= 1")
    run = _Run(stages, workers, writers, batch, cancel, on_done, on_failed)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=run.guard(lambda: run.feed(jobs)), name="batch-feed", daemon=True)]
    threads += [threading.Thread(target=run.guard(run.work), name=f"batch-prepare-{i}", daemon=True)
                for i in range(workers)]
    threads += [threading.Thread(target=run.guard(run.write), name=f"batch-write-{i}", daemon=True)
                for i in range(writers)]
    for t in threads:
        t.start()
    try:
        run.guard(run.device)()
    except BaseException:
        run.stop.set()
        raise
    finally:
        if run.stopping():
            run.stop.set()
        for t in threads:
            t.join()
        run.stats.wall = time.perf_counter() - t0
    if run.error is not None:
        raise run.error
    if cancel is not None and cancel.cancelled:
        raise Cancelled("batch")
    return run.stats
