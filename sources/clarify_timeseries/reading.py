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


def frame_of(result: Any) -> dict[str, Any]:
    data = result.get("data") if isinstance(result, dict) else None
    return data if isinstance(data, dict) else {}


@dataclass
class FrameReader:
    """clarify.dataFrame for a set of items and a window, with partial failures handled."""

    rpc: RpcClient
    rollup: str | None
    report: TimeseriesReport
    failed: set[str] = field(default_factory=set)
    query: dict[str, Any] = field(default_factory=dict)  # more of the data query: time zone, origin

    def read(self, ids: list[str], lo: int, hi: int) -> dict[str, Any]:
        data: dict[str, Any] = {"filter": {"times": {"$gte": iso_us(lo), "$lt": iso_us(hi)}}, **self.query}
        if self.rollup:
            data["rollup"] = self.rollup
        params = {
            "query": {"filter": {"id": {"$in": ids}}, "limit": len(ids)},
            "data": data,
            "format": s.FRAME_FORMAT,
        }
        self.report.call("clarify.dataFrame")
        return frame_of(self.rpc.call("clarify.dataFrame", params))

    def frame(self, ids: list[str], lo: int, hi: int) -> tuple[dict[str, Any], list[str]]:
        """The frame for `ids` in [lo, hi) and the ids it answers (all of them, unless a -32021 says otherwise)."""
        try:
            return self.read(ids, lo, hi), ids
        except PartialFailureError as exc:
            frame = frame_of(exc.partial_result)
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
    """Per item, in dlt state: its latest sample (`cursors_us`).

    A run reads an item from `lag` before its latest sample, for late commits; an item without samples from the
    window's start (`--since`), on every run until it has some: its first samples may arrive long after their
    times, and asking for an empty history is one cheap call per 50 items and 40 days. The later parts of one
    sync continue where the earlier ones stopped (`report.read_to`), so nothing is read twice in a run."""

    latest: dict[str, int]

    @classmethod
    def of(cls, state: dict[str, Any]) -> ItemMarks:
        latest: dict[str, int] = state.setdefault("cursors_us", {})
        for item_id, ms in (state.pop("cursors", None) or {}).items():  # kept in milliseconds by earlier versions
            latest.setdefault(item_id, ms * 1000)
        state.pop("read_to_us", None)  # earlier versions resumed empty items there instead of at the start
        return cls(latest)

    def start(self, item_id: str, window: DataWindow, read_to: dict[str, int]) -> int:
        if item_id in read_to:
            return read_to[item_id]
        latest = self.latest.get(item_id)
        return window.since if latest is None else max(window.since, latest - window.lag)

    def forget(self, item_ids: list[str]) -> None:
        for item_id in item_ids:
            self.latest.pop(item_id, None)

    def advance(self, latest: dict[str, int]) -> None:
        for item_id, us in latest.items():
            self.latest[item_id] = max(self.latest.get(item_id, us), us)


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
    After `max_frames` calls it stops and sets `report.more_data`: `report.read_to` says where the next part
    starts."""
    bucket = rollup_us(window.rollup) if window.rollup else None
    read_to = reader.report.read_to
    starts: dict[str, int] = {}
    for view in views:
        if read_to.get(view["id"]) == window.now:
            continue  # read to the end by an earlier part of this sync
        start = marks.start(view["id"], window, read_to)
        starts[view["id"]] = start - start % bucket if bucket else start
    span = s.ROLLUP_DAYS if bucket and bucket > 60_000_000 else s.FRAME_DAYS
    frames = FrameTables(reader, marks, enum_texts(views), table_name, tick, max_frames)
    for chunk in chunks(starts, s.FRAME_ITEMS):
        for lo, hi in windows(min(starts[i] for i in chunk), window.now, span):
            ids = [i for i in chunk if starts[i] < hi and i not in reader.failed]
            if not ids:
                continue
            if frames.spent():
                return
            table, done = frames.read(ids, lo, hi, {i: starts[i] for i in ids})
            for item_id in done:
                read_to[item_id] = hi
            if table is not None:
                yield table


@dataclass
class FrameTables:
    """Calls within a part's budget, each answer as an arrow table, the items' latest samples kept in `marks`."""

    reader: FrameReader
    marks: ItemMarks
    enums: dict[str, dict[str, str]]
    table_name: str
    tick: Progress
    max_frames: int | None
    calls: int = 0
    rows: int = 0

    def spent(self) -> bool:
        """True (and `report.more_data` set) once the part has made its calls: the next part goes on."""
        if self.max_frames is not None and self.calls >= self.max_frames:
            self.reader.report.more_data = True
            return True
        return False

    def read(self, ids: list[str], lo: int, hi: int, starts: dict[str, int]) -> tuple[pa.Table | None, list[str]]:
        """The rows at or after each item's start in [lo, hi) (None when there are none), and the items the
        answer holds; an answer that cannot be read fails its items, never the run."""
        reader = self.reader
        frame, done = reader.frame(ids, lo, hi)
        self.calls += 1
        selection = {i: starts[i] for i in done}
        try:
            if reader.rollup:
                table, latest = rollup_table(frame, selection, reader.rollup)
            else:
                table, latest = points_table(frame, selection, self.enums)
        except (pa.ArrowException, TypeError, ValueError) as exc:  # one odd answer must not end the run
            reader.reject(done, lo, hi, f"clarify.dataFrame answered what cannot be read ({exc}): report it")
            return None, []
        self.marks.advance(latest)
        if not table.num_rows:
            return None, done
        self.rows += table.num_rows
        reader.report.add(self.table_name, table.num_rows)
        self.tick(self.table_name, self.rows, self.calls)
        return table, done
