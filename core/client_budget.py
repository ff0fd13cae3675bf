"""The rate budget every request of one HTTP client shares, whatever its endpoint: a cap the user set, and a limit
learnt from 429s that say nothing else (no `Retry-After`, no `X-RateLimit-*`).

Why one budget for the whole client, not one per endpoint: a bare 429 does not say what it counts. The public
reference site recommends 100 read requests a minute for the API as a whole, and an independent server refuses
beyond 100 API requests a minute across endpoints; a guide says 3,000 per endpoint. A limit learnt per endpoint
cannot see a workspace-wide one (every other endpoint keeps knocking and is refused in turn), while a limit learnt
for the whole client converges on a per-endpoint one too, only more cautiously (when one endpoint is left busy,
the client's limit is that endpoint's). So a bare 429 slows the whole client, and all its threads.

The learnt limit is a count per rolling window (`window`, a minute unless told otherwise: every source states its
limits per minute), enforced like a header-driven budget: the client logs when each counted request's answer
arrived, and a request goes only while fewer than the limit are logged inside the window, else when the oldest
leaves it. Learning is additive increase, multiplicative decrease:
- the first bare 429 sets the limit to the requests counted in the last window (what the server let through);
- a bare 429 for a request sent after the limit last changed (it was paced by that limit and still refused)
  multiplies the limit by `DECREASE` (never below 1); one for a request sent earlier changes nothing (the
  requests in flight when the first refusal came are refused for the same reason);
- each counted answer adds 1/limit to it: one more request per window for every window's worth answered,
  so a limit learnt too low, or left low by another client that has stopped, climbs back.
The user's cap is a fixed count per rolling minute on the same log.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("clarify_sync.http")

DECREASE = 0.7  # as CUBIC: a limit learnt from a count needs trimming, not halving
CAP_WINDOW = 60.0  # `max_requests_per_minute`


class ClientBudget:
    """Turns for every request of one client (thread-safe); `clock` is monotonic seconds."""

    def __init__(
        self, *, window: float = 60.0, per_minute: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.per_minute = per_minute
        self.learnt: float | None = None  # requests per `window`; None until a bare 429
        self._clock = clock
        self._lock = threading.Lock()
        self._log: deque[float] = deque()  # when each counted request's answer arrived, oldest first
        self._in_flight = 0  # turns taken whose answer is not in yet
        self._changed_at = float("-inf")  # when `learnt` last changed

    def take_turn(self) -> float:
        """The (monotonic) time this request may go, its slot taken; `finish` must follow."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            at = now
            if self.learnt is not None:
                at = max(at, self._free_at(int(self.learnt), self.window, now))
            if self.per_minute is not None:
                at = max(at, self._free_at(self.per_minute, CAP_WINDOW, now))
            self._in_flight += 1
            return at

    def finish(self, sent_at: float, *, counted: bool, bare_429: bool = False) -> None:
        """A request taken with `take_turn` (and sent at `sent_at`) is answered, or failed in transport.
        `counted`: the server may have counted it (not a 429); `bare_429`: refused, with nothing said why."""
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            if counted:
                self._log.append(now)
                if self.learnt is not None:
                    self.learnt += 1 / self.learnt
            if bare_429:
                self._learn(sent_at, now)

    def _learn(self, sent_at: float, now: float) -> None:
        if self.learnt is None:
            self.learnt = float(max(1, self._inside(self.window, now)))
        elif sent_at > self._changed_at:
            self.learnt = max(1.0, self.learnt * DECREASE)
        else:
            return
        self._changed_at = now
        log.info("429 without rate-limit headers: pacing at %d requests per %g s", self.learnt, self.window)

    def _inside(self, window: float, now: float) -> int:
        return len(self._log) - bisect.bisect_right(self._log, now - window)

    def _free_at(self, limit: int, window: float, now: float) -> float:
        """When a slot frees for one more request, given those logged inside `window` and those in flight."""
        first = bisect.bisect_right(self._log, now - window)
        inside = len(self._log) - first
        held = inside + self._in_flight
        if held < limit:
            return now
        k = held - limit  # the k-th oldest request inside the window frees this request's slot when it leaves
        return self._log[first + k] + window if k < inside else now + window

    def _prune(self, now: float) -> None:
        keep = max(self.window, CAP_WINDOW if self.per_minute is not None else 0.0)
        while self._log and self._log[0] <= now - keep:
            self._log.popleft()
