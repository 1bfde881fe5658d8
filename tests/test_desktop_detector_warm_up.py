"""The face detector warms up once, on the worker, after the first render; a photo open then reuses it."""

from __future__ import annotations

import shutil
import threading

import pytest
from PySide6.QtCore import QSettings

pytest.importorskip("dlib")

from desktop.document import Document  # noqa: E402
from desktop.window import StudioWindow  # noqa: E402
from desktop.worker import WorkerClient  # noqa: E402
from desktop.worker.warm_up import WARM_UP_MESSAGE, install_detector_warm_up  # noqa: E402
from desktop.worker.worker import THREAD_NAME  # noqa: E402
from engine.alignment import dlib_detector as dd  # noqa: E402
from engine.alignment.models import packaged_predictor_path  # noqa: E402
from engine.resources import demo_model_path, resources_dir  # noqa: E402

WAIT_MS = 120_000

if packaged_predictor_path() is None:
    pytest.skip("face_recognition_models is not installed", allow_module_level=True)


@pytest.fixture
def loads(monkeypatch):
    """Fresh model cache; each predictor load records the name of the thread it ran on."""
    import dlib

    monkeypatch.setattr(dd, "_MODELS", {})
    seen: list[str] = []
    real = dlib.shape_predictor
    monkeypatch.setattr(dlib, "shape_predictor", lambda p: seen.append(threading.current_thread().name) or real(p))
    return seen


@pytest.fixture
def studio(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    client = WorkerClient("cpu")
    client.start()
    win = StudioWindow(client, Document(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win.confirm_close = lambda: True
    qtbot.addWidget(win)
    messages: list[str] = []
    win.statusBar().messageChanged.connect(messages.append)
    win.status_messages = messages
    yield win
    win.close()
    assert client.stop(), "the worker thread did not stop"


def _open_photo(win, qtbot, tmp_path) -> None:
    photo = tmp_path / "astronaut.png"  # not square: the photo open must detect the face
    shutil.copy(resources_dir() / "samples" / "astronaut.png", photo)
    win.open_paths([photo])
    qtbot.waitUntil(lambda: win.document.state.source.kind == "photo", timeout=WAIT_MS)
    assert win.document.state.source.alignment is not None


def test_warm_up_runs_on_the_worker_once_and_the_photo_open_reuses_it(studio, qtbot, loads, tmp_path):
    warm = install_detector_warm_up(studio, delay_ms=10)
    assert loads == [] and not dd.models_loaded()
    with qtbot.waitSignal(warm.finished, timeout=WAIT_MS) as done:
        studio.open_model(demo_model_path())  # its first preview starts the warm-up
    assert done.args == [True] and warm.done is True
    assert loads == [THREAD_NAME] and THREAD_NAME != threading.main_thread().name
    assert WARM_UP_MESSAGE in studio.status_messages  # said before the load, cleared after
    assert studio.statusBar().currentMessage() != WARM_UP_MESSAGE
    assert studio.client.pending_jobs() == []  # never a job: no job bar, no quit question
    _open_photo(studio, qtbot, tmp_path)
    assert loads == [THREAD_NAME]  # the photo open did not load the models again
    studio.open_model(demo_model_path())
    qtbot.waitUntil(lambda: studio.client.pending_jobs() == [], timeout=WAIT_MS)
    qtbot.wait(200)
    assert loads == [THREAD_NAME]  # later previews do not warm up again


def test_a_photo_opened_before_the_warm_up_loads_the_models_once(studio, qtbot, loads, tmp_path):
    warm = install_detector_warm_up(studio, delay_ms=3_600_000)  # the photo comes first
    studio.open_model(demo_model_path())
    qtbot.waitUntil(lambda: studio.last_preview is not None, timeout=WAIT_MS)
    assert WARM_UP_MESSAGE in studio.status_messages
    _open_photo(studio, qtbot, tmp_path)
    assert loads == [THREAD_NAME] and warm.task_id is None  # the photo's job loaded the models
    warm._submit()  # what the delay's timer does
    qtbot.waitUntil(lambda: warm.done is not None, timeout=WAIT_MS)
    assert warm.done is True and loads == [THREAD_NAME]  # the late warm-up found them loaded
