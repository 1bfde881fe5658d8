"""The bench task registry: :class:`BenchTask`, :class:`BenchOptions`, :func:`register`, :func:`run_tasks`."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.errors import UserError

Row = dict[str, Any]


@dataclass(frozen=True)
class BenchTask:
    """``run`` and ``format`` are ``"module:function"``; ``format`` None prints ``key=value`` pairs."""

    name: str
    help: str
    run: str
    format: str | None = None

    def runner(self) -> Callable[[BenchOptions], Row | list[Row]]:
        return _resolve(self.run)

    def formatter(self) -> Callable[[Row], str]:
        return _resolve(self.format) if self.format else format_row


@dataclass
class BenchOptions:
    """What ``styledomain bench`` parsed, shared by every task.

    ``resolutions`` None means "the task's default"; a list means the user asked for exactly these.
    ``args`` is the whole argparse namespace, for task-specific flags.
    """

    device: torch.device
    dtype: torch.dtype = torch.float32
    precision: str = "fp32"
    model: str | None = None
    resolutions: list[int] | None = None
    batches: list[int] = field(default_factory=lambda: [1, 8])
    impls: list[str] = field(default_factory=lambda: ["fast", "reference"])
    repeats: int = 3
    warmup: int = 1
    log: Callable[[str], None] | None = None
    args: argparse.Namespace | None = None
    _generator: Any = field(default=None, repr=False)

    def generator(self):
        """The bench's generator on ``device`` (MODEL, or a random 1024 config-f), loaded once."""
        if self._generator is None:
            if self.model:
                from engine.checkpoints import load_generator

                self._generator = load_generator(self.model, device=str(self.device)).generator
            else:
                from .timing import random_config_f

                self._generator = random_config_f().to(self.device)
        return self._generator

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


TASKS: dict[str, BenchTask] = {}


def register(task: BenchTask) -> BenchTask:
    TASKS[task.name] = task
    return task


def task_names() -> list[str]:
    return list(TASKS)


def _resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def format_row(row: Row) -> str:
    return "  ".join(f"{k}={v}" for k, v in row.items())


def check_task_names(names: list[str]) -> None:
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise UserError(f"unknown bench task(s) {', '.join(unknown)} (use {', '.join(TASKS)})")
    if not names:
        raise UserError(f"no bench task given (use {', '.join(TASKS)})")


def run_tasks(names: list[str], opts: BenchOptions) -> list[Row]:
    """Run the named tasks in order; every row gets its ``task`` key; each row is logged when it arrives."""
    check_task_names(names)
    rows: list[Row] = []
    for name in names:
        task = TASKS[name]
        out = task.runner()(opts)
        new = [out] if isinstance(out, dict) else list(out)
        if not new:
            raise UserError(f"bench task {name} measured nothing")
        fmt = task.formatter()
        for row in new:
            row.setdefault("task", name)
            opts.say(fmt(row))
        rows += new
    return rows
