"""Autosave and crash recovery (desktop.autosave), offscreen with pytest-qt."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt  # noqa: E402

from desktop.autosave import (  # noqa: E402
    AUTOSAVE_NAME,
    IDLE_ENV,
    IDLE_MS,
    RECOVER_NAME,
    autosave_dir,
    idle_delay_ms,
    install_autosave,
)
from desktop.document import Document  # noqa: E402
from desktop.project_actions import install_project  # noqa: E402
from desktop.window import StudioWindow  # noqa: E402
from desktop.worker.client import WorkerClient  # noqa: E402
from engine.pipeline.project import load_project  # noqa: E402
from engine.resources import demo_model_path  # noqa: E402


@pytest.fixture
def make_window(qtbot, tmp_path):
    made = []

    def make() -> StudioWindow:
        client = WorkerClient("cpu")
        client.start()
        settings = QSettings(str(tmp_path / f"studio{len(made)}.ini"), QSettings.Format.IniFormat)
        win = StudioWindow(client, Document(), settings)
        win.confirm_close = lambda: True
        qtbot.addWidget(win)
        made.append(client)
        return win

    yield make
    for client in made:
        assert client.stop(), "the worker thread did not stop"


def _with_model(win, qtbot) -> None:
    win.open_model(demo_model_path())
    qtbot.waitUntil(lambda: win.document.state.model is not None, timeout=30_000)


def test_autosave_dir_follows_styledomain_home(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    assert autosave_dir() == tmp_path / "lib" / "autosave"


def test_idle_delay_comes_from_the_environment_only_when_it_is_sane(monkeypatch):
    monkeypatch.delenv(IDLE_ENV, raising=False)
    assert idle_delay_ms() == IDLE_MS == 2000
    for text, want in (("50", 50), ("0", IDLE_MS), ("-3", IDLE_MS), ("soon", IDLE_MS), ("9999999", IDLE_MS)):
        monkeypatch.setenv(IDLE_ENV, text)
        assert idle_delay_ms() == want, text


def test_a_change_is_autosaved_after_idle_and_a_clean_exit_removes_it(make_window, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    win = make_window()
    saver = install_autosave(win, folder, idle_ms=50)
    assert saver.enabled and not saver.bar.isVisible()
    _with_model(win, qtbot)
    qtbot.wait(150)
    assert not (folder / AUTOSAVE_NAME).exists()  # nothing unsaved yet: nothing written
    with qtbot.waitSignal(saver.saved, timeout=5_000):
        win.document.set_strength(0.37)
    project = load_project(folder / AUTOSAVE_NAME)
    assert project.recipe.strength == pytest.approx(0.37) and project.studio["autosave"] is True
    win.close()
    assert not (folder / AUTOSAVE_NAME).exists()
    assert not (folder / RECOVER_NAME).exists()


def test_saving_the_project_removes_the_autosave_and_never_writes_the_users_file(make_window, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    win = make_window()
    acts = install_project(win) if getattr(win, "project_actions", None) is None else win.project_actions
    saver = install_autosave(win, folder, idle_ms=50)
    _with_model(win, qtbot)
    win.document.set_strength(0.5)
    mine = tmp_path / "mine.sdproj"
    assert acts.save_to(mine)
    before = mine.read_bytes()
    with qtbot.waitSignal(saver.saved, timeout=5_000):
        win.document.set_strength(0.8)
    assert (folder / AUTOSAVE_NAME).is_file() and mine.read_bytes() == before
    assert load_project(folder / AUTOSAVE_NAME).studio["project_path"] == str(mine)
    assert acts.save_to(mine)  # clean again: the autosave goes
    assert not (folder / AUTOSAVE_NAME).exists()


def _crashed_session(make_window, qtbot, folder, strength: float) -> None:
    """A session that autosaved and then ended without a clean exit (its lock released as by a dead process)."""
    win = make_window()
    saver = install_autosave(win, folder, idle_ms=50)
    _with_model(win, qtbot)
    with qtbot.waitSignal(saver.saved, timeout=5_000):
        win.document.set_strength(strength)
    saver.enabled = False  # this session is "dead": it writes nothing more
    saver.lock.unlock()


def test_after_an_unclean_exit_the_banner_offers_recovery_and_recover_opens_it(make_window, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    _crashed_session(make_window, qtbot, folder, 0.42)
    win = make_window()
    win.show()
    saver = install_autosave(win, folder, idle_ms=50)
    assert saver.bar.isVisible() and "Recover the last session?" in saver.bar.label.text()
    assert (folder / RECOVER_NAME).is_file() and not (folder / AUTOSAVE_NAME).exists()
    _with_model(win, qtbot)  # the start went on without waiting for an answer
    with qtbot.waitSignal(saver.recovered, timeout=30_000):
        qtbot.mouseClick(saver.bar.recover, Qt.MouseButton.LeftButton)
    assert win.document.state.strength == pytest.approx(0.42)
    assert win.project_actions.path is None  # an untitled edit: Save asks for a name
    assert not win.document.undo_stack.isClean()
    assert not saver.bar.isVisible() and not (folder / RECOVER_NAME).exists()
    with qtbot.waitSignal(saver.saved, timeout=5_000):
        pass  # the recovered edit is unsaved, so it is autosaved again
    win.close()


def test_discard_deletes_the_last_session(make_window, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    _crashed_session(make_window, qtbot, folder, 0.3)
    win = make_window()
    win.show()
    saver = install_autosave(win, folder, idle_ms=50)
    assert saver.bar.isVisible()
    qtbot.mouseClick(saver.bar.discard, Qt.MouseButton.LeftButton)
    assert not saver.bar.isVisible() and not (folder / RECOVER_NAME).exists()
    assert win.document.state.strength == 1.0


def test_an_unanswered_recovery_survives_this_sessions_autosaves(make_window, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    _crashed_session(make_window, qtbot, folder, 0.25)
    win = make_window()
    saver = install_autosave(win, folder, idle_ms=50)
    _with_model(win, qtbot)
    with qtbot.waitSignal(saver.saved, timeout=5_000):
        win.document.set_strength(0.9)
    assert load_project(folder / RECOVER_NAME).recipe.strength == pytest.approx(0.25)
    win.close()
    assert (folder / RECOVER_NAME).is_file()  # still on offer at the next start


def test_a_second_running_studio_does_not_take_the_first_ones_autosave(make_window, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    first = make_window()
    s1 = install_autosave(first, folder, idle_ms=50)
    _with_model(first, qtbot)
    with qtbot.waitSignal(s1.saved, timeout=5_000):
        first.document.set_strength(0.6)
    second = make_window()
    s2 = install_autosave(second, folder, idle_ms=50)
    assert not s2.enabled and not s2.bar.isVisible()
    assert (folder / AUTOSAVE_NAME).is_file() and not (folder / RECOVER_NAME).exists()


CHILD = '''
import os, sys, time
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from desktop.app import load_settings, open_studio
from engine.resources import demo_model_path

app = QApplication(sys.argv[:1])
win = open_studio(demo_model_path(), "cpu", "fp32", load_settings(QSettings(sys.argv[1], QSettings.Format.IniFormat)))


def wait(cond):
    end = time.monotonic() + 60
    while not cond():
        if time.monotonic() > end:
            sys.exit(9)
        app.processEvents()
        time.sleep(0.01)


wait(lambda: win.document.state.model is not None)
if sys.argv[2] == "crash":
    saved = []
    win.autosaver.saved.connect(saved.append)
    win.document.set_strength(0.33)
    wait(lambda: bool(saved))
    os._exit(3)  # no clean exit: nothing is cleaned up, the lock's process is gone
print("offered" if not win.autosaver.bar.isHidden() else "not offered", flush=True)
os._exit(0)
'''


def test_a_real_crash_is_offered_for_recovery_at_the_next_start(tmp_path):
    """Two real processes: the first is killed after an autosave; the second offers it (QLockFile finds the
    first one's lock stale)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root), STYLEDOMAIN_HOME=str(tmp_path / "lib"),
               STYLEDOMAIN_AUTOSAVE_IDLE_MS="50")  # the idle delay of a real start, shortened
    run = [sys.executable, str(child), str(tmp_path / "studio.ini")]
    first = subprocess.run(run + ["crash"], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 3, first.stderr[-2000:]
    assert (tmp_path / "lib" / "autosave" / AUTOSAVE_NAME).is_file()
    second = subprocess.run(run + ["start"], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and second.stdout.strip() == "offered", second.stderr[-2000:]
    assert load_project(tmp_path / "lib" / "autosave" / RECOVER_NAME).recipe.strength == pytest.approx(0.33)
