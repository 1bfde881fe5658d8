"""The process-wide random generators belong to the caller: engine code never draws from them or reseeds them.

Building a module (``nn.Conv2d``, our generator) draws its initial weights from torch's global generator,
even when the weights are then replaced by a file's. Such code runs under :func:`keep_global_rng`, which
puts the CPU generator's state back afterwards (also on an exception). Random numbers the engine needs
come from a private ``torch.Generator`` / ``numpy.random.Generator``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def keep_global_rng() -> Iterator[None]:
    """Restore torch's global CPU RNG state (and so ``torch.initial_seed()``) on leaving; also a decorator.

    Only the CPU generator: modules are built on the CPU and moved afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        yield


@contextlib.contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Build seeded random weights: the global CPU RNG is seeded with ``seed`` inside, restored on leaving."""
    with keep_global_rng():
        torch.manual_seed(seed)
        yield
