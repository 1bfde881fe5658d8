"""Model-library job functions run on the worker (each returns a job ``fn(ctx)``; worker thread only)."""

from __future__ import annotations

from pathlib import Path

from engine.library import Library, LibraryEntry, VerifyResult


def list_job(root: str):
    """Job: the library's entries (built-ins first) and its notices."""

    def job(ctx) -> tuple[list[LibraryEntry], list[str]]:
        lib = Library(root)
        entries = lib.entries()
        return entries, list(lib.notices)

    return job


def import_job(root: str, paths: list[str]):
    """Job: import each file (the engine decides the kind); returns (imported entries, problem lines).

    One bad file does not stop the others; each problem line names the file and the reason."""

    def job(ctx) -> tuple[list[LibraryEntry], list[str]]:
        from engine.errors import UserError

        lib = Library(root)
        done, problems = [], []
        for p in paths:
            ctx.cancel.raise_if_cancelled("import")
            try:
                done.append(lib.import_file(p, progress=ctx.progress, cancel=ctx.cancel))
            except UserError as exc:
                text = str(exc)
                problems.append(text if Path(p).name in text else f"{p}: {text}")
        return done, problems

    return job


def verify_job(root: str, name: str | None = None):
    """Job: re-hash the entry ``name`` (default: all), with progress and cancel."""

    def job(ctx) -> list[VerifyResult]:
        return Library(root).verify(name, progress=ctx.progress, cancel=ctx.cancel)

    return job


def remove_job(root: str, name: str):
    """Job: remove the entry and delete its stored copy in the library folder."""

    def job(ctx) -> LibraryEntry:
        return Library(root).remove(name)

    return job


def summary_job(root: str):
    """Job: one line per library entry (kind, name, size, sha256 where the index has it, path) for
    Help → Diagnostics; built-in files are not hashed, a damaged index is one line."""

    def job(ctx) -> list[str]:
        from engine.library.builtins import builtin_entries
        from engine.library.index import IndexUnreadable, read_index

        lines = [f"library folder: {root}"]
        entries = builtin_entries(with_hashes=False)
        try:
            entries += read_index(Path(root)) or []
        except IndexUnreadable as exc:
            lines.append(f"library index: {exc}")
        for e in entries:
            digest = f" sha256 {e.sha256}" if e.sha256 else ""
            origin = " built-in" if e.read_only else ""
            lines.append(f"library {e.kind}: {e.name}{origin} {e.size} B{digest} ({e.path})")
        return lines

    return job
