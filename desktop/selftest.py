"""``python -m desktop --self-test [--report FILE]``: the installers' end-to-end check, headless.

Prints one JSON object (ok, versions, device, steps, max_event_loop_stall_ms, qt_warnings, window_png); each
step also has ``stall_ms``, and the maximum counts from the adaptation step on (the grab is not probed);
exit 0 only when every step passed and the GUI event loop never stalled more than 100 ms.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MAX_STALL_MS = 100.0
ADAPT_STEPS = 20


class StallProbe:
    """A 10 ms QTimer; the largest gap beyond its interval is the event loop's worst stall."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms
        self.max_stall_ms = 0.0
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.max_stall_ms = max(self.max_stall_ms, (now - self._last) * 1000 - self.interval)
        self._last = now

    def start(self) -> None:
        self._last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def wait_for(signal, timeout_s: float, predicate: Callable[..., bool] = lambda *a: True) -> tuple | None:
    """Run the event loop until ``signal`` fires with arguments passing ``predicate``; None on timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[tuple] = []

    def on(*args) -> None:
        if predicate(*args):
            got.append(args)
            loop.quit()

    signal.connect(on)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(on)
    return got[0] if got else None


def run_job(client, name: str, fn, timeout_s: float = 120.0):
    """Submit a job and wait for its end on the GUI thread; returns the result or raises RuntimeError."""
    outcome: dict = {}
    jid = client.submit(name, fn, on_done=lambda r: outcome.setdefault("ok", r),
                        on_error=lambda m: outcome.setdefault("error", m))
    wait_for(client.jobs_changed, timeout_s, lambda n: not any(j == jid for j, _ in client.pending_jobs()))
    if "error" in outcome:
        raise RuntimeError(outcome["error"])
    if "ok" not in outcome:
        raise RuntimeError(f"{name}: no result within {timeout_s:.0f} s")
    return outcome["ok"]


def shipped_direction(model_path: str, folder: Path) -> tuple[str, str]:
    """A shipped direction that fits the model, or one made in memory (saved to ``folder``)."""
    import torch

    from engine.checkpoints import load_generator
    from engine.domains.direction import Direction, load_direction, save_direction
    from engine.resources import resources_dir
    from engine.stylespace import layout_fingerprint, style_layout, total_channels

    layout = style_layout(load_generator(model_path).generator.config)
    fp = layout_fingerprint(layout)
    domains = resources_dir() / "domains"
    for p in sorted(domains.glob("*.safetensors")) if domains.is_dir() else []:
        try:
            if load_direction(p).fingerprint == fp:
                return str(p), f"apply shipped direction {p.stem}"
        except Exception:  # not a direction (e.g. a parameter delta)
            continue
    g = torch.Generator().manual_seed(7)
    values = torch.randn(total_channels(layout), generator=g) * 0.5
    for lay in layout:
        if lay.kind == "torgb":
            values[lay.offset : lay.offset + lay.channels] = 0
    path = folder / "selftest-direction.safetensors"
    save_direction(Direction(layout, values, name="selftest"), path)
    return str(path), "apply a direction made in memory (no shipped direction fits)"


def run_self_test(report: str | None = None, device: str | None = None) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QApplication

    from engine.resources import demo_model_path, resources_dir

    from .app import configure_device, versions
    from .document import EditState, Source
    from .logs import install_qt_message_handler, qt_warnings, setup_logging
    from .window import StudioWindow
    from .worker import WorkerClient
    from .worker.tasks import invert_photo_job, load_model

    work = Path(tempfile.mkdtemp(prefix="styledomain-selftest-"))
    setup_logging(work / "logs")
    install_qt_message_handler()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    steps: list[dict] = []
    probe = StallProbe()
    dev = "unknown"
    client = None
    window = None
    window_png = work / "window.png"

    measuring = [False]  # from the adaptation on, each step's stall counts (the measurement)
    measured: list[float] = []

    def step(name: str, fn: Callable[[], object]) -> object:
        """Run one step; its entry also gets the worst event-loop stall seen during it (``stall_ms``)."""
        t0 = time.perf_counter()
        probe.max_stall_ms = 0.0
        entry: dict = {"name": name}
        try:
            value = fn()
            entry["ok"] = True
            return value
        except Exception as exc:
            entry.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            return None
        finally:
            entry["seconds"] = round(time.perf_counter() - t0, 3)
            entry["stall_ms"] = round(probe.max_stall_ms, 1)
            if measuring[0]:
                measured.append(probe.max_stall_ms)
            steps.append(entry)

    try:
        dev = configure_device(device)
        client = WorkerClient(dev)
        client.start()
        from .document import Document
        from .worker.warm_up import install_detector_warm_up

        doc = Document()
        window = StudioWindow(client, doc)
        window.confirm_close = lambda: True
        window.resize(1200, 760)
        warm = install_detector_warm_up(window)
        window.show()
        probe.start()
        model = str(demo_model_path())
        info = step("load demo model", lambda: run_job(client, "load", load_model(model)))

        def render() -> None:
            doc.reset(EditState(model=info, source=Source("seed", 0)))
            if wait_for(window.preview_shown, 60) is None:
                raise RuntimeError("no preview")

        step("render", render)

        def prepare_detector() -> None:  # as the studio does after its first render (not counted: dlib holds the GIL)
            if warm.done is None and wait_for(warm.finished, 60) is None:
                raise RuntimeError("the face detector's warm-up did not finish")

        step("prepare the face detector (start-up warm-up)", prepare_detector)
        dpath, dname = shipped_direction(model, work)

        def apply_direction() -> None:
            before = window.last_preview.image
            window.open_paths([dpath])
            res = wait_for(window.preview_shown, 60, lambda r: r.id == client.latest_preview_id)
            if res is None or res[0].image == before or not doc.state.directions:
                raise RuntimeError("the direction did not change the image")

        step(dname, apply_direction)
        sample = resources_dir() / "samples" / "face-seed0.png"
        if not sample.is_file():
            sample = resources_dir() / "samples" / "astronaut.png"

        def invert() -> None:
            src = run_job(client, "invert", invert_photo_job(model, str(sample), 10))
            doc.set_source(src)

        step(f"invert {sample.name}", invert)

        def adaptation_steps() -> None:
            from .panels.adapt import AdaptRequest, adapt_job

            reference = resources_dir() / "samples" / "face-seed0-sketch.png"
            out = work / "selftest-adapted.safetensors"
            req = AdaptRequest([str(reference)], steps=ADAPT_STEPS, name="selftest", output=str(out),
                               preview_every=10, aligned=True, invert_steps=10)
            measuring[0] = True
            summary = run_job(client, "adapt", adapt_job(req, model))
            if summary.get("steps_done") != ADAPT_STEPS or not out.is_file():
                raise RuntimeError(f"adaptation ended early: {summary}")

        step(f"{ADAPT_STEPS} adaptation steps on the worker (JoJo, affine, face-seed0-sketch.png)", adaptation_steps)

        def grab() -> None:
            app.processEvents()
            probe.stop()  # the grab itself is GUI-thread work on purpose (a large window: ~0.2 s), not a stall
            try:
                if not window.grab().save(str(window_png)):
                    raise RuntimeError("could not save the window grab")
            finally:
                probe.start()

        step("grab main window", grab)
        export = work / "export.png"

        def export_and_drop() -> None:
            window.export_to(export)
            wait_for(client.jobs_changed, 60, lambda n: n == 0)
            if not export.is_file():
                raise RuntimeError("export failed")
            expected = doc.to_recipe(export).to_dict()
            doc.reset(EditState(model=info, source=Source("seed", 3)))
            mime = QMimeData()
            mime.setUrls([QUrl.fromLocalFile(str(export))])
            ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
            window.dropEvent(ev)
            wait_for(client.jobs_changed, 60, lambda n: n == 0)
            got = doc.to_recipe(export).to_dict()
            if got["latent"] != expected["latent"] or got["directions"] != expected["directions"]:
                raise RuntimeError("the dropped recipe did not restore the edit")

        step("export recipe PNG and restore it by a drop", export_and_drop)
    except Exception as exc:
        steps.append({"name": "self-test", "ok": False, "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        probe.stop()
        if window is not None:
            window.close()
        if client is not None:
            client.stop()
    stall = max(measured, default=float("inf"))  # no adaptation step: nothing was measured, not ok
    result = {"ok": all(s["ok"] for s in steps) and stall <= MAX_STALL_MS and len(steps) >= 7,
              "versions": versions(), "device": dev, "steps": steps,
              "max_event_loop_stall_ms": round(stall, 1) if measured else None, "qt_warnings": qt_warnings(),
              "window_png": str(window_png.resolve())}
    text = json.dumps(result, indent=1)
    print(text)
    if report:
        Path(report).write_text(text + "\n", encoding="utf-8")
    return 0 if result["ok"] else 1
