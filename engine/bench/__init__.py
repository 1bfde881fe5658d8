"""Every benchmark behind ``styledomain bench --tasks a,b``, in one registry.

A task is a :class:`BenchTask`: a name, a one-line help, and ``"module:function"`` strings for its
runner and (optionally) its formatter, imported only when the task runs (so registering costs nothing
and cannot create import cycles). The runner takes the parsed :class:`BenchOptions` and returns one
result row (a dict) or a list of rows; each row carries ``"task"``. The formatter turns one row into a
line for the terminal (default: ``key=value`` pairs).

Adding a task is one registration line in :mod:`engine.bench.tasks`::

    register(BenchTask("batch", "photos per minute, busy time per stage", "engine.pipeline.batch.bench:run"))

A runner raises :class:`engine.errors.UserError` when it cannot measure what was asked (for example a
model too small for the asked resolutions), never returns empty results.
"""

from . import tasks as _tasks  # noqa: F401,E402,I001  (registers the built-in tasks)
from .registry import TASKS, BenchOptions, BenchTask, format_row, register, run_tasks, task_names
from .timing import machine_description, random_config_f, speedups, time_call

__all__ = ["TASKS", "BenchOptions", "BenchTask", "format_row", "machine_description", "random_config_f",
           "register", "run_tasks", "speedups", "task_names", "time_call"]
