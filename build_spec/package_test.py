"""Prove the built bundle: ``python build_spec/package_test.py`` (``make package-test``).

Copies ``dist/styledomain-studio/`` (as hard links) to a temporary folder outside the checkout, then runs the
frozen app's ``--self-test`` there offscreen, with an empty home and library, without network
(``unshare -rn`` or ``unshare -n`` where available), under a time limit. Fails on a non-zero exit, any failed
step, any Qt warning in the report or on stderr, or a missing report. With ``--tarball FILE`` it unpacks the
``.tar.gz`` there instead and checks it holds the menu entry, icon and install script; on Linux it then installs it
with ``install-linux.sh`` into a temporary ``~/.local``, checks the launcher link and the menu entry, self-tests the
installed launcher and uninstalls it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_WARNING = re.compile(r"^(qt\.|Q[A-Z]\w+::|QObject|QWidget|QPainter|QStandardPaths|Warning:|This plugin does not)",
                        re.M)
#: what Qt's offscreen platform says about itself on every window (not a problem of the app)
OFFSCREEN_NOTICES = ("This plugin does not support propagateSizeHints()",)


def no_network_prefix() -> list[str]:
    """The ``unshare`` call that removes the network here, or [] (with a notice) where none works."""
    for prefix in (["unshare", "-rn"], ["unshare", "-n"]):
        if shutil.which(prefix[0]) and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    print("package-test: note: cannot remove the network here (no usable unshare); running with it")
    return []


def find_problems(returncode: int, stderr: str, report: dict | None) -> list[str]:
    """Why a self-test run fails: exit code, Qt warnings (stderr or report), failed steps, no report."""
    problems = []
    if returncode != 0:
        problems.append(f"exit code {returncode}")
    warnings = [w for w in QT_WARNING.findall(stderr) if not any(n.startswith(w) for n in OFFSCREEN_NOTICES)]
    if warnings:
        problems.append(f"Qt warnings on stderr: {len(warnings)}")
    if report is None:
        problems.append("no report written")
        return problems
    failed = [s["name"] for s in report.get("steps", []) if not s.get("ok")]
    if failed:
        problems.append(f"failed steps: {', '.join(failed)}")
    qt_warnings = [w for w in report.get("qt_warnings", []) if w not in OFFSCREEN_NOTICES]
    if qt_warnings:
        problems.append(f"Qt warnings in the report: {qt_warnings[:3]}")
    if not report.get("ok"):
        problems.append("report says ok: false")
    return problems


def copy_bundle(bundle: Path, dest: Path) -> Path:
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    target = dest / bundle.name
    shutil.copytree(bundle, target, symlinks=True, copy_function=link)
    return target


#: what the Linux tarball must hold beside the bundle's executable
TARBALL_FILES = ("styledomain-studio.desktop", "styledomain-studio.png", "install-linux.sh")


def extract_tarball(tarball: Path, dest: Path) -> Path:
    """Unpack the ``.tar.gz`` into ``dest`` (tarfile's safe ``data`` filter); returns the bundle folder."""
    with tarfile.open(tarball, "r:gz") as tar:
        top = {m.name.split("/", 1)[0] for m in tar.getmembers()}
        if len(top) != 1:
            raise ValueError(f"{tarball}: expected one top folder, found {sorted(top)[:5]}")
        tar.extractall(dest, filter="data")
    bundle = dest / top.pop()
    absent = [name for name in TARBALL_FILES if not (bundle / name).is_file()]
    if absent:
        raise ValueError(f"{tarball}: missing {', '.join(absent)}")
    return bundle


def install_for_user(bundle: Path, home: Path) -> tuple[Path, list[str]]:
    """Run the bundle's ``install-linux.sh`` with ``HOME=home``; the installed launcher and what is wrong.

    Checks the launcher link in ``~/.local/bin``, the menu entry's Exec and Icon lines (and
    ``desktop-file-validate`` where installed) and the icon."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.run(["sh", str(bundle / "install-linux.sh")], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return Path(), [f"install-linux.sh exit code {proc.returncode}: {proc.stderr.strip()[-300:]}"]
    opt_app = home / ".local" / "opt" / "styledomain-studio" / "styledomain-studio"
    launcher = home / ".local" / "bin" / "styledomain-studio"
    entry = home / ".local" / "share" / "applications" / "styledomain-studio.desktop"
    icon = home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "styledomain-studio.png"
    problems = []
    if not (launcher.is_symlink() and launcher.resolve() == opt_app.resolve() and os.access(opt_app, os.X_OK)):
        problems.append(f"{launcher}: not a link to the installed {opt_app}")
    lines = entry.read_text(encoding="utf-8").splitlines() if entry.is_file() else []
    if f'Exec="{opt_app}" %F' not in lines:
        problems.append(f"{entry}: no Exec line for {opt_app}")
    if "Icon=styledomain-studio" not in lines or not icon.is_file():
        problems.append(f"{entry}: icon missing")
    if lines and shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        if check.returncode != 0:
            problems.append(f"{entry}: desktop-file-validate: {(check.stdout + check.stderr).strip()[-300:]}")
    return launcher, problems


def uninstall_for_user(home: Path) -> list[str]:
    """``install-linux.sh --uninstall`` of the installed copy; what it left behind."""
    opt = home / ".local" / "opt" / "styledomain-studio"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.run(["sh", str(opt / "install-linux.sh"), "--uninstall"], env=env, capture_output=True,
                          text=True)
    left = [p for p in (opt, home / ".local" / "bin" / "styledomain-studio",
                        home / ".local" / "share" / "applications" / "styledomain-studio.desktop")
            if p.exists() or p.is_symlink()]
    return ([f"uninstall exit code {proc.returncode}"] if proc.returncode else []) + [f"{p}: left" for p in left]


def self_test(app: Path, tmp_path: Path, timeout: float) -> int:
    """Run the bundle's ``--self-test`` offscreen, no network, empty home; print the summary; 0 when it passed."""
    report_path = tmp_path / "report.json"
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "STYLEDOMAIN_HOME": str(tmp_path / "library"),
           "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path), "LANG": "C.UTF-8"}
    cmd = [*no_network_prefix(), str(app), "--self-test", "--report", str(report_path)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"package-test: FAILED: the self-test ran past {timeout:.0f} s", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - t0
    report = json.loads(report_path.read_text()) if report_path.is_file() else None
    problems = find_problems(proc.returncode, proc.stderr, report)
    summary = {"ok": not problems, "seconds": round(seconds, 1), "problems": problems, "bundle": str(app.parent),
               "network_removed": cmd[0] == "unshare", "report": report}
    print(json.dumps(summary, indent=2))
    if problems:
        sys.stderr.write(proc.stderr[-4000:])
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "styledomain-studio")
    parser.add_argument("--tarball", type=Path, default=None,
                        help="test this .tar.gz instead: unpack it outside the checkout and run from there")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    exe_name = "styledomain-studio.exe" if sys.platform == "win32" else "styledomain-studio"
    source = args.tarball or args.bundle / exe_name
    if not source.is_file():
        print(f"package-test: {source}: not built; run `make package` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="styledomain-package-test-") as tmp:
        tmp_path = Path(tmp)
        if args.tarball is not None:
            t0 = time.perf_counter()
            try:
                bundle = extract_tarball(args.tarball, tmp_path)
            except (OSError, ValueError, tarfile.TarError) as exc:
                print(f"package-test: FAILED: {exc}", file=sys.stderr)
                return 1
            print(f"package-test: unpacked {args.tarball.name} in {time.perf_counter() - t0:.1f} s")
            if sys.platform.startswith("linux"):
                return check_installed(bundle, tmp_path, args.timeout)
        else:
            bundle = copy_bundle(args.bundle, tmp_path)
        return self_test(bundle / exe_name, tmp_path, args.timeout)


def check_installed(bundle: Path, tmp_path: Path, timeout: float) -> int:
    """Install the unpacked bundle into a temporary ``~/.local``, self-test the installed launcher, uninstall."""
    home = tmp_path / "install-home"
    home.mkdir()
    t0 = time.perf_counter()
    launcher, problems = install_for_user(bundle, home)
    print(f"package-test: install-linux.sh into {home}/.local in {time.perf_counter() - t0:.1f} s: "
          + ("; ".join(problems) or "launcher, menu entry and icon ok"))
    if problems:
        return 1
    shutil.rmtree(bundle)  # the installed copy is what runs now (and the disk space is needed)
    code = self_test(launcher, tmp_path, timeout)
    left = uninstall_for_user(home)
    print("package-test: uninstall: " + ("; ".join(left) or "program, launcher and menu entry removed"))
    return code or (1 if left else 0)


if __name__ == "__main__":
    sys.exit(main())
