"""Time the frozen studio's start, cold and warm: ``python build_spec/startup_time.py`` (measurement, not a test).

Copies ``dist/styledomain-studio/`` (hard links) to a temporary folder outside the checkout, then starts it
``--runs`` times cold (the page cache dropped first: ``sync`` and ``/proc/sys/vm/drop_caches``, needs root) and
``--runs`` times warm, each with ``--startup-report FILE`` (``startup_marks.py``), an empty home and library, no
network (``unshare -rn`` where it works) and a display: ``xvfb-run`` when installed, else Qt's offscreen
platform. Prints one JSON summary: every run's marks in seconds since process start, and the median of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKS = ("launcher", "torch_imported", "window_created", "window_shown", "window_painted", "first_render")


def _package_test():
    spec = importlib.util.spec_from_file_location("build_spec_package_test", HERE / "package_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drop_caches() -> bool:
    """Empty the page cache (root only); False where it is not permitted."""
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def display_prefix(want_xvfb: bool) -> tuple[list[str], str]:
    """The command prefix that gives the app a display, and the platform name for the report."""
    if want_xvfb and shutil.which("xvfb-run"):
        return ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"], "xcb (xvfb-run)"
    return [], "offscreen"


def one_start(app: Path, work: Path, prefix: list[str], offscreen: bool, timeout: float) -> dict:
    """Start the app once with ``--startup-report``; its marks (seconds since process start) and wall time."""
    work.mkdir()
    (work / "home").mkdir()
    report = work / "startup.json"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work / "home"), "STYLEDOMAIN_HOME": str(work / "library"),
           "XDG_RUNTIME_DIR": str(work), "LANG": "C.UTF-8"}
    if offscreen:
        env["QT_QPA_PLATFORM"] = "offscreen"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([*prefix, str(app), "--startup-report", str(report)], env=env, cwd=work,
                              capture_output=True, text=True, timeout=timeout)
        code = proc.returncode
        stderr = proc.stderr
    except subprocess.TimeoutExpired:
        code, stderr = None, "timed out"
    wall = round(time.perf_counter() - t0, 2)
    data = json.loads(report.read_text()) if report.is_file() else {}
    return {"exit": code, "wall_s": wall, "complete": data.get("complete", False),
            "marks_s": data.get("since_process_start_s", {}), "stderr_tail": stderr[-600:] if code else ""}


def medians(runs: list[dict]) -> dict[str, float]:
    out = {}
    for name in (*MARKS, "wall_s"):
        values = [r["wall_s"] if name == "wall_s" else r["marks_s"].get(name) for r in runs]
        values = [v for v in values if v is not None]
        if values:
            out[name] = round(statistics.median(values), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=HERE.parent / "dist" / "styledomain-studio")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--offscreen", action="store_true", help="Qt's offscreen platform even with xvfb-run")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    app_name = "styledomain-studio.exe" if sys.platform == "win32" else "styledomain-studio"
    if not (args.bundle / app_name).is_file():
        print(f"startup-time: {args.bundle / app_name}: not built; run `make package` first", file=sys.stderr)
        return 2
    package_test = _package_test()
    display, platform = display_prefix(not args.offscreen)
    prefix = [*display, *package_test.no_network_prefix()]
    summary: dict = {"platform": platform, "network_removed": "unshare" in prefix, "command_prefix": prefix}
    with tempfile.TemporaryDirectory(prefix="styledomain-startup-") as tmp:
        root = Path(tmp)
        app = package_test.copy_bundle(args.bundle, root) / app_name
        summary["bundle_copy"] = str(app.parent)
        for kind in ("cold", "warm"):
            runs = []
            if kind == "warm":  # one unmeasured start fills the page cache
                one_start(app, root / "warmup", prefix, not display, args.timeout)
            for i in range(args.runs):
                dropped = drop_caches() if kind == "cold" else None
                run = one_start(app, root / f"{kind}{i}", prefix, not display, args.timeout)
                if dropped is not None:
                    run["caches_dropped"] = dropped
                runs.append(run)
            summary[kind] = {"runs": runs, "median_s": medians(runs)}
    print(json.dumps(summary, indent=1))
    return 0 if all(r["complete"] for k in ("cold", "warm") for r in summary[k]["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
