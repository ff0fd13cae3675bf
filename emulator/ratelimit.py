"""Rolling-window request budget per (workspace, endpoint), as the live API counts it.

An endpoint is the concrete resource path with record ids collapsed: `GET /objects/person/resources` and
`GET /objects/deal/resources` have separate budgets, `PATCH /objects/person/records/{id}` is one budget for
every person record.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Path parameters that name a resource (kept in the endpoint key); every other one is an id (collapsed).
KEPT_PARAMS = ("object", "name")


def endpoint_key(method: str, template: str, params: Mapping[str, Any]) -> str:
    """`GET /objects/person/resources` from `GET /objects/{object}/resources`; ids stay `{id}`."""
    path = template
    for name in KEPT_PARAMS:
        if name in params:
            path = path.replace("{" + name + "}", str(params[name]))
    return f"{method.upper()} {path}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # whole seconds until the oldest counted request leaves the window

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, self.reset))
        return out


class RateLimiter:
    """Real (monotonic) time by default, on purpose: the emulator's test clock, which bends record stamps, must
    not refill budgets. A test that drives client and server on one manual clock passes its own `clock`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self.clock = clock

    def hit(self, key: str, limit: int, window: float) -> Decision:
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            allowed = len(hits) < limit
            if allowed:
                hits.append(now)
            reset = math.ceil(hits[0] + window - now) if hits else 0
            return Decision(allowed, limit, max(0, limit - len(hits)), reset)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
