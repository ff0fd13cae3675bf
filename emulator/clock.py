"""A controllable wall clock so tests can make many writes share one `_updated_at`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from core.timefmt import iso_ms, parse_iso


class Clock:
    """Real time by default; `freeze`/`advance`/`resume` bend it for every writer at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: float | None = None
        self._offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch, truncated to milliseconds like the stored timestamps."""
        with self._lock:
            t = self._frozen if self._frozen is not None else time.time() + self._offset
        return int(t * 1000) / 1000

    def now_iso(self) -> str:
        return iso_ms(datetime.fromtimestamp(self.now(), UTC))

    def freeze(self, ts: str | float | None = None) -> None:
        """Stop time at `ts` (ISO-8601 or epoch seconds), or at the current instant."""
        value = self.now() if ts is None else ts if isinstance(ts, int | float) else parse_iso(ts).timestamp()
        with self._lock:
            self._frozen = float(value)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def resume(self) -> None:
        """Back to real time; a frozen or advanced offset is dropped."""
        with self._lock:
            self._frozen = None
            self._offset = 0.0

    def state(self) -> dict[str, object]:
        with self._lock:
            frozen = self._frozen
        return {"now": self.now_iso(), "frozen": frozen is not None}
