"""Injected failures, switchable while serving; counters are consumed atomically across threads."""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass

COUNTED = (
    "burst_429",
    "conflict_409",
    "drop_connection",
    "truncate_body",
    "commit_then_drop",
    "commit_then_5xx",
    "hold_answer",
    "odd_page",
)


@dataclass
class FaultSettings:
    """Each counted fault hits the next N matching API requests, then switches itself off."""

    error_rate: float = 0.0
    error_status: int = 500
    html_errors: bool = False  # those 5xx answer with an HTML page, as a proxy in front of the API does
    burst_429: int = 0
    burst_retry_after: bool = True
    retry_after_seconds: int = 1  # the Retry-After a burst 429 asks for
    conflict_409: int = 0
    latency_ms: int = 0
    drop_connection: int = 0  # before the handler: the request has no effect
    truncate_body: int = 0  # after the handler: the write happened, the answer is cut short
    # Bulk creates only (writes.py), after the write is committed: the answer never arrives whole.
    commit_then_drop: int = 0  # the connection closes without a status
    commit_then_5xx: int = 0  # answered with `error_status`, as if the write had failed
    hold_answer: int = 0  # the answer waits `hold_seconds` (longer than the client's timeout)
    hold_seconds: float = 5.0
    # The `kill_on_commit`-th bulk create (counting from when it is set) sends SIGKILL to `kill_pid` once
    # committed: a crash of the pusher between the server's commit and the answer, at a chosen request.
    kill_on_commit: int = 0
    kill_pid: int = 0
    # The same kill once the `kill_on_page`-th record listing page (counting from when it is set) is built: a
    # sync killed -9 in the middle of its walk.
    kill_on_page: int = 0
    # Writes while a sync pages: every `churn_every`-th record listing request of an object (of `churn_objects`,
    # None: any) first updates every 20th of its records, creates one and deletes one (`Emulator.mutate`).
    churn_every: int = 0
    churn_objects: list[str] | None = None
    # Record listings with an `_updated_at` filter: `odd_page` answers the next N as if the filter were not there
    # (one glitch: a replica behind); `ignore_cursor_filter` does so for every one until switched off.
    odd_page: int = 0
    ignore_cursor_filter: bool = False
    # Record listings answered in the store's own order whatever `sortOrder[...]` asks (a server that ignores
    # the sort): a walk by `_updated_at` then meets stamps out of order.
    ignore_sort: bool = False
    http_next_links: bool = False
    stray_next_on_last_page: bool = False
    next_on_empty_page: bool = False
    nest_error_shape: bool = False
    only_paths: list[str] | None = None
    seed: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._rng = random.Random(0)
        self._ticks: dict[str, int] = {}  # matching requests seen by each every-N fault

    def set(self, **changes: object) -> None:
        """Update some settings, keeping the others; unknown names are refused."""
        known = {f.name for f in dataclasses.fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        if "error_status" in changes and changes["error_status"] not in (500, 502, 503):
            raise ValueError("error_status must be 500, 502 or 503")
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **changes)  # type: ignore[arg-type]
            if "seed" in changes:
                self._rng = random.Random(self._settings.seed)

    def clear(self) -> None:
        with self._lock:
            self._settings = FaultSettings()
            self._rng = random.Random(0)
            self._ticks = {}

    def current(self) -> FaultSettings:
        with self._lock:
            return dataclasses.replace(self._settings)

    def applies(self, path: str) -> bool:
        only = self._settings.only_paths
        return only is None or any(part in path for part in only)

    def take(self, name: str, path: str) -> bool:
        """Consume one unit of a counted fault if it targets `path`."""
        with self._lock:
            if not self.applies(path) or getattr(self._settings, name) <= 0:
                return False
            setattr(self._settings, name, getattr(self._settings, name) - 1)
            return True

    def kill_due(self, path: str, counter: str = "kill_on_commit") -> int | None:
        """The pid to kill if this request is the `counter`-th (`kill_on_commit`: committed bulk creates,
        `kill_on_page`: answered listing pages), else None."""
        with self._lock:
            s = self._settings
            left = getattr(s, counter)
            if left <= 0 or not self.applies(path):
                return None
            setattr(s, counter, left - 1)
            return s.kill_pid if left == 1 and s.kill_pid else None

    def every(self, name: str, path: str) -> bool:
        """For an every-N fault (`churn_every`): whether this matching request is the N-th since the last."""
        with self._lock:
            n = getattr(self._settings, name)
            if n <= 0 or not self.applies(path):
                return False
            self._ticks[name] = self._ticks.get(name, 0) + 1
            return self._ticks[name] % n == 0

    def server_error(self, path: str) -> int | None:
        """The 5xx status to answer with, drawn from `error_rate`, or None."""
        with self._lock:
            s = self._settings
            if s.error_rate > 0 and self.applies(path) and self._rng.random() < s.error_rate:
                return s.error_status
        return None

    def flag(self, name: str, path: str) -> bool:
        with self._lock:
            return bool(getattr(self._settings, name)) and self.applies(path)
