"""package_test's install check (``make package-test-tarball``) on a fake bundle: install, verdict, uninstall."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_packaging_scripts import fake_bundle, package_test

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")


def test_install_check_passes_a_good_install_and_uninstall_removes_it(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    launcher, problems = package_test.install_for_user(bundle, home)
    assert problems == []
    assert launcher == home / ".local/bin/styledomain-studio"
    assert launcher.resolve() == (home / ".local/opt/styledomain-studio/styledomain-studio").resolve()
    assert package_test.uninstall_for_user(home) == []
    assert not launcher.is_symlink() and not (home / ".local/opt/styledomain-studio").exists()


def test_install_check_names_a_menu_entry_without_exec_or_icon(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "unpacked")
    entry = bundle / "styledomain-studio.desktop"
    lines = [line for line in entry.read_text().splitlines() if not line.startswith(("Exec=", "Icon="))]
    entry.write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    home.mkdir()
    _, problems = package_test.install_for_user(bundle, home)
    assert any("no Exec line" in p for p in problems)
    assert any("icon missing" in p for p in problems)


def test_install_check_reports_a_failing_install_script(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "unpacked")
    (bundle / "install-linux.sh").write_text("#!/bin/sh\necho 'disk full' >&2\nexit 4\n")
    home = tmp_path / "home"
    home.mkdir()
    _, problems = package_test.install_for_user(bundle, home)
    assert problems == ["install-linux.sh exit code 4: disk full"]


def test_uninstall_check_names_what_was_left(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    package_test.install_for_user(bundle, home)
    opt = home / ".local/opt/styledomain-studio"
    (opt / "install-linux.sh").write_text("#!/bin/sh\nexit 0\n")  # an uninstall that removes nothing
    left = package_test.uninstall_for_user(home)
    assert f"{opt}: left" in left and len(left) == 3
