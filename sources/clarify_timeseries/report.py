"""What one time-series sync did, for the CLI's summary, the run records and tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReconcileReport:
    """The reconcile pass: what it compared, the calls that cost, and what it read again.

    `windows` are (item, window) pairs whose day counts or sums differed; `replaced` those among them whose rows
    in the warehouse were deleted before the API's were loaded (the warehouse held some there). `uncompared`
    names items neither a rollup nor an evaluation could count."""

    items: int = 0
    days: int = 0
    calls: int = 0
    windows: int = 0
    rows: int = 0
    replaced: int = 0
    uncompared: list[str] = field(default_factory=list)


@dataclass
class TimeseriesReport:
    """Rows per table, unchanged resources skipped, resources deleted, and anything that failed.

    A sync loads in parts (`loads`); `more_data` says the last part stopped at its budget of calls; the later
    parts of the same sync do not read `failed_items` again and continue each item at `read_to` (how far this
    sync has read it). `reconcile` is set when the reconcile pass ran."""

    rows: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_items: set[str] = field(default_factory=set)
    read_to: dict[str, int] = field(default_factory=dict)
    more_data: bool = False
    loads: int = 0
    reconcile: ReconcileReport | None = None

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows

    def call(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
