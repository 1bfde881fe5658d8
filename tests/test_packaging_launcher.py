"""The frozen launcher's logic, without a bundle: the xcb system-library check and the start-up marks flag."""

from __future__ import annotations

import ctypes
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUILD_SPEC = Path(__file__).resolve().parent.parent / "build_spec"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"build_spec_{name}", BUILD_SPEC / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checks = load("launcher_checks")
marks_module = load("startup_marks")


def fake_loader(absent: set[str]):
    """A ``ctypes.CDLL`` stand-in: raises OSError for the names in ``absent``, records every call."""
    calls: list[str] = []

    def loader(name: str) -> object:
        calls.append(name)
        if name in absent:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()

    loader.calls = calls
    return loader


def test_missing_libraries_names_each_absent_file_and_its_package() -> None:
    loader = fake_loader({"libxcb-cursor.so.0", "libxkbcommon-x11.so.0"})
    missing = checks.missing_libraries(checks.XCB_LIBRARIES, loader)
    assert missing == {"libxcb-cursor.so.0": "libxcb-cursor0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0"}
    assert set(loader.calls) == set(checks.XCB_LIBRARIES)  # every library was tried


def test_a_library_inside_the_bundle_counts_as_present(tmp_path: Path) -> None:
    (tmp_path / "libxcb-cursor.so.0").write_bytes(b"\x7fELF")
    loader = fake_loader({"libxcb-cursor.so.0", "libEGL.so.1"})
    assert checks.missing_libraries(checks.XCB_LIBRARIES, loader, [tmp_path]) == {"libEGL.so.1": "libegl1"}


def test_real_dlopen_reports_a_library_that_does_not_exist() -> None:
    libs = {"libstyledomain-no-such-library.so.7": "no-such-package", "libc.so.6": "libc6"}
    assert checks.missing_libraries(libs, ctypes.CDLL) == {"libstyledomain-no-such-library.so.7": "no-such-package"}


@pytest.mark.parametrize(("platform", "env", "argv", "expected"), [
    ("linux", {"QT_QPA_PLATFORM": "offscreen"}, [], False),
    ("linux", {"QT_QPA_PLATFORM": "xcb"}, [], True),
    ("linux", {"QT_QPA_PLATFORM": "xcb:foo"}, [], True),
    ("linux", {"DISPLAY": ":0"}, [], True),
    ("linux", {}, [], True),  # Qt's default on Linux is xcb
    ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, [], False),
    ("linux", {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, [], True),
    ("linux", {}, ["--self-test"], False),  # headless self-test: offscreen fallback
    ("linux", {"DISPLAY": ":0"}, ["--self-test"], True),
    ("win32", {"QT_QPA_PLATFORM": "xcb"}, [], False),
])
def test_uses_xcb(platform: str, env: dict, argv: list, expected: bool) -> None:
    assert checks.uses_xcb(platform, env, ["styledomain-studio", *argv]) is expected


def test_no_check_when_xcb_is_not_used() -> None:
    loader = fake_loader(set(checks.XCB_LIBRARIES))
    assert checks.missing_xcb_libraries("linux", {"QT_QPA_PLATFORM": "offscreen"}, ["x"], loader) == {}
    assert loader.calls == []
    assert len(checks.missing_xcb_libraries("linux", {"DISPLAY": ":1"}, ["x"], loader)) == len(checks.XCB_LIBRARIES)


def test_message_names_files_and_one_install_command() -> None:
    text = checks.missing_message({"libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4"})
    assert "libxcb-cursor.so.0" in text and "libxcb-icccm.so.4" in text
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4\n" in text


def test_tell_user_opens_a_dialog_only_without_a_terminal_and_with_a_display(capsys) -> None:
    ran: list[list[str]] = []
    only_xmessage = {"xmessage": "/usr/bin/xmessage"}.get
    tool = checks.tell_user("missing libfoo", env={"DISPLAY": ":0"}, which=only_xmessage,
                            run=lambda cmd, **kw: ran.append(cmd))
    assert tool == "xmessage" and ran == [["xmessage", "-center", "missing libfoo"]]
    assert "missing libfoo" in capsys.readouterr().err
    ran.clear()
    assert checks.tell_user("missing libfoo", env={}, which=only_xmessage, run=lambda c, **k: ran.append(c)) is None
    assert ran == []


@pytest.mark.parametrize(("argv", "report", "rest"), [
    (["--startup-report", "s.json", "model.pt"], Path("s.json"), ["model.pt"]),
    (["--device", "cpu", "--startup-report=s.json"], Path("s.json"), ["--device", "cpu"]),
    (["model.pt", "--device", "cpu"], None, ["model.pt", "--device", "cpu"]),
])
def test_startup_flag_is_taken_off_the_command_line(argv: list, report: Path | None, rest: list) -> None:
    assert marks_module.take_flag(argv) == (report, rest)


def test_from_argv_edits_argv_in_place(tmp_path: Path) -> None:
    argv = ["styledomain-studio", "--startup-report", str(tmp_path / "s.json"), "--device", "cpu"]
    collector = marks_module.from_argv(argv)
    assert argv == ["styledomain-studio", "--device", "cpu"]
    assert collector.report == tmp_path / "s.json"
    assert marks_module.from_argv(["styledomain-studio"]) is None


def test_marks_are_written_relative_to_process_start(tmp_path: Path) -> None:
    collector = marks_module.StartupMarks(tmp_path / "s.json")
    collector.marks.update({"process_start": 100.0, "launcher": 100.5})
    collector.marks.update({"window_painted": 102.0, "first_render": 102.25})
    assert collector.done()
    collector.write(complete=True)
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["complete"] is True
    assert data["since_process_start_s"] == {"process_start": 0.0, "launcher": 0.5, "window_painted": 2.0,
                                             "first_render": 2.25}


def test_process_start_time_of_a_fresh_process_is_just_before_now() -> None:
    code = (f"import sys, time; sys.path.insert(0, {str(BUILD_SPEC)!r}); import startup_marks; "
            "print(startup_marks.process_start_time(), time.time())")
    before = time.time()
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    start, now = map(float, out.split())
    assert before - 0.05 <= start <= now  # /proc's start time has 10 ms ticks
