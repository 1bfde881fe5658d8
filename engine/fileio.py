"""Files in and out: cheap facts about a file (exists, magic bytes, sha256), safe loading, atomic writes.

Reading: :func:`require_file` (exists, regular, not empty), :func:`sniff` (container by magic bytes),
:func:`sha256_of` (with progress and cancel for big files), :func:`torch_load_safely` (``torch.load``
restricted to tensors and plain containers; never runs code from the file), and our safetensors files.
Writing: :func:`atomic_path` / :func:`save_safetensors`; a failure never leaves a half-written file.
:func:`write_together` makes the files a command writes appear all together or not at all.
Nothing here reads or changes process state (the umask is applied by the kernel when a file is created;
the files staged by :func:`write_together` are held in a context variable, per thread).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from engine.errors import FileProblem, UserError
from engine.jobs import CancelToken, ProgressFn, check_cancel, report

ZIP_MAGIC = b"PK\x03\x04"
_HASH_CHUNK = 1 << 20
#: (temporary file, target) pairs staged by atomic_path inside write_together, renamed when the block ends
_STAGED: ContextVar[list[tuple[Path, Path]] | None] = ContextVar("styledomain_staged_writes", default=None)


def _model_file_error() -> type[FileProblem]:
    from engine.checkpoints.errors import ModelFileError  # imported late: engine.checkpoints imports this module

    return ModelFileError


def require_file(path: str | os.PathLike, error: type[FileProblem] | None = None) -> Path:
    """``path`` as a Path when it is an existing, non-empty regular file; else ``error`` (default
    :class:`engine.checkpoints.errors.ModelFileError`) naming the file and the reason."""
    err = error or _model_file_error()
    p = Path(path)
    if not p.exists():
        raise err(p, "file not found")
    if not p.is_file():
        raise err(p, "not a regular file")
    if p.stat().st_size == 0:
        raise err(p, "file is empty")
    return p


def sniff(path: str | os.PathLike) -> str:
    """'zip' (torch.save), 'pickle', 'safetensors' or 'unknown', from the first bytes."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def sha256_of(path: str | os.PathLike, chunk: int = _HASH_CHUNK, *, progress: ProgressFn | None = None,
              cancel: CancelToken | None = None, job: str = "hash") -> str:
    """Hex sha256 of a file. Progress reports bytes read (``step``/``total``); a cancel raises
    :class:`engine.jobs.Cancelled` (checked every ``chunk`` bytes)."""
    h = hashlib.sha256()
    total = os.path.getsize(path) if progress is not None else None
    done = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            check_cancel(cancel, job)
            h.update(block)
            done += len(block)
            report(progress, job, done, total, f"hashing {Path(path).name}")
    return h.hexdigest()


def torch_load_safely(path: str | os.PathLike, error: type[FileProblem] | None = None) -> object:
    """``torch.load(weights_only=True)``: tensors, plain containers and ``argparse.Namespace`` only.

    Every failure is one ``error`` (default ``ModelFileError``) line: truncated, corrupt, or refused
    because the file asks to run code or load an unknown type.
    """
    err = error or _model_file_error()
    p = Path(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if sniff(p) == "zip" and not zipfile.is_zipfile(p):
            raise err(p, "truncated or corrupt PyTorch file") from None
        if "Unsupported global" in str(exc) or "weights_only" in str(exc):
            raise err(p, f"refused: the file asks to run code or load an unknown type ({_first_line(exc, 160)})"
                      ) from None
        if "central directory" in msg or "PytorchStreamReader" in msg or "EOF" in msg or "truncated" in msg:
            raise err(p, "truncated or corrupt PyTorch file") from None
        raise err(p, f"not a readable PyTorch checkpoint ({_first_line(exc, 160)})") from None


def new_empty_file(path: Path) -> int:
    """Create the empty file ``path`` (mode 0666, so the kernel applies the umask; ``FileExistsError`` if it
    exists) and return the mode it was created with, for :func:`keep_created_mode`."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o666)
    try:
        return os.fstat(fd).st_mode
    finally:
        os.close(fd)


def keep_created_mode(path: Path, mode: int) -> None:
    """Give ``path`` back the ``mode`` it was created with, if a writer replaced the file (safetensors writes
    0600); best effort."""
    with contextlib.suppress(OSError):
        if path.stat().st_mode != mode:
            os.chmod(path, mode & 0o7777)


def _create_exclusive(tmp: Path) -> int:
    """:func:`new_empty_file`, replacing a stale leftover once."""
    try:
        return new_empty_file(tmp)
    except FileExistsError:  # left behind by a killed run
        tmp.unlink()
        return new_empty_file(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (``.NAME.partial``, already created, empty); rename it over
    ``path`` when the block succeeds.

    On any failure the temporary file is removed (a failing clean-up never hides the first error) and
    ``path`` is left as it was. An ``OSError`` (a full disk, a read-only folder) comes out naming ``path``,
    the file that could not be written, with the operating system's reason (never the temporary name).
    The result keeps the mode the temporary file was created with, i.e. the
    usual mode of a new file under the umask, even when the writer replaced it (safetensors writes 0600).
    Inside :func:`write_together` the rename waits for the end of that block.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    staged = _STAGED.get()
    if staged is not None and any(os.path.realpath(t) == os.path.realpath(path) for _, t in staged):
        raise UserError(f"{path}: given for two outputs of one command")
    try:
        mode = _create_exclusive(tmp)
    except OSError as exc:
        _raise_naming(exc, path, tmp)
    kept = False
    try:
        yield tmp
        keep_created_mode(tmp, mode)
        if staged is None:
            os.replace(tmp, path)
        elif path.is_dir():  # the one rename that would fail later: refuse it while nothing is in place
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        else:
            staged.append((tmp, path))
            kept = True
    except OSError as exc:
        _raise_naming(exc, path, tmp)
    finally:
        if not kept:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


@contextmanager
def write_together() -> Iterator[None]:
    """Every file written through :func:`atomic_path` in this block (so also :func:`save_safetensors` and the
    ``save_*`` functions built on them) appears when the block ends, all together, or none does.

    Inside the block each file is fully written to its temporary name beside the target; the renames wait
    until the block ends. An exception in the block (a later write that fails, a cancel, Ctrl-C) removes
    every temporary file, so no target is touched. If one of the final renames fails, the targets this
    block already put in place are removed again (an older file of such a name is then gone too; a rename
    within one folder practically only fails when a folder of that name appeared meanwhile). Nested blocks
    join the outermost one. Writing the same path twice in one block is a :class:`UserError` (check with
    :func:`distinct_outputs` before the work). The files are not readable under their names until the
    block has ended.
    """
    if _STAGED.get() is not None:
        yield
        return
    staged: list[tuple[Path, Path]] = []
    token = _STAGED.set(staged)
    try:
        yield
    except BaseException:
        _remove_quietly(tmp for tmp, _ in staged)
        raise
    finally:
        _STAGED.reset(token)
    placed: list[Path] = []
    try:
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                _raise_naming(exc, path, tmp)
            placed.append(path)
    except BaseException:
        _remove_quietly([*(tmp for tmp, _ in staged), *placed])
        raise


def distinct_outputs(*paths: str | os.PathLike | None) -> None:
    """Refuse (:class:`UserError`) the same file given for two outputs of one command; None entries are skipped."""
    seen: dict[str, Path] = {}
    for p in paths:
        if p is None:
            continue
        key = os.path.realpath(p)
        if key in seen:
            raise UserError(f"{p}: given for two outputs of one command (also as {seen[key]})")
        seen[key] = Path(p)


def _remove_quietly(paths) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            Path(p).unlink(missing_ok=True)


def _raise_naming(exc: OSError, path: Path, tmp: Path) -> None:
    """Re-raise ``exc`` naming the file that could not be written: ``path`` when the error names no file
    (a full disk while writing) or only the temporary file; an error about another file is raised as it is."""
    names = {os.fsdecode(n) for n in (exc.filename, exc.filename2) if n is not None}
    if names and not names <= {str(tmp), str(path)}:
        raise exc
    reason = exc.strerror or str(exc) or type(exc).__name__
    raise OSError(exc.errno, reason, str(path)) from exc


def save_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str]) -> Path:
    """Contiguous CPU tensors + string metadata, written atomically."""
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata={str(k): str(v) for k, v in metadata.items()})
    return Path(path)


def read_safetensors_metadata(path: str | os.PathLike, error: type[FileProblem] = FileProblem) -> dict[str, str]:
    """The header metadata; a damaged file raises ``error`` (one line naming the file)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001 - any parser failure is one clear line
        raise error(path, f"truncated or corrupt safetensors file ({_first_line(exc)})") from None


def read_safetensors(path: str | os.PathLike, error: type[FileProblem] = FileProblem
                     ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the metadata; never unpickles. A damaged file raises ``error``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001
        raise error(path, f"truncated or corrupt safetensors file ({_first_line(exc)})") from None


def _first_line(exc: Exception, limit: int = 120) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
