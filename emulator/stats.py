"""Request counters so tests and benchmarks can see exactly what a client sent."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def record(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._counts[(method, route, status)] += 1

    def snapshot(self) -> dict[tuple[str, str, int], int]:
        """`{(method, route template, status): count}`."""
        with self._lock:
            return dict(self._counts)

    def as_json(self) -> dict[str, object]:
        snap = self.snapshot()
        return {
            "total": sum(snap.values()),
            "requests": [{"method": m, "route": r, "status": s, "count": n}
                         for (m, r, s), n in sorted(snap.items())],
        }

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
