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
