"""Background tasks on the studio worker: in turn with the jobs, on the worker thread, never a job."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")

from desktop.worker import worker as worker_mod  # noqa: E402
from desktop.worker.client import WorkerClient  # noqa: E402
from engine.errors import UserError  # noqa: E402


@pytest.fixture
def client(qtbot):
    c = WorkerClient("cpu")
    yield c
    assert c.stop(5000), "the worker thread did not stop"


def test_a_background_task_runs_in_turn_with_the_jobs_on_the_worker_and_is_not_a_job(client, qtbot):
    order: list[tuple[str, str]] = []
    gate = threading.Event()

    def job(name):
        def fn(ctx):
            if name == "first":
                gate.wait(10)
            order.append((name, threading.current_thread().name))
            return name
        return fn

    results = []
    client.submit("first", job("first"))
    client.run_in_background("warm", lambda: order.append(("warm", threading.current_thread().name)) or 42,
                             on_done=results.append)
    client.submit("second", job("second"))
    assert [name for _i, name in client.pending_jobs()] == ["first", "second"]  # the task is not a job
    client.start()
    gate.set()
    qtbot.waitUntil(lambda: len(order) == 3 and results == [42], timeout=10_000)
    assert [name for name, _t in order] == ["first", "warm", "second"]
    assert {t for _n, t in order} == {worker_mod.THREAD_NAME}
    qtbot.waitUntil(lambda: client.pending_jobs() == [], timeout=10_000)


def test_a_failing_background_task_reports_one_line_and_the_worker_goes_on(client, qtbot):
    errors, done = [], []
    client.start()

    def bad():
        raise UserError("model.dat: not a dlib shape predictor file")

    client.run_in_background("Prepare", bad, on_error=errors.append)
    client.submit("after", lambda ctx: "ok", on_done=done.append)
    qtbot.waitUntil(lambda: done == ["ok"], timeout=10_000)
    assert errors == ["Prepare: model.dat: not a dlib shape predictor file"]
