"""``styledomain`` entry point: one module per verb, each with ``register(subparsers)``.

:func:`main` returns an exit code (also for bad arguments and ``--help``). User errors are one line on
stderr, ``styledomain VERB: error: ...``:

* :class:`engine.errors.UserError` and bad arguments: exit 2;
* ``OSError`` (read-only or full folder, missing file): the path and the reason; exit 2 when the user
  can fix the path or its permissions, 1 for other failures (disk full, I/O error);
* a closed output pipe (``styledomain direction info F | head``): quiet, exit 141 like other tools;
* Ctrl-C: exit 130.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import sys

#: Verb modules under ``engine.cli``; each defines ``register(subparsers)``.
VERB_MODULES = [
    "info", "render", "convert", "bench", "direction", "align", "invert", "train_encoder", "apply", "batch",
    "models", "adapt", "project",
]

#: errno values a user fixes by choosing another path or changing permissions (exit 2).
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                errno.ENAMETOOLONG}
#: Temporary names of atomic writes (``.name.partial``, ``.name.XXXX.partial``, ``.name.tmp``) -> ``name``.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+?)(?:\.[A-Za-z0-9_]{4,12})?\.(?:partial|tmp)$")
#: argparse's "argument FLAG: value ..." from the ``engine.cli.arg_types`` checks.
_FLAG_VALUE = re.compile(r"^argument (?:\S+/)?(?P<flag>\S+): value ")
#: Exit status of a process whose output pipe was closed (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


class OneLineParser(argparse.ArgumentParser):
    """An argument error is one line naming the command, not the usage block."""

    def error(self, message: str):  # noqa: D102 - argparse API
        first = message.splitlines()[0] if message else "invalid arguments"
        first = _FLAG_VALUE.sub(r"\g<flag> ", first)  # "argument --psi: value must ..." -> "--psi must ..."
        self.exit(2, f"{self.prog}: error: {first} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="styledomain",
        description="StyleDomain Studio command line: StyleGAN2 models, photos, latents and StyleSpace domain "
        "directions, offline.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in VERB_MODULES:
        importlib.import_module(f"engine.cli.{name}").register(sub)
    return parser


def os_error_line(exc: OSError, output: str | None = None) -> str:
    """``PATH: reason`` (the target's name rather than a temporary one).

    Errors from writing (a full disk) carry no file name: ``output``, the command's output, is named then.
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the disk"
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    if not paths:
        return f"{output}: {reason}" if output else reason
    return f"{_user_path(paths[-1] if exc.errno != errno.EXDEV else paths[0])}: {reason}"


def _user_path(path) -> str:
    path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    head, name = os.path.split(path)
    m = _TEMP_NAME.match(name)
    return os.path.join(head, m.group("name")) if m else path


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at devnull so the interpreter's final flush stays quiet."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    from engine.errors import UserError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad arguments (one line already printed) or --help: an exit code, as verbs return
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    verb = args.verb if getattr(args, "action", None) is None else f"{args.verb} {args.action}"
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler's error contract
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except UserError as exc:
        print(f"styledomain {verb}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        output = getattr(args, "output", None)
        print(f"styledomain {verb}: error: {os_error_line(exc, output and str(output))}", file=sys.stderr)
        return 2 if exc.errno in _USER_ERRNOS else 1
    except MemoryError:
        print(f"styledomain {verb}: error: out of memory; try a smaller size, batch or frame count",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"styledomain {verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
