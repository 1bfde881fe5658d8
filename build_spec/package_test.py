"""Prove the built bundle: ``python build_spec/package_test.py`` (``make package-test``).

Copies ``dist/styledomain-studio/`` (as hard links) to a temporary folder outside the checkout, then runs the
frozen app's ``--self-test`` there offscreen, with an empty home and library, without network (``unshare -rn``
or ``unshare -n`` where available), under a time limit. Fails on a non-zero exit, any failed step, any Qt
warning in the report or on stderr, or a missing report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
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


def copy_bundle(bundle: Path, dest: Path) -> Path:
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    target = dest / bundle.name
    shutil.copytree(bundle, target, symlinks=True, copy_function=link)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "styledomain-studio")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    exe = args.bundle / ("styledomain-studio.exe" if sys.platform == "win32" else "styledomain-studio")
    if not exe.is_file():
        print(f"package-test: {exe}: not built; run `make package` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="styledomain-package-test-") as tmp:
        tmp_path = Path(tmp)
        app = copy_bundle(args.bundle, tmp_path) / exe.name
        report_path = tmp_path / "report.json"
        home = tmp_path / "home"
        home.mkdir()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "STYLEDOMAIN_HOME": str(tmp_path / "library"),
               "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path), "LANG": "C.UTF-8"}
        cmd = [*no_network_prefix(), str(app), "--self-test", "--report", str(report_path)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"package-test: FAILED: the self-test ran past {args.timeout:.0f} s", file=sys.stderr)
            return 1
        seconds = time.perf_counter() - t0
        problems = []
        if proc.returncode != 0:
            problems.append(f"exit code {proc.returncode}")
        warnings = [w for w in QT_WARNING.findall(proc.stderr) if not any(n.startswith(w) for n in OFFSCREEN_NOTICES)]
        if warnings:
            problems.append(f"Qt warnings on stderr: {len(warnings)}")
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        if report is None:
            problems.append("no report written")
        else:
            failed = [s["name"] for s in report.get("steps", []) if not s.get("ok")]
            if failed:
                problems.append(f"failed steps: {', '.join(failed)}")
            qt_warnings = [w for w in report.get("qt_warnings", []) if w not in OFFSCREEN_NOTICES]
            if qt_warnings:
                problems.append(f"Qt warnings in the report: {qt_warnings[:3]}")
            if not report.get("ok"):
                problems.append("report says ok: false")
        summary = {"ok": not problems, "seconds": round(seconds, 1), "problems": problems,
                   "network_removed": cmd[0] == "unshare", "report": report}
        print(json.dumps(summary, indent=2))
        if problems:
            sys.stderr.write(proc.stderr[-4000:])
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
