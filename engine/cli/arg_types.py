"""argparse ``type=`` functions: numbers are parsed and range-checked before any work starts.

Each returns the parsed value or raises ``argparse.ArgumentTypeError`` with the words of
:mod:`engine.validation`, so ``styledomain render --psi nan`` fails at once with one line. Messages name
their subject "value"; :class:`engine.cli.main.OneLineParser` puts the flag there
(``--psi must be a finite number, got nan``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from engine import validation as v
from engine.errors import UserError


def _as_type(name: str, check: Callable[[str], object]) -> Callable[[str], object]:
    def parse(text: str):
        try:
            return check(text)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UserError(f"must be an integer, got {text[:40]!r}") from None


def _float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise UserError(f"must be a number, got {text[:40]!r}") from None


def int_in(lo: int | None, hi: int | None, name: str = "integer") -> Callable[[str], int]:
    """An integer in ``[lo, hi]`` (None: unbounded on that side)."""
    return _as_type(name, lambda t: v.integer(_int(t), "value", lo, hi))  # type: ignore[return-value]


def float_in(lo: float | None, hi: float | None, lo_open: bool = False, name: str = "number"
             ) -> Callable[[str], float]:
    """A finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    return _as_type(name, lambda t: v.finite(_float(t), "value", lo, hi, lo_open))  # type: ignore[return-value]


#: A NumPy ``RandomState`` seed (0 .. 2**32 - 1).
seed_arg = _as_type("seed", lambda t: v.seed(_int(t), "value"))
#: An output side in pixels (8 .. 8192); the model and memory are checked once the model is loaded.
size_arg = _as_type("size", lambda t: v.image_size(_int(t), "value"))
#: Truncation psi (finite, within +-10).
psi_arg = _as_type("psi", lambda t: v.psi(_float(t), "value"))
#: Direction strength or weight (finite, within +-1000).
strength_arg = _as_type("strength", lambda t: v.strength(_float(t), "value"))
#: Any finite float.
finite_float = float_in(None, None, name="finite number")
#: A finite float > 0 (learning rates, time limits).
positive_float = float_in(0.0, None, lo_open=True, name="positive number")
#: Counts.
positive_int = int_in(1, None, name="positive integer")
nonneg_int = int_in(0, None, name="non-negative integer")
#: Optimisation / training steps (0 allowed: encoder only).
steps_arg = int_in(0, v.MAX_STEPS, name="steps")
#: Animation frames.
frames_arg = int_in(1, v.MAX_FRAMES, name="frames")
#: Milliseconds per frame.
frame_ms_arg = int_in(1, v.MAX_FRAME_MS, name="milliseconds")
#: Batch sizes.
batch_arg = int_in(1, v.MAX_BATCH, name="batch")
#: Which face, counted from 1 (largest).
face_arg = int_in(1, 10_000, name="face")


def check_weight(weight: float, path: str) -> float:
    """The WEIGHT of ``FILE=WEIGHT``: finite and within +-1000 (``ArgumentTypeError`` otherwise)."""
    try:
        return v.strength(weight, f"weight of {path}")
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pad_path(text: str) -> str:
    from .direction import parse_pad_path

    pts = parse_pad_path(text)
    if len(pts) > v.MAX_FRAMES:
        raise UserError(f"--pad-path has {len(pts)} points, at most {v.MAX_FRAMES}")
    for x, y in pts:
        v.finite(x, "--pad-path coordinate", -1000.0, 1000.0)
        v.finite(y, "--pad-path coordinate", -1000.0, 1000.0)
    return text


#: ``"x,y;x,y;..."`` with finite coordinates (returned as given; ``parse_pad_path`` reads it).
pad_path_arg = _as_type("pad path", _pad_path)


def int_list(lo: int, hi: int, name: str = "list") -> Callable[[str], list[int]]:
    """Comma-separated integers, each in ``[lo, hi]``."""

    def check(text: str) -> list[int]:
        items = [t for t in text.split(",") if t.strip()]
        if not items:
            raise UserError(f"must be comma-separated integers, got {text[:40]!r}")
        return [v.integer(_int(t), "each value", lo, hi) for t in items]

    return _as_type(name, check)  # type: ignore[return-value]


class LibraryMiss(str):
    """A file argument that is neither an existing file nor a library entry (``error`` says why).

    Argument parsing goes on (so a bad number later on the line is still reported first, as before);
    :func:`need` raises ``error`` where the verb uses the file, as the loader did for a missing path."""

    error: UserError


def need(value):
    """``value`` itself (a path string, a list of them, or None) unless it holds a :class:`LibraryMiss`:
    then that miss's one-line :class:`UserError`."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, LibraryMiss):
            raise item.error
    return value


def need_all(handler: Callable) -> Callable:
    """``handler`` that first applies :func:`need` to every argument (for verbs whose files are used deep
    inside the engine)."""
    import functools

    @functools.wraps(handler)
    def run(args):
        for value in vars(args).values():
            need(value)
        return handler(args)

    return run


def library_file(kinds: str | tuple[str, ...], keep: tuple[str, ...] = ()) -> Callable[[str], str]:
    """A model or direction file: an existing path (returned as given), else a model-library name or a
    unique sha256 prefix of one of ``kinds`` (returned as that entry's file path).

    Words in ``keep`` (case-insensitive, e.g. ``none``) pass unchanged. Text that cannot be a library name
    (a path with a folder in it) passes unchanged too, so the loader reports a missing file as before.
    Anything else is a :class:`LibraryMiss`, whose one line (exit 2) names the file and the library's close
    names when the verb calls :func:`need` on it.
    """
    from engine.library.lookup import is_library_text

    wanted = (kinds,) if isinstance(kinds, str) else tuple(kinds)

    def parse(text: str) -> str:
        if text.lower() in keep or not text or not is_library_text(text):
            return text
        from pathlib import Path

        if Path(text).expanduser().exists():
            return text
        from engine.library import resolve

        try:
            return str(resolve(text, wanted))
        except UserError as exc:
            miss = LibraryMiss(text)
            miss.error = exc
            return miss

    parse.__name__ = " or ".join(wanted) + " file"
    return parse


def encoder_choice(value: str | None) -> str | bool | None:
    """An ``--encoder`` value (parsed by ``library_file("encoder", keep=("none",))``) for the engine: False for
    ``none`` (start from w_avg), None for the model's own encoder, else the file (a miss raises, :func:`need`)."""
    return False if (value or "").lower() == "none" else need(value)
