"""The batch manifest in OUT: which inputs are finished, so that a rerun skips them.

``OUT/.styledomain-batch.json`` (written atomically)::

    {"format": "styledomain.batch-manifest", "version": 1,
     "entries": {ABSOLUTE_INPUT_PATH: {"path", "size", "mtime", "recipe_sha256", "settings_sha256",
                                      "output", "output_sha256", "finished"}}}

``output`` is relative to OUT. Rewriting the whole manifest after every image would cost O(n^2), so
finished inputs are first appended to ``OUT/.styledomain-batch.journal`` (one JSON line each, flushed)
and folded into the manifest every few hundred entries and at the end of the run, after which the
journal is removed. Each output is written as: journal ``pending`` line (with the sha256 of the bytes
about to be written) -> atomic write (temporary file, rename) -> journal ``done`` line. Reading the
manifest replays the journal; a ``pending`` line without its ``done`` counts as finished only when the
output file exists with exactly those bytes. So a run killed at any moment loses at most the image in
flight, and never takes a file it did not write for its own.

The journal also carries an exclusive lock (``flock``) for the length of a run: a second batch into
the same OUT is refused. Leftover temporary files of killed runs (``.NAME.partial``) are removed when a
run starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import UserError
from engine.fileio import atomic_path

MANIFEST_NAME = ".styledomain-batch.json"
JOURNAL_NAME = ".styledomain-batch.journal"
MANIFEST_FORMAT = "styledomain.batch-manifest"
MANIFEST_VERSION = 1
#: Temporary files of our atomic writes that a killed run may leave behind (``.NAME.partial``).
_OWN_TEMP_SUFFIXES = (".png.partial", ".jpg.partial", ".jpeg.partial", ".webp.partial", ".json.partial")


@dataclass
class Entry:
    """One finished input."""

    path: str
    size: int
    mtime: float
    recipe_sha256: str
    settings_sha256: str
    output: str
    output_sha256: str = ""
    finished: float = 0.0


def input_stat(path: str | os.PathLike) -> tuple[int, float]:
    st = os.stat(path)
    return st.st_size, st.st_mtime


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


class Manifest:
    """The manifest + journal of one OUT folder, held open (and locked) for one run. Thread-safe."""

    def __init__(self, out_dir: str | os.PathLike, *, compact_every: int = 256, compact_seconds: float = 30.0):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / MANIFEST_NAME
        self.journal_path = self.out_dir / JOURNAL_NAME
        self.entries: dict[str, Entry] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._journal = None
        self._since_compact = 0
        self._last_compact = time.monotonic()
        self._compact_every = compact_every
        self._compact_seconds = compact_seconds

    # ---- opening ------------------------------------------------------------------------------------
    def open(self) -> Manifest:
        """Create OUT if needed, lock it, read manifest + journal, remove leftover temporary files.

        Raises :class:`UserError` when OUT cannot be written or another run holds it.
        """
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            journal = open(self.journal_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        except OSError as exc:
            raise UserError(f"{self.out_dir}: output folder is not writable ({exc.strerror or exc})") from None
        if not _try_lock(journal):
            journal.close()
            raise UserError(f"{self.out_dir}: another batch run is writing into this folder")
        self._journal = journal
        try:
            self._probe_writable()
            self._read()
            self._clean_temporaries()
        except BaseException:
            self.close(compact=False)
            raise
        return self

    def _probe_writable(self) -> None:
        probe = self.out_dir / f".styledomain-batch-probe-{os.getpid()}.json.partial"
        try:
            probe.write_bytes(b"{}")
        except OSError as exc:
            raise UserError(f"{self.out_dir}: output folder is not writable ({exc.strerror or exc})") from None
        finally:
            probe.unlink(missing_ok=True)

    def _read(self) -> None:
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if doc.get("format") != MANIFEST_FORMAT or doc.get("version") != MANIFEST_VERSION:
                    raise ValueError("not a version-1 batch manifest")
                for key, e in doc["entries"].items():
                    self.entries[key] = Entry(**e)
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                aside = self.path.with_name(self.path.name + f".damaged-{int(time.time())}")
                os.replace(self.path, aside)
                self.entries.clear()
                self.notes.append(f"{self.path}: unreadable manifest ({exc}) moved aside to {aside.name}; "
                                  "existing outputs will be skipped, not overwritten")
        self._journal.seek(0)
        pending: dict[str, Entry] = {}
        for line in self._journal.read().splitlines():
            try:
                rec = json.loads(line)
                kind, entry = rec["kind"], Entry(**rec["entry"])
            except (ValueError, TypeError, KeyError):
                continue  # a line cut short by a kill
            if kind == "pending":
                pending[entry.path] = entry
            elif kind == "done":
                pending.pop(entry.path, None)
                self.entries[entry.path] = entry
        for key, entry in pending.items():
            if file_sha256(self.out_dir / entry.output) == entry.output_sha256:
                self.entries[key] = entry  # renamed into place, killed before the "done" line
        self._journal.seek(0, os.SEEK_END)

    def _clean_temporaries(self) -> None:
        for dirpath, _, filenames in os.walk(self.out_dir):
            for name in filenames:
                if name.startswith(".") and name.lower().endswith(_OWN_TEMP_SUFFIXES):
                    Path(dirpath, name).unlink(missing_ok=True)

    # ---- queries --------------------------------------------------------------------------------------
    def finished(self, key: str, size: int, mtime: float, recipe_sha256: str, settings_sha256: str,
                 output: str) -> bool:
        """Whether this input, unchanged, was exported with these settings to ``output``, and it is still there."""
        e = self.entries.get(key)
        return (e is not None and e.size == size and e.mtime == mtime and e.recipe_sha256 == recipe_sha256
                and e.settings_sha256 == settings_sha256 and e.output == output
                and (self.out_dir / output).is_file())

    def owns(self, output: str) -> bool:
        """Whether ``output`` (relative to OUT) was written by a batch run recorded here."""
        return any(e.output == output for e in self.entries.values())

    def outputs(self) -> set[str]:
        return {e.output for e in self.entries.values()}

    # ---- recording ------------------------------------------------------------------------------------
    def pending(self, entry: Entry) -> None:
        """Record that ``entry.output`` is about to be written with bytes of ``entry.output_sha256``."""
        self._append("pending", entry)

    def done(self, entry: Entry) -> None:
        self._append("done", entry)
        with self._lock:
            self.entries[entry.path] = entry
            self._since_compact += 1
            due = (self._since_compact >= self._compact_every
                   or time.monotonic() - self._last_compact >= self._compact_seconds)
        if due:
            self.compact()

    def _append(self, kind: str, entry: Entry) -> None:
        line = json.dumps({"kind": kind, "entry": asdict(entry)}, separators=(",", ":")) + "\n"
        with self._lock:
            self._journal.write(line)
            self._journal.flush()

    def compact(self) -> None:
        """Fold the journal into the manifest (atomic rewrite), then empty the journal."""
        with self._lock:
            doc = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
                   "entries": {k: asdict(e) for k, e in sorted(self.entries.items())}}
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            self._journal.truncate(0)
            self._journal.seek(0)
            self._journal.flush()
            self._since_compact = 0
            self._last_compact = time.monotonic()

    def close(self, compact: bool = True) -> None:
        """Final compaction, remove the journal, release the lock."""
        if self._journal is None:
            return
        try:
            if compact:
                self.compact()
                self.journal_path.unlink(missing_ok=True)
        finally:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> Manifest:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close(compact=True)


def _try_lock(f) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; one run per folder is then up to the user
        return True
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
