"""Step results a warm process keeps between the builder's node previews: bounded in memory.

A step's whole result (an Arrow table) is kept when it is small (at most `KEEP_ROWS` rows and
`ENTRY_BYTES` bytes), under a key naming everything it depends on: the domain reading, the
engine, the text of every step up to it as planned (masking on read included: it is in the
planned SQL), each input's product and Delta version, and a scoped subscription's columns. An
input materialized again has a new Delta version, so a new key: a kept result is never served
for data that changed. Least recently used results are dropped beyond `BUDGET_BYTES`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

KEEP_ROWS = 200_000  # a step with more rows is sampled with a LIMIT each time, not kept
ENTRY_BYTES = 64 * 2**20
BUDGET_BYTES = 512 * 2**20


class Results:
    """An LRU of step results by key, within a byte budget (thread-safe)."""

    def __init__(self, budget: int = BUDGET_BYTES, entry: int = ENTRY_BYTES) -> None:
        self.budget = budget
        self.entry = entry
        self.size = 0
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        """The result kept under `key` (now the most recently used), or None."""
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, value: Any, size: int) -> bool:
        """Keep `value` (`size` bytes) if it fits one entry's budget, dropping the least
        recently used ones beyond the whole budget; whether it was kept."""
        if size > min(self.entry, self.budget):
            return False
        with self._lock:
            dropped = self._kept.pop(key, None)
            if dropped is not None:
                self.size -= dropped[0]
            self._kept[key] = (size, value)
            self.size += size
            while self.size > self.budget:
                old, _ = self._kept.popitem(last=False)[1]
                self.size -= old
        return True

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._kept)
