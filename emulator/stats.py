"""Request counters so tests and benchmarks can see exactly what a client sent."""

from __future__ import annotations

import threading
import time
from collections import Counter

# Per-endpoint arrival times are kept in buckets of this many seconds (enough to measure rates per window).
TICK = 0.1


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()
        # Per concrete endpoint (the rate-limit budget key, e.g. `GET /objects/person/resources`).
        self._endpoints: dict[str, Counter[int]] = {}
        self._endpoint_ticks: dict[str, Counter[int]] = {}
        self._start = time.monotonic()

    def record(self, method: str, route: str, status: int, endpoint: str | None = None) -> None:
        with self._lock:
            self._counts[(method, route, status)] += 1
            if endpoint is not None:
                self._endpoints.setdefault(endpoint, Counter())[status] += 1
                tick = int((time.monotonic() - self._start) / TICK)
                self._endpoint_ticks.setdefault(endpoint, Counter())[tick] += 1

    def snapshot(self) -> dict[tuple[str, str, int], int]:
        """`{(method, route template, status): count}`."""
        with self._lock:
            return dict(self._counts)

    def endpoints(self) -> dict[str, dict[int, int]]:
        """`{concrete endpoint: {status: count}}`: what each rate-limit budget was asked for."""
        with self._lock:
            return {ep: dict(c) for ep, c in self._endpoints.items()}

    def as_json(self) -> dict[str, object]:
        snap = self.snapshot()
        with self._lock:
            endpoints = [
                {
                    "endpoint": ep,
                    "by_status": {str(s): n for s, n in sorted(by_status.items())},
                    "tick_s": TICK,
                    "ticks": {str(t): n for t, n in sorted(self._endpoint_ticks[ep].items())},
                }
                for ep, by_status in sorted(self._endpoints.items())
            ]
        return {
            "total": sum(snap.values()),
            "requests": [{"method": m, "route": r, "status": s, "count": n} for (m, r, s), n in sorted(snap.items())],
            "endpoints": endpoints,
        }

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._endpoints.clear()
            self._endpoint_ticks.clear()
            self._start = time.monotonic()
