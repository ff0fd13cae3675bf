"""Injected JSON-RPC errors, switchable while the server runs (Python API or the control route)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

# Codes the emulator knows how to inject inside a JSON-RPC response body.
INJECTABLE = {
    -32000: "Server error",
    -32003: "Forbidden",
    -32009: "Conflict",
    -32011: "Too many requests",
    -32015: "Try again",
    -32021: "Partial failure",
    -32603: "Internal error",
}


@dataclass
class Fault:
    code: int
    method: str | None = None  # None: any method
    times: int | None = 1  # None: until cleared
    ids: frozenset[str] | None = None  # -32021: input/item ids that fail (default: every other one)


class Faults:
    """A queue of faults; each request takes the first matching one and uses up one of its `times`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.fired: list[tuple[str, int]] = []

    def add(
        self,
        code: int,
        method: str | None = None,
        times: int | None = 1,
        ids: list[str] | frozenset[str] | None = None,
    ) -> Fault:
        if code not in INJECTABLE:
            raise ValueError(f"cannot inject {code}: choose one of {sorted(INJECTABLE)}")
        fault = Fault(code, method, times, frozenset(ids) if ids is not None else None)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    self.fired.append((method, fault.code))
                    return fault
        return None

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {
                    "code": f.code,
                    "method": f.method,
                    "times": f.times,
                    "ids": sorted(f.ids) if f.ids is not None else None,
                }
                for f in self._faults
            ]
