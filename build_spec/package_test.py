"""Prove the built bundle: ``python build_spec/package_test.py`` (``make package-test``).

Copies ``dist/styledomain-studio/`` (as hard links) to a temporary folder outside the checkout (or, with
``--tarball FILE``, unpacks the ``.tar.gz`` there and checks it holds the menu entry, icon and install script),
then runs the frozen app's ``--self-test`` there offscreen, with an empty home and library, without network
(``unshare -rn`` or ``unshare -n`` where available), under a time limit. Fails on a non-zero exit, any failed
step, any Qt warning in the report or on stderr, or a missing report.
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
        else:
            bundle = copy_bundle(args.bundle, tmp_path)
        return self_test(bundle / exe_name, tmp_path, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
