"""A size-one mailbox: the newest request replaces any pending one (latest wins)."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Thread-safe slot holding at most one item; ``put`` replaces, ``take`` empties."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.replaced = 0  # how many pending items were overwritten before being taken

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced one that was never taken."""
        with self._lock:
            had = self._item is not None
            if had:
                self.replaced += 1
            self._item = item
            return had

    def take(self) -> T | None:
        with self._lock:
            item, self._item = self._item, None
            return item

    def pending(self) -> bool:
        with self._lock:
            return self._item is not None
