"""What one time-series sync did, for the CLI's summary and for tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TimeseriesReport:
    """Rows per table, unchanged resources skipped, resources deleted, and anything that failed.

    A sync loads in parts (`loads`); `more_data` says the last part stopped at its budget of calls; the later
    parts of the same sync read neither `failed_items` nor `finished_items` (read up to the sync's end) again."""

    rows: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_items: set[str] = field(default_factory=set)
    finished_items: set[str] = field(default_factory=set)
    more_data: bool = False
    loads: int = 0

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows

    def call(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
