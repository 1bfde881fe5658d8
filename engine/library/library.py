"""The per-user model library: import files once, then pick them by name.

Folder layout: ``index.json`` plus one sub-folder per kind (``generator/``, ``direction/``, ...) holding
``<name><suffix>``. Generators from rosinality ``.pt`` and NVIDIA ``.pkl`` files and StyleDomain ``.pt``
directions are converted to our safetensors formats on import; everything else is copied as it is.
Every change writes its file first (atomically) and then the index (atomically), so a failed or
cancelled call leaves the library as it was. The index is re-read on every call, so several front-ends
see each other's changes.

A missing index beside stored files, or an unreadable one, is rebuilt from the files; an unreadable one
is first moved aside. Each such event adds a one-line notice to :attr:`Library.notices` (never printed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import FileProblem, UserError
from engine.fileio import require_file, sha256_of
from engine.jobs import CancelToken, ProgressFn, check_cancel, report

from .builtins import builtin_entries, cached_sha256
from .index import INDEX_NAME, IndexUnreadable, LibraryEntry, read_index, write_index
from .kinds import KIND_HELP, KINDS, Detected, check_kind, detect
from .location import default_library_dir
from .lock import library_lock
from .lookup import NAME, article, by_name, by_sha_prefix, close_names, kind_tuple
from .staging import Staged, staging_path

CHUNK = 4 << 20


@dataclass(frozen=True)
class VerifyResult:
    """``status``: ``ok``, ``modified`` (other contents than when imported) or ``missing``."""

    entry: LibraryEntry
    status: str
    sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return {"name": self.entry.name, "kind": self.entry.kind, "path": str(self.entry.path),
                "status": self.status, "expected_sha256": self.entry.sha256, "sha256": self.sha256,
                "read_only": self.entry.read_only}


class Library:
    """The model library in ``root`` (default: :func:`default_library_dir`). Cheap to create."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_library_dir()
        self.notices: list[str] = []

    # ---- reading -------------------------------------------------------------------------------------

    def entries(self, kind: str | None = None) -> list[LibraryEntry]:
        """Built-in entries first, then the user's, each sorted by kind and name; ``kind`` filters."""
        check_kind(kind)
        order = {k: i for i, k in enumerate(KINDS)}
        user = sorted(self._user_entries(), key=lambda e: (order.get(e.kind, 99), e.name.lower()))
        return [e for e in builtin_entries() + user if kind is None or e.kind == kind]

    def find(self, name: str, kind: str | None = None) -> LibraryEntry | None:
        """The entry called ``name`` (case-insensitive), of ``kind`` when given; None when there is none.
        Does not hash built-in files."""
        return by_name(self._unhashed_entries(), name, kind)

    def get(self, name: str) -> LibraryEntry:
        """The entry called ``name`` (with its sha256), or a :class:`UserError` listing close names."""
        everything = self.entries()
        entry = by_name(everything, name)
        if entry is None:
            raise UserError(f"no model called {name!r} in the library ({self.root}){close_names(name, everything)}")
        return entry

    def lookup(self, text: str, kinds: str | tuple[str, ...]) -> LibraryEntry | None:
        """The entry of one of ``kinds`` called ``text`` (case-insensitive; earlier kinds first), else the one
        whose sha256 starts with ``text`` (at least 8 hex digits, as ``styledomain models list`` shows; the
        original's sha256 of a converted file counts too); None when there is none.

        A prefix shared by entries with different contents is a :class:`UserError` listing them (entries of
        the same contents are one choice: the user's copy, else the built-in)."""
        return _lookup_in(self._unhashed_entries(), text, kind_tuple(kinds))

    def resolve(self, text: str | os.PathLike, kind: str | tuple[str, ...]) -> Path:
        """An existing file path as given, else the file of the library entry of ``kind`` (or one of several
        kinds) called ``text`` or with a sha256 starting with ``text`` (see :meth:`lookup`).

        Neither: a :class:`UserError` saying so, with close names of that kind.
        """
        kinds = kind_tuple(kind)
        path = Path(text).expanduser()
        if path.exists():
            return path
        text = str(text)
        what = " or ".join(kinds)
        entries = self._unhashed_entries()
        entry = _lookup_in(entries, text, kinds)
        if entry is not None:
            if not entry.path.is_file():
                raise FileProblem(entry.path, f"the library's {entry.kind} {entry.name!r} is missing its file "
                                              "(see `styledomain models verify`)")
            return entry.path
        other = by_name(entries, text) or next(iter(by_sha_prefix(entries, text, KINDS)), None)
        if other is not None:
            called = "" if other.name.lower() == text.lower() else f" ({other.name})"
            raise UserError(f"{text!r} in the model library is {article(other.kind)} {other.kind}{called}, "
                            f"not {article(kinds[0])} {what}")
        same_kind = [e for e in entries if e.kind in kinds]
        raise UserError(f"{text}: file not found, and the model library has no {what} called {text!r}"
                        f"{close_names(text, same_kind)}")

    def find_by_sha256(self, sha256: str, kind: str | None = None) -> Path | None:
        """The stored file whose sha256 (or, for a converted file, whose original's sha256) is ``sha256``."""
        check_kind(kind)
        if not sha256:
            return None
        sha256 = sha256.lower()
        for e in self._user_entries():
            if (kind is None or e.kind == kind) and sha256 in (e.sha256, e.source_sha256) and e.path.is_file() \
                    and e.path.stat().st_size == e.size:
                return e.path
        for e in builtin_entries(with_hashes=False):
            if (kind is None or e.kind == kind) and cached_sha256(e.path) == sha256:
                return e.path
        return None

    # ---- changing ------------------------------------------------------------------------------------

    def import_file(self, source: str | os.PathLike, *, name: str | None = None, kind: str | None = None,
                    replace: bool = False, licence: str | None = None, progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None) -> LibraryEntry:
        """Copy (or convert) ``source`` into the library and return its entry.

        ``kind`` (optional) must match what the file is; ``name`` defaults to the file's stem; an existing
        entry of that name is refused unless ``replace`` (built-ins never are); the same contents under
        another name are refused. ``licence`` overrides the licence note read from the file. Progress
        reports bytes copied (job ``"import"``); a cancel raises :class:`engine.jobs.Cancelled` and
        leaves the library unchanged. The copy is written beside its place first, without the library's
        lock; the lock (:mod:`engine.library.lock`) is held only to re-check the index, move the copy in
        and write the index, so concurrent imports from several processes all land.
        """
        check_kind(kind)
        src = require_file(source)
        found = _detect_as(src, kind)
        name = _choose_name(name, src, found.kind)
        user = self._user_entries()
        clash = _check_clash(name, replace, user)  # fail fast; checked again under the lock
        target = self.root / found.kind / f"{name}{found.suffix or src.suffix.lower()}"
        report(progress, "import", 0, src.stat().st_size, f"importing {src.name}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with staging_path(target) as staged:
                entry = _store(src, staged.path, found, name, licence, [e for e in user if e is not clash], progress,
                               cancel)
                check_cancel(cancel, "import")
                with library_lock(self.root):
                    entry = self._commit(entry, src, staged, replace)
        except OSError as exc:
            raise FileProblem(exc.filename or target, f"cannot write to the model library ({exc.strerror})") from None
        report(progress, "import", entry.size, entry.size, f"imported {entry.name}")
        return entry

    def _commit(self, entry: LibraryEntry, src: Path, staged: Staged, replace: bool) -> LibraryEntry:
        """Under the lock: re-read the index, re-check name and contents, move the copy in, write the index."""
        user = self._user_entries()
        clash = _check_clash(entry.name, replace, user)
        others = [e for e in user if e is not clash]
        _refuse_duplicate(src, entry.source_sha256 or entry.sha256, entry.kind, others)
        target = staged.target
        staged.commit()
        entry = _with_path(entry, target)
        try:
            write_index(self.root, others + [entry])
        except OSError:
            if clash is None:
                target.unlink(missing_ok=True)
            raise
        if clash is not None and clash.path != target:
            clash.path.unlink(missing_ok=True)
        return entry

    def remove(self, name: str) -> LibraryEntry:
        """Delete the entry called ``name`` and its file; built-ins cannot be removed."""
        _removable(name, self._user_entries(), self.root)  # a refusal takes no lock and creates nothing
        with library_lock(self.root):
            user = self._user_entries()
            entry = _removable(name, user, self.root)
            try:
                write_index(self.root, [e for e in user if e is not entry])
                entry.path.unlink(missing_ok=True)
            except OSError as exc:
                raise FileProblem(exc.filename or self.root,
                                  f"cannot change the model library ({exc.strerror})") from None
        return entry

    def verify(self, name: str | None = None, progress: ProgressFn | None = None,
               cancel: CancelToken | None = None) -> list[VerifyResult]:
        """Re-hash the entry called ``name`` (default: every entry) and compare with the index.

        Progress reports bytes hashed over all files (job ``"verify"``); a cancel raises ``Cancelled``.
        """
        chosen = [self.get(name)] if name is not None else self.entries()
        present = [e for e in chosen if e.path.is_file()]
        total, done = sum(e.path.stat().st_size for e in present), 0
        results = []
        for e in chosen:
            if e not in present:
                results.append(VerifyResult(e, "missing"))
                continue
            h = hashlib.sha256()
            with open(e.path, "rb") as f:
                while block := f.read(CHUNK):
                    check_cancel(cancel, "verify")
                    h.update(block)
                    done += len(block)
                    report(progress, "verify", done, total, f"checking {e.name}")
            digest = h.hexdigest()
            results.append(VerifyResult(e, "ok" if digest == e.sha256 else "modified", digest))
        report(progress, "verify", total, total, "checked")
        return results

    # ---- the index -----------------------------------------------------------------------------------

    def _unhashed_entries(self) -> list[LibraryEntry]:
        """The user's entries, then the built-ins (not hashed)."""
        return self._user_entries() + builtin_entries(with_hashes=False)

    def _user_entries(self) -> list[LibraryEntry]:
        try:
            entries = read_index(self.root)
        except IndexUnreadable:
            entries = None
        else:
            if entries is not None or not any(_stored_files(self.root)):
                return entries or []
        with library_lock(self.root):  # a repair writes the index: not at the same time as another process
            return self._repair()

    def _repair(self) -> list[LibraryEntry]:
        """Under the lock: the index as it is now, or rebuilt when it is (still) missing or unreadable."""
        try:
            entries = read_index(self.root)
        except IndexUnreadable as reason:
            index = self.root / INDEX_NAME
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            aside = self.root / f"index.corrupt-{stamp}.json"
            try:
                os.replace(index, aside)
            except OSError as exc:
                raise FileProblem(index, f"unreadable model library index ({reason}) that cannot be moved aside "
                                         f"({exc.strerror})") from None
            entries = self._rebuild()
            self.notices.append(f"model library index {index} was unreadable ({reason}); moved it to {aside.name} "
                                f"and rebuilt it from {len(entries)} files")
            return entries
        if entries is None:
            if not any(_stored_files(self.root)):
                return []
            entries = self._rebuild()
            self.notices.append(f"model library index {self.root / INDEX_NAME} was missing; rebuilt it from "
                                f"{len(entries)} files")
        return entries

    def _rebuild(self) -> list[LibraryEntry]:
        """Entries for the files in the kind folders (what the files tell: no import date, no original)."""
        entries: list[LibraryEntry] = []
        for kind, path in _stored_files(self.root):
            try:
                found = detect(path)
            except UserError:
                found = None
            if found is not None and found.kind != kind:
                continue
            if by_name(entries, path.stem) is not None or not NAME.match(path.stem):
                continue
            st = path.stat()
            when = datetime.fromtimestamp(st.st_mtime, UTC).isoformat(timespec="seconds")
            entries.append(LibraryEntry(path.stem, kind, path, sha256_of(path), st.st_size,
                                        found.source_name if found else "", "", found.source_format if found else "",
                                        found.fingerprint if found else "", found.licence if found else "", when))
        try:
            write_index(self.root, entries)
        except OSError as exc:
            raise FileProblem(self.root / INDEX_NAME, f"cannot rebuild the model library index ({exc.strerror})") \
                from None
        return entries


# ---- helpers ---------------------------------------------------------------------------------------------


def _stored_files(root: Path):
    for kind in KINDS:
        folder = root / kind
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if p.is_file() and not p.name.startswith("."):
                    yield kind, p


def _lookup_in(entries: list[LibraryEntry], text: str, kinds: tuple[str, ...]) -> LibraryEntry | None:
    """:meth:`Library.lookup` over ``entries``."""
    for kind in kinds:
        entry = by_name(entries, text, kind)
        if entry is not None:
            return entry
    matches = by_sha_prefix(entries, text, kinds)
    if len({e.sha256 for e in matches}) > 1:  # copies of one file (same sha256) are one choice
        listed = ", ".join(f"{e.name} ({e.kind}, {e.sha256[:12]})" for e in matches)
        raise UserError(f"sha256 prefix {text!r} matches {len(matches)} entries of the model library: {listed}; "
                        "give more digits or the name")
    return matches[0] if matches else None


def _check_clash(name: str, replace: bool, user: list[LibraryEntry]) -> LibraryEntry | None:
    """The entry ``name`` would replace (None: a new name); a built-in, or an entry without ``replace``, is refused."""
    clash = by_name(user + builtin_entries(with_hashes=False), name)
    if clash is not None and clash.read_only:
        raise UserError(f"{name!r} is a built-in {clash.kind} and cannot be replaced; choose another --name")
    if clash is not None and not replace:
        raise UserError(f"{name!r} is already in the library ({clash.kind}, {clash.path.name}); "
                        "use --replace to overwrite it or --name to choose another name")
    return clash


def _removable(name: str, user: list[LibraryEntry], root: Path) -> LibraryEntry:
    everything = user + builtin_entries(with_hashes=False)
    entry = by_name(everything, name)
    if entry is None:
        raise UserError(f"no model called {name!r} in the library ({root}){close_names(name, everything)}")
    if entry.read_only:
        raise UserError(f"{entry.name!r} is built in and cannot be removed")
    return entry


def _choose_name(name: str | None, src: Path, kind: str) -> str:
    if name is not None:
        if not NAME.match(name):
            raise UserError(f"library name {name!r} must start with a letter or digit and use only letters, digits "
                            "and . _ + - (at most 100 characters)")
        return name
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", src.stem).lstrip("._+-")[:100]
    return stem or kind


def _detect_as(src: Path, kind: str | None) -> Detected:
    found = detect(src)
    if found is None:
        if kind == "landmarks" and src.suffix.lower() == ".dat" and not _has_dlib():
            return Detected("landmarks", "dlib")
        if kind is not None:
            want = KIND_HELP[kind]
            raise FileProblem(src, f"not {article(kind)} {kind} file (expected {article(want)} {want})")
        raise FileProblem(src, f"not a model file the library knows (kinds: {', '.join(KINDS)})")
    if kind is not None and found.kind != kind:
        raise FileProblem(src, f"this is {article(found.kind)} {found.kind} file, not {article(kind)} {kind}")
    return found


def _has_dlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("dlib") is not None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _refuse_duplicate(src: Path, sha: str, kind: str, others: list[LibraryEntry]) -> None:
    for e in others:
        if e.kind == kind and sha in (e.sha256, e.source_sha256):
            raise UserError(f"{src}: already in the library as {e.name!r} (same contents)")


def _store(src: Path, tmp: Path, found: Detected, name: str, licence: str | None, others: list[LibraryEntry],
           progress: ProgressFn | None, cancel: CancelToken | None) -> LibraryEntry:
    """Write the library's copy of ``src`` to ``tmp``; the entry's path is filled in by the caller."""
    fingerprint, note = found.fingerprint, found.licence
    if found.convert and found.kind == "generator":
        from engine.checkpoints import load_generator, save_native
        from engine.stylespace import layout_fingerprint, style_layout

        loaded = load_generator(src)
        source_sha = loaded.sha256
        _refuse_duplicate(src, source_sha, found.kind, others)
        check_cancel(cancel, "import")
        note = licence if licence is not None else loaded.license
        save_native(loaded.generator, tmp, source_format=loaded.source_format, source_name=src.name,
                    source_sha256=source_sha, license_note=note)
        fingerprint = layout_fingerprint(style_layout(loaded.generator.config))
        source_format = loaded.source_format
    elif found.convert and found.kind == "direction":
        from engine.domains.direction import load_direction, save_direction

        source_sha = sha256_of(src)
        _refuse_duplicate(src, source_sha, found.kind, others)
        d = load_direction(src)
        if licence is not None:
            d.license = licence
        note = d.license
        save_direction(d, tmp)
        fingerprint, source_format = d.fingerprint, found.source_format
    else:
        _validate_copy(src, found)
        source_sha = _copy(src, tmp, progress, cancel)
        _refuse_duplicate(src, source_sha, found.kind, others)
        note = licence if licence is not None else note
        source_format = found.source_format
    sha = source_sha if not found.convert else sha256_of(tmp)
    return LibraryEntry(name, found.kind, tmp, sha, tmp.stat().st_size, src.name,
                        source_sha if found.convert else "", source_format, fingerprint, note or "", _now())


def _validate_copy(src: Path, found: Detected) -> None:
    """Load the small kinds fully before copying, so a damaged file is refused at import."""
    if found.kind == "direction":
        from engine.domains.direction import load_direction

        load_direction(src)
    elif found.kind == "param-delta":
        from engine.domains.param_delta import load_param_delta

        load_param_delta(src)


def _copy(src: Path, dst: Path, progress: ProgressFn | None, cancel: CancelToken | None) -> str:
    """Copy in chunks (progress in bytes, cancel between chunks); the sha256 of what was copied."""
    total, done, h = src.stat().st_size, 0, hashlib.sha256()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while block := fi.read(CHUNK):
            check_cancel(cancel, "import")
            h.update(block)
            fo.write(block)
            done += len(block)
            report(progress, "import", done, total, f"copying {src.name}")
        fo.flush()
        os.fsync(fo.fileno())
    return h.hexdigest()


def _with_path(entry: LibraryEntry, path: Path) -> LibraryEntry:
    return dataclasses.replace(entry, path=path)
