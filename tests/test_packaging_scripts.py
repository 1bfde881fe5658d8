"""build_spec's scripts on a fake bundle: the per-user install script, the size report, package-test's verdict."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

BUILD_SPEC = Path(__file__).resolve().parent.parent / "build_spec"
NOTICE = "This plugin does not support propagateSizeHints()"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"build_spec_{name}", BUILD_SPEC / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load("build")
package_test = load("package_test")


def fake_bundle(root: Path) -> Path:
    """A folder shaped like ``dist/styledomain-studio/`` with tiny files, as build.py lays it out."""
    bundle = root / "styledomain-studio"
    files = {"styledomain-studio": 10, "_internal/torch/lib/libtorch_cpu.so": 300,
             "_internal/nvidia/cudnn/lib/libcudnn.so.9": 500, "_internal/nvidia/nccl/lib/libnccl.so.2": 200,
             "_internal/PySide6/Qt/lib/libQt6Core.so.6": 70, "_internal/shiboken6/libshiboken6.so": 30,
             "_internal/resources/models/demo.safetensors": 40, "_internal/numpy/core.so": 25,
             "_internal/libpython3.11.so.1.0": 5}
    for rel, size in files.items():
        path = bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    (bundle / "styledomain-studio").write_text("#!/bin/sh\necho started\n")
    (bundle / "styledomain-studio").chmod(0o755)
    os.symlink("libpython3.11.so.1.0", bundle / "_internal" / "libpython3.11.so")
    build.add_desktop_files(bundle)
    return bundle


def test_size_report_sorts_files_into_parts(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    report = build.size_report(bundle, "nvidia", 1.0)
    sizes = {p.relative_to(bundle).as_posix(): p.stat().st_size for p in bundle.rglob("*")
             if p.is_file() and not p.is_symlink()}
    assert report["files"] == len(sizes)  # the symlink is not counted
    mib = 1 << 20
    assert report["parts_mib"]["nvidia"] == round(700 / mib, 1)
    assert set(report["parts_mib"]) == {"torch", "nvidia", "qt", "models", "rest"}
    assert "nvidia/cudnn" in report["largest_mib"] and "nvidia/nccl" in report["largest_mib"]
    assert report["size_mib"] == round(sum(sizes.values()) / mib, 1)


def test_size_report_parts_add_up(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    (bundle / "_internal" / "torch" / "big.bin").write_bytes(b"\0" * (3 << 20))
    report = build.size_report(bundle, "cpu", 0.0)
    assert report["parts_mib"]["torch"] == 3.0
    assert abs(sum(report["parts_mib"].values()) - report["size_mib"]) < 0.2


def run_install(bundle: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["sh", str(bundle / "install-linux.sh"), *args], env=env, capture_output=True,
                          text=True, check=True)


def test_install_script_installs_for_the_user_and_uninstall_keeps_models(tmp_path: Path) -> None:
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    bundle = fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    run_install(bundle, home)
    opt = home / ".local/opt/styledomain-studio"
    launcher = home / ".local/bin/styledomain-studio"
    assert (opt / "_internal/torch/lib/libtorch_cpu.so").is_file()
    assert launcher.resolve() == (opt / "styledomain-studio").resolve()
    assert subprocess.run([str(launcher)], capture_output=True, text=True).stdout == "started\n"
    entry = (home / ".local/share/applications/styledomain-studio.desktop").read_text()
    assert f'Exec="{opt}/styledomain-studio" %F\n' in entry and "Icon=styledomain-studio\n" in entry
    assert (home / ".local/share/icons/hicolor/256x256/apps/styledomain-studio.png").is_file()
    library = home / ".local/share/styledomain/models/mine.safetensors"
    library.parent.mkdir(parents=True)
    library.write_bytes(b"user model")
    run_install(opt, home, "--uninstall")
    assert not opt.exists() and not launcher.is_symlink()
    assert not (home / ".local/share/applications/styledomain-studio.desktop").exists()
    assert library.read_bytes() == b"user model"


def test_install_script_quotes_a_home_with_spaces_and_sed_specials(tmp_path: Path) -> None:
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    bundle = fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "my home & co|x"
    home.mkdir()
    run_install(bundle, home)
    desktop = home / ".local/share/applications/styledomain-studio.desktop"
    exec_line = next(line for line in desktop.read_text().splitlines() if line.startswith("Exec="))
    assert exec_line == f'Exec="{home}/.local/opt/styledomain-studio/styledomain-studio" %F'
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def good_report() -> dict:
    return {"ok": True, "steps": [{"name": "render", "ok": True}], "qt_warnings": [NOTICE]}


def test_package_test_passes_a_clean_run_and_ignores_only_the_offscreen_notice() -> None:
    assert package_test.find_problems(0, NOTICE + "\n", good_report()) == []
    problems = package_test.find_problems(0, "qt.qpa.xcb: could not connect to display\n", good_report())
    assert problems == ["Qt warnings on stderr: 1"]


def test_package_test_fails_on_failed_steps_exit_code_and_missing_report() -> None:
    report = good_report()
    report["steps"].append({"name": "invert", "ok": False})
    report["ok"] = False
    report["qt_warnings"].append("QPainter::begin: Paint device returned engine == 0")
    problems = package_test.find_problems(1, "", report)
    assert problems[0] == "exit code 1"
    assert "failed steps: invert" in problems and "report says ok: false" in problems
    assert any(p.startswith("Qt warnings in the report") for p in problems)
    assert package_test.find_problems(0, "", None) == ["no report written"]


def make_tar(path: Path, folder: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return path


def test_tarball_unpacks_to_one_bundle_with_its_menu_files(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    got = package_test.extract_tarball(make_tar(tmp_path / "b.tar.gz", bundle), out)
    assert got == out / "styledomain-studio"
    assert os.access(got / "styledomain-studio", os.X_OK)
    assert (got / "_internal" / "libpython3.11.so").is_symlink()


def test_tarball_without_the_install_script_is_refused(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "src")
    (bundle / "install-linux.sh").unlink()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match="install-linux.sh"):
        package_test.extract_tarball(make_tar(tmp_path / "b.tar.gz", bundle), out)
