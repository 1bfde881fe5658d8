"""``styledomain models list|import|remove|verify``: the per-user model library (see engine.library)."""

from __future__ import annotations

import json
import sys

from engine.jobs import Progress, Throttle
from engine.library import KINDS, Library
from engine.library.index import format_size


def register(sub) -> None:
    p = sub.add_parser("models", help="the model library: import files once, then use them by name")
    verbs = p.add_subparsers(dest="models_verb", metavar="ACTION")
    verbs.required = True

    ls = verbs.add_parser("list", help="list the library (built-in entries are read-only); a name or the "
                         "first 8+ digits of the sha256 shown pick an entry wherever a file is accepted")
    ls.add_argument("--kind", default=None, help=f"only this kind: {', '.join(KINDS)}")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)

    imp = verbs.add_parser("import", help="copy a file into the library (rosinality .pt / NVIDIA .pkl generators "
                           "and StyleDomain .pt directions are converted to .safetensors)")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--name", default=None, help="library name (default: the file name without its suffix)")
    imp.add_argument("--kind", default=None, help=f"refuse the file unless it is this kind: {', '.join(KINDS)}")
    imp.add_argument("--replace", action="store_true", help="replace an entry of the same name")
    imp.add_argument("--licence", default=None, help="licence note to keep with the entry")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=run_import)

    rm = verbs.add_parser("remove", help="delete an entry and its file")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=run_remove)

    ver = verbs.add_parser("verify", help="re-hash files and compare with the library index (exit 1 on a problem)")
    ver.add_argument("name", nargs="?", default=None, metavar="NAME")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(handler=run_verify)


def _print_notices(lib: Library) -> None:
    for note in lib.notices:
        print(f"styledomain models: {note}", file=sys.stderr)
    lib.notices.clear()


def _bar(job: str):
    """A tqdm byte bar on a terminal (None otherwise) and the progress callback feeding it."""
    if not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="B", unit_scale=True, desc=job, leave=False, file=sys.stderr)

    def progress(p: Progress) -> None:
        if p.total is not None and bar.total != p.total:
            bar.reset(total=p.total)
        bar.n = p.step
        bar.set_description(p.message or job, refresh=False)
        bar.refresh()

    return bar, Throttle(progress, 0.1)


def run_list(args) -> int:
    lib = Library()
    entries = lib.entries(args.kind)
    _print_notices(lib)
    if args.json:
        print(json.dumps({"library": str(lib.root), "entries": [e.to_json() for e in entries]}, indent=1))
        return 0
    print(f"model library: {lib.root}")
    if not entries:
        print("(empty: add files with `styledomain models import FILE`)")
    width = max([len(e.name) for e in entries] + [4])
    for e in entries:
        flag = "  read-only" if e.read_only else ""
        layout = f"  layout {e.fingerprint}" if e.fingerprint else ""
        print(f"{e.name:<{width}}  {e.kind:<11}  {format_size(e.size):>9}  sha256 {e.sha256[:12]}{layout}  "
              f"from {e.source_name or e.path.name}{flag}")
    return 0


def run_import(args) -> int:
    lib = Library()
    bar, progress = _bar("import")
    try:
        entry = lib.import_file(args.file, name=args.name, kind=args.kind, replace=args.replace,
                                licence=args.licence, progress=progress)
    finally:
        if bar is not None:
            bar.close()
        _print_notices(lib)
    if args.json:
        print(json.dumps(entry.to_json(), indent=1))
        return 0
    how = f"converted from {entry.source_format} " if entry.source_sha256 else ""
    print(f"imported {entry.name!r}: {entry.kind}, {format_size(entry.size)}, {how}{entry.source_name} -> {entry.path}")
    return 0


def run_remove(args) -> int:
    lib = Library()
    entry = lib.remove(args.name)
    _print_notices(lib)
    print(f"removed {entry.name!r} ({entry.kind}, {entry.path.name})")
    return 0


def run_verify(args) -> int:
    lib = Library()
    bar, progress = _bar("verify")
    try:
        results = lib.verify(args.name, progress=progress)
    finally:
        if bar is not None:
            bar.close()
        _print_notices(lib)
    bad = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps({"library": str(lib.root), "ok": not bad, "results": [r.to_json() for r in results]},
                         indent=1))
    else:
        for r in results:
            what = {"ok": "ok", "modified": "MODIFIED (sha256 differs from the index)", "missing": "MISSING"}[r.status]
            print(f"{r.entry.name}: {what}")
        print(f"{len(results) - len(bad)} of {len(results)} files ok")
    return 1 if bad else 0
