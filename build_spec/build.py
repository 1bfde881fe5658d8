"""Build the StyleDomain Studio bundle: ``python build_spec/build.py`` (``make package``).

Runs PyInstaller on ``styledomain-studio.spec`` into ``dist/styledomain-studio/``, copies the ``.desktop``
file, icon and install script into it, writes ``dist/styledomain-studio.tar.gz`` (Linux) and a size report
``dist/styledomain-studio-report.json`` (total size, file count, sizes by part). The variant (``cpu`` or
``nvidia``) follows the torch in the build environment: a CUDA build of torch makes the NVIDIA variant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build_spec" / "styledomain-studio.spec"
NAME = "styledomain-studio"
#: parts of the report, by the first folder below ``_internal`` (anything else is "the rest")
PARTS = {"torch": ("torch", "functorch", "torchgen"), "nvidia": ("nvidia",), "qt": ("PySide6", "shiboken6"),
         "models": ("resources",)}


def torch_variant() -> str:
    """``nvidia`` for a CUDA build of torch, else ``cpu``."""
    import torch

    return "nvidia" if torch.version.cuda else "cpu"


def run_pyinstaller(dist: Path, work: Path, variant: str) -> None:
    env = dict(os.environ, STYLEDOMAIN_VARIANT=variant, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work), str(SPEC)], check=True, cwd=ROOT, env=env)


def add_desktop_files(bundle: Path) -> None:
    for name in ("styledomain-studio.desktop", "install-linux.sh"):
        shutil.copy2(ROOT / "build_spec" / name, bundle / name)
    shutil.copy2(ROOT / "resources" / "icons" / "styledomain.png", bundle / "styledomain-studio.png")
    (bundle / "install-linux.sh").chmod(0o755)


def size_report(bundle: Path, variant: str, seconds: float) -> dict:
    parts = dict.fromkeys([*PARTS, "rest"], 0)
    tops: dict[str, int] = {}
    total = count = 0
    for path in bundle.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        size = path.stat().st_size
        total += size
        count += 1
        rel = path.relative_to(bundle).parts
        top = rel[1] if rel[0] == "_internal" and len(rel) > 1 else rel[0]
        part = next((p for p, names in PARTS.items() if top in names or top.startswith(names)), "rest")
        parts[part] += size
        key = "/".join(rel[1:3]) if top == "nvidia" and len(rel) > 3 else top  # nvidia/<library>
        tops[key] = tops.get(key, 0) + size
    mib = 1 << 20
    largest = sorted(tops.items(), key=lambda kv: -kv[1])[:20]
    return {"variant": variant, "platform": sys.platform, "bundle": str(bundle), "files": count,
            "size_mib": round(total / mib, 1), "parts_mib": {k: round(v / mib, 1) for k, v in parts.items()},
            "largest_mib": {k: round(v / mib, 1) for k, v in largest},
            "build_seconds": round(seconds, 1)}


def make_tarball(bundle: Path, out: Path) -> dict:
    """``.tar.gz`` of the bundle (gzip level 6), written atomically; its size in MiB and the seconds it took."""
    t0 = time.perf_counter()
    tmp = out.with_name(out.name + ".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=bundle.name)
    tmp.replace(out)
    return {"tarball_mib": round(out.stat().st_size / (1 << 20), 1),
            "tarball_seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument("--no-tarball", action="store_true", help="skip the .tar.gz (it takes minutes)")
    parser.add_argument("--tarball-only", action="store_true",
                        help="only (re)write the .tar.gz of an existing bundle (refreshing its menu files) and add it "
                             "to the report")
    args = parser.parse_args(argv)
    bundle = args.dist / NAME
    report_path = args.dist / f"{NAME}-report.json"
    if args.tarball_only:
        if not (bundle / NAME).is_file():
            print(f"build: {bundle / NAME}: not built; run `make package` first", file=sys.stderr)
            return 2
        if sys.platform.startswith("linux"):
            add_desktop_files(bundle)  # the checkout's current menu entry, icon and install script
        report = json.loads(report_path.read_text()) if report_path.is_file() else {"bundle": str(bundle)}
        report.update(make_tarball(bundle, args.dist / f"{NAME}.tar.gz"))
        report_path.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return 0
    variant = os.environ.get("STYLEDOMAIN_VARIANT") or torch_variant()
    t0 = time.perf_counter()
    run_pyinstaller(args.dist, args.work, variant)
    if sys.platform.startswith("linux"):
        add_desktop_files(bundle)
    report = size_report(bundle, variant, time.perf_counter() - t0)
    if sys.platform.startswith("linux") and not args.no_tarball:
        report.update(make_tarball(bundle, args.dist / f"{NAME}.tar.gz"))
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
