"""Models, directions, deltas and photos loaded on the worker thread (and only used there)."""

from __future__ import annotations

import gc
from collections import OrderedDict
from pathlib import Path

import torch

from engine.checkpoints import LoadedGenerator, load_generator
from engine.domains.direction import Direction, load_direction
from engine.domains.param_delta import ParamDelta, load_param_delta


class ModelStore:
    """Caches of what the worker loaded, keyed by resolved file path. Worker thread only."""

    def __init__(self, device: str = "cpu", max_generators: int = 2) -> None:
        self.device = device
        self.max_generators = max_generators
        self._generators: OrderedDict[str, LoadedGenerator] = OrderedDict()
        self._directions: dict[str, Direction] = {}
        self._deltas: dict[str, ParamDelta] = {}
        self._photos: OrderedDict[str, object] = OrderedDict()

    @staticmethod
    def key(path: str | Path) -> str:
        return str(Path(path).resolve())

    def generator(self, path: str | Path) -> LoadedGenerator:
        k = self.key(path)
        if k in self._generators:
            self._generators.move_to_end(k)
            return self._generators[k]
        loaded = load_generator(k, device=self.device)
        self._generators[k] = loaded
        while len(self._generators) > self.max_generators:
            self._generators.popitem(last=False)
        return loaded

    def direction(self, path: str | Path) -> Direction:
        k = self.key(path)
        if k not in self._directions:
            self._directions[k] = load_direction(k)
        return self._directions[k]

    def delta(self, path: str | Path) -> ParamDelta:
        k = self.key(path)
        if k not in self._deltas:
            self._deltas[k] = load_param_delta(k)
        return self._deltas[k]

    def photo(self, path: str | Path):
        from engine.photo import load_photo

        k = self.key(path)
        if k not in self._photos:
            self._photos[k] = load_photo(k)
            while len(self._photos) > 4:
                self._photos.popitem(last=False)
        return self._photos[k]

    def forget(self, path: str | Path) -> None:
        k = self.key(path)
        for cache in (self._generators, self._directions, self._deltas, self._photos):
            cache.pop(k, None)

    def free(self) -> None:
        """Drop everything but the most recent generator and release cached device memory."""
        while len(self._generators) > 1:
            self._generators.popitem(last=False)
        self._photos.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def move_to(self, device: str) -> None:
        """Use another device from now on (e.g. the CPU after running out of GPU memory)."""
        self.device = device
        for loaded in self._generators.values():
            loaded.generator.to(device)
        self.free()
