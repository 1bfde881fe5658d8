"""The studio worker's contract (pytest-qt, offscreen): latest-wins previews, cancel, errors, OOM, teardown."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("PySide6")

import torch  # noqa: E402

from desktop.worker import worker as worker_mod  # noqa: E402
from desktop.worker.client import WorkerClient  # noqa: E402
from desktop.worker.preview_size import AdaptiveDraftSize  # noqa: E402
from desktop.worker.requests import PreviewResult, RenderSpec  # noqa: E402
from engine.resources import demo_model_path  # noqa: E402


@pytest.fixture
def client(qtbot):
    c = WorkerClient("cpu")
    c.start()
    yield c
    assert c.stop(5000), "the worker thread did not stop"
    assert not c.thread.isRunning()
    assert not [t for t in threading.enumerate() if t.name == worker_mod.THREAD_NAME]


def fake_render(worker, delay: float = 0.0):
    def render(req, resolution=None):
        time.sleep(delay)
        return PreviewResult(req.id, None, resolution=resolution or 64)

    worker._render_preview = render


def test_latest_request_wins_and_stale_results_are_dropped(client, qtbot):
    fake_render(client.worker)
    gate = threading.Event()
    client.submit("block", lambda ctx: gate.wait(5), interleave_previews=False)
    got = []
    client.preview_ready.connect(lambda r: got.append(r.id))
    ids = [client.request_preview(RenderSpec("unused")) for _ in range(20)]
    gate.set()
    qtbot.waitUntil(lambda: got == [ids[-1]], timeout=5000)
    assert client.worker.slot.replaced == len(ids) - 1


def test_cancel_of_a_running_job_is_relayed_and_previews_still_served(client, qtbot):
    fake_render(client.worker)

    def spin(ctx):
        while True:
            ctx.checkpoint()
            time.sleep(0.01)

    jid = client.submit("spin", spin)
    qtbot.waitUntil(lambda: client.worker.busy(), timeout=2000)
    with qtbot.waitSignal(client.preview_ready, timeout=2000):  # served while the job runs (interleave)
        client.request_preview(RenderSpec("unused"))
    with qtbot.waitSignal(client.job_cancelled, timeout=1000, check_params_cb=lambda j: j == jid):
        client.cancel(jid)
    with qtbot.waitSignal(client.preview_ready, timeout=2000):
        client.request_preview(RenderSpec("unused"))


def test_a_job_exception_becomes_an_error_signal_and_the_worker_goes_on(client, qtbot):
    with qtbot.waitSignal(client.error, timeout=2000) as blocker:
        client.submit("boom", lambda ctx: 1 / 0)
    assert "ZeroDivisionError" in blocker.args[0]
    with qtbot.waitSignal(client.job_finished, timeout=2000) as done:
        client.submit("ok", lambda ctx: 42)
    assert done.args[1] == 42


def test_progress_is_throttled(client, qtbot):
    got = []
    client.job_progress.connect(got.append)
    from engine.jobs import Progress

    def fast(ctx):
        t0 = time.monotonic()
        for i in range(2000):
            ctx.progress(Progress("fast", i, 2000))
            time.sleep(0.0002)
        return time.monotonic() - t0

    with qtbot.waitSignal(client.job_finished, timeout=10000) as done:
        client.submit("fast", fast)
    qtbot.wait(50)
    elapsed = done.args[1]
    assert 1 <= len(got) <= elapsed / worker_mod.PROGRESS_INTERVAL_S + 2


def test_preview_oom_is_retried_once_smaller(client, qtbot, monkeypatch):
    calls = []
    real = worker_mod.render_spec

    def flaky(store, spec, res=None, precision="fp32"):
        calls.append(res)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real(store, spec, res, precision)

    monkeypatch.setattr(worker_mod, "render_spec", flaky)
    with qtbot.waitSignal(client.preview_ready, timeout=20000) as got:
        client.request_preview(RenderSpec(str(demo_model_path()), seed=1))
    assert calls[1] < calls[0] and got.args[0].resolution == calls[1]


def test_stop_cancels_a_running_job_and_joins(qtbot):
    c = WorkerClient("cpu")
    c.start()

    def spin(ctx):
        while True:
            ctx.checkpoint()
            time.sleep(0.01)

    c.submit("spin", spin)
    qtbot.waitUntil(lambda: c.worker.busy(), timeout=2000)
    assert c.stop(2000)
    assert not c.thread.isRunning()


def test_draft_size_policy_converges_to_the_budget():
    sizes = [8, 16, 32, 64, 128, 256]
    cost = {r: 0.002 + (r / 64) ** 2 * 0.05 for r in sizes}  # 128 px: 0.202 s, over the 0.150 s budget
    s = AdaptiveDraftSize(sizes)
    for _ in range(10):
        r = s.pick()
        s.record(r, cost[r])
    assert s.pick() == 64
    s.record(64, 1.0)  # the machine got busy: step down at once
    assert s.pick() < 64
