"""The data resources' reads: clarify.dataFrame per chunk of items and window of time, from each item's cursor.

Each item has its own cursor (its latest sample time, microseconds, in dlt state); each run re-reads `lag`
before it to catch late samples. Calls respect the API's limits (50 items; 40 days raw, 400 days rolled up).
A -32021 partial failure keeps what its `data.partialResult` holds (a result of the items that were read,
as the API documents it) and reports the items it lacks; those keep their cursor, so the next run reads them
again. Nothing is read twice to find out which items failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pendulum
import pyarrow as pa

import sources.clarify_timeseries.settings as s
from core.errors import ConfigError
from core.timefmt import iso_us
from sources.clarify_timeseries.frames import answered, chunks, points_table, rollup_table, windows
from sources.clarify_timeseries.report import TimeseriesReport
from sources.clarify_timeseries.rpc import PartialFailureError, RpcClient

Progress = Callable[[str, int, int], None]


def rollup_us(rollup: str) -> int:
    """A fixed rollup's length; calendar ones (P1M, P1Y) have no fixed bucket to keep a cursor on."""
    try:
        parsed = pendulum.parse(rollup)
    except Exception:
        parsed = None
    if not isinstance(parsed, pendulum.Duration) or parsed.months or parsed.years or parsed.total_seconds() <= 0:
        raise ConfigError(f"rollup {rollup!r} is not a fixed ISO 8601 duration: use e.g. PT1H or P1D")
    return int(parsed.total_seconds()) * 1_000_000 + parsed.microseconds


def _frame(result: Any) -> dict[str, Any]:
    data = result.get("data") if isinstance(result, dict) else None
    return data if isinstance(data, dict) else {}


@dataclass
class FrameReader:
    """clarify.dataFrame for a set of items and a window, with partial failures handled."""

    rpc: RpcClient
    rollup: str | None
    report: TimeseriesReport
    failed: set[str] = field(default_factory=set)

    def read(self, ids: list[str], lo: int, hi: int) -> dict[str, Any]:
        data: dict[str, Any] = {"filter": {"times": {"$gte": iso_us(lo), "$lt": iso_us(hi)}}}
        if self.rollup:
            data["rollup"] = self.rollup
        params = {
            "query": {"filter": {"id": {"$in": ids}}, "limit": len(ids)},
            "data": data,
            "format": s.FRAME_FORMAT,
        }
        self.report.call("clarify.dataFrame")
        return _frame(self.rpc.call("clarify.dataFrame", params))

    def frame(self, ids: list[str], lo: int, hi: int) -> tuple[dict[str, Any], list[str]]:
        """The frame for `ids` in [lo, hi) and the ids it answers (all of them, unless a -32021 says otherwise)."""
        try:
            return self.read(ids, lo, hi), ids
        except PartialFailureError as exc:
            frame = _frame(exc.partial_result)
            done = answered(frame, ids, self.rollup)
            self.reject(sorted(set(ids) - set(done)), lo, hi, str(exc))
            return frame, done

    def reject(self, ids: list[str], lo: int, hi: int, reason: str) -> None:
        """These items are not read further this run and keep their cursors; the report names them."""
        for item_id in ids:
            self.failed.add(item_id)
            self.report.failures.append(f"{item_id} [{iso_us(lo)} .. {iso_us(hi)}): {reason}")


@dataclass
class ItemMarks:
    """Per item, in dlt state: its latest sample (`cursors_us`) and how far it has been read (`read_to_us`).

    The next read starts `lag` before the earlier of the two: before the latest sample, for late commits; at
    the end of what was read, for an item without samples (so its empty history is not read again)."""

    latest: dict[str, int]
    read_to: dict[str, int]

    @classmethod
    def of(cls, state: dict[str, Any]) -> ItemMarks:
        latest: dict[str, int] = state.setdefault("cursors_us", {})
        for item_id, ms in (state.pop("cursors", None) or {}).items():  # kept in milliseconds by earlier versions
            latest.setdefault(item_id, ms * 1000)
        return cls(latest, state.setdefault("read_to_us", {}))

    def start(self, item_id: str, window: DataWindow) -> int:
        marks = [m for m in (self.latest.get(item_id), self.read_to.get(item_id)) if m is not None]
        return max(window.since, min(marks) - window.lag) if marks else window.since

    def forget(self, item_ids: list[str]) -> None:
        for item_id in item_ids:
            self.latest.pop(item_id, None)
            self.read_to.pop(item_id, None)


def enum_texts(views: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        view["id"]: {str(k): v for k, v in ((view.get("attributes") or {}).get("enumValues") or {}).items()}
        for view in views
        if (view.get("attributes") or {}).get("valueType") == "enum"
    }


@dataclass
class DataWindow:
    """What to read: from `since` (or each item's cursor minus `lag`) up to `now`, all in microseconds."""

    since: int
    now: int
    lag: int
    rollup: str | None = None


def data_tables(
    reader: FrameReader,
    views: list[dict[str, Any]],
    marks: ItemMarks,
    window: DataWindow,
    table_name: str,
    tick: Progress,
    max_frames: int | None = None,
) -> Iterator[pa.Table]:
    """Arrow tables of samples (or rollups) newer than each item's start; marks move as tables are made.
    After `max_frames` calls it stops and sets `report.more_data`: the marks say where the next part starts."""
    bucket = rollup_us(window.rollup) if window.rollup else None
    starts: dict[str, int] = {}
    for view in views:
        if view["id"] in reader.report.finished_items:
            continue  # read to the end by an earlier part of this sync
        start = marks.start(view["id"], window)
        starts[view["id"]] = start - start % bucket if bucket else start
    enums = enum_texts(views)
    span = s.ROLLUP_DAYS if bucket and bucket > 60_000_000 else s.FRAME_DAYS
    total = calls = 0
    for chunk in chunks(starts, s.FRAME_ITEMS):
        for lo, hi in windows(min(starts[i] for i in chunk), window.now, span):
            ids = [i for i in chunk if starts[i] < hi and i not in reader.failed]
            if not ids:
                continue
            if max_frames is not None and calls >= max_frames:
                reader.report.more_data = True
                return
            frame, done = reader.frame(ids, lo, hi)
            calls += 1
            selection = {i: starts[i] for i in done}
            try:
                if bucket:
                    table, latest = rollup_table(frame, selection, window.rollup or "")
                else:
                    table, latest = points_table(frame, selection, enums)
            except (pa.ArrowException, TypeError, ValueError) as exc:  # one odd answer must not end the run
                reader.reject(done, lo, hi, f"clarify.dataFrame answered what cannot be read ({exc}): report it")
                continue
            for item_id, us in latest.items():
                marks.latest[item_id] = max(marks.latest.get(item_id, us), us)
            for item_id in done:
                marks.read_to[item_id] = max(marks.read_to.get(item_id, hi), hi)
            if hi == window.now:
                reader.report.finished_items.update(done)
            if table.num_rows:
                total += table.num_rows
                reader.report.add(table_name, table.num_rows)
                tick(table_name, total, calls)
                yield table
