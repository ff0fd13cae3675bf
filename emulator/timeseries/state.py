"""What the time-series routes and methods share: config (swappable), store, faults, tokens and a call log.

Its own module so that the routes (app.py) and the methods (methods.py) both import it and not each other.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import deque
from typing import Any

from emulator.clock import Clock
from emulator.timeseries.config import TimeseriesConfig
from emulator.timeseries.data import SeriesStore, make_id
from emulator.timeseries.faults import Faults


def clock_for(config: TimeseriesConfig, clock: Clock | None) -> Clock:
    """A clock frozen at `config.now` when it is set (tests), else the clock given (wall clock for the demo)."""
    if config.now is None:
        return clock or Clock()
    fixed = Clock()
    fixed.freeze(config.now)
    return fixed


class TimeseriesState:
    """Everything the time-series routes share: config (swappable), data, faults, tokens, a call log."""

    def __init__(self, config: TimeseriesConfig | None = None, clock: Clock | None = None):
        self.config = config or TimeseriesConfig()
        self.clock = clock_for(self.config, clock)
        self.store = SeriesStore(self.config, self.clock)
        self.faults = Faults()
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, str]] = {}  # token -> (expires at, integration)
        self._hits: deque[float] = deque()
        self._traces = itertools.count(1)
        self.calls: deque[dict[str, Any]] = deque(maxlen=10_000)  # recent calls, for tests to assert on
        self.tokens_issued = 0

    def configure(self, **changes: object) -> None:
        self.config = self.config.updated(**changes)

    def trace(self) -> str:
        return make_id(self.config.seed, "trace", next(self._traces))

    def issue_token(self) -> tuple[str, int]:
        token = "ts-" + secrets.token_urlsafe(24)
        ttl = self.config.token_ttl
        with self._lock:
            self._tokens[token] = (self.clock.now() + ttl, self.config.integration)
            self.tokens_issued += 1
        return token, ttl

    def token_integration(self, token: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[0] <= self.clock.now():
            return None
        return entry[1]

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def over_rate_limit(self) -> float | None:
        """Seconds to wait when this request exceeds the configured rate, else None."""
        limit = self.config.rate_limit
        if limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._hits and self._hits[0] <= now - self.config.rate_window:
                self._hits.popleft()
            if len(self._hits) >= limit:
                return max(0.001, self._hits[0] + self.config.rate_window - now)
            self._hits.append(now)
        return None

    def methods_called(self, method: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls if method is None or c["method"] == method]
