"""Write-back to Clarify time series: warehouse rows → `integration.insert`, signal metadata → `saveSignals`.

- `query` selects `time, input_id, value`; only rows newer than the input's watermark (last successful push,
  kept in `_clarify_ts_push_watermarks`) are sent, in calls of equal-length `times` and values. Times go with
  all six fraction digits: Clarify keeps microseconds, so samples within one millisecond stay apart.
- A call the API rejects (-32602, retries exhausted) or partly rejects (-32021) puts the failed rows in
  `_clarify_ts_push_rejects` with the error and trace; every push sends the rejects again first, and a row
  leaves that table when it is accepted. What a -32021 did is read from its `data.partialResult` (shaped
  like the result). Watermarks move past rejected rows: they are tracked there instead.
- `signals_from` names a table (`input_id`, `name`, `description`, `eng_unit`, `labels`, ...) whose rows
  are saved with `integration.saveSignals` (`signalsByInput`, as pyclarify and clarify-go send it) when their
  content hash changed since the last push.
- -32003 (no access) and transport errors stop the push with one line; what was pushed stays recorded.
`pipelines/` opens the warehouse and hands its SQL access (`db`, a `core.warehouse.sql.WarehouseSQL`) down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

import destinations.clarify_timeseries.tables as t
import sources.clarify_timeseries.settings as s
from core.errors import ConfigError, first_line
from core.timefmt import iso_us
from core.warehouse.sql import WarehouseSQL
from destinations.common.tables import content_hash
from sources.clarify_timeseries.rpc import (
    ForbiddenError,
    MethodNotFoundError,
    PartialFailureError,
    RpcClient,
    RpcError,
)

_SIGNAL_COLUMNS = {
    "name": "name",
    "description": "description",
    "eng_unit": "engUnit",
    "engunit": "engUnit",
    "labels": "labels",
    "source_type": "sourceType",
    "value_type": "valueType",
    "sample_interval": "sampleInterval",
    "gap_detection": "gapDetection",
    "enum_values": "enumValues",
}


@dataclass
class TimeseriesPushReport:
    points_sent: int = 0
    points_rejected: int = 0
    retried_rejects: int = 0
    calls: int = 0
    signals_saved: int = 0
    signals_rejected: int = 0
    published: int = 0
    errors: list[str] = field(default_factory=list)


def _query_points(wh: WarehouseSQL, query: str) -> list[tuple[str, int, float | None]]:
    try:
        columns, rows = wh.fetch_named(query)
    except Exception as exc:
        raise ConfigError(f"push query failed ({first_line(exc)}): fix --sql") from None
    names = [c.lower() for c in columns]
    missing = {"time", "input_id", "value"} - set(names)
    if missing:
        raise ConfigError(f"push query lacks column(s) {', '.join(sorted(missing))}: select time, input_id, value")
    ti, ii, vi = names.index("time"), names.index("input_id"), names.index("value")
    out = []
    for row in rows:
        if row[ii] is None or row[ti] is None:
            continue
        try:
            us = t.as_us(row[ti])
        except ValueError:
            raise ConfigError(f"push query returned time {row[ti]!r}: select a timestamp column as time") from None
        value = row[vi]
        out.append((str(row[ii]), us, float(value) if value is not None else None))
    return out


def _calls(points: dict[str, dict[int, float | None]], chunk: int, series_max: int = 100) -> list[dict[str, Any]]:
    """Insert payloads: per input, times in chunks; inputs with identical time lists share a call."""
    by_times: dict[tuple[int, ...], dict[str, list[float | None]]] = {}
    for input_id in sorted(points):
        samples = sorted(points[input_id].items())
        for start in range(0, len(samples), chunk):
            part = samples[start : start + chunk]
            key = tuple(us for us, _ in part)
            group = by_times.setdefault(key, {})
            if len(group) >= series_max or input_id in group:
                key = key + (-len(by_times),)  # a new call with the same times
                group = by_times.setdefault(key, {})
            group[input_id] = [value for _, value in part]
    return [{"times": [us for us in key if us >= 0], "series": series} for key, series in by_times.items()]


def _failed_inputs(exc: RpcError, key: str, prefixes: tuple[str, ...], sent: list[str]) -> set[str]:
    """Inputs a -32021 did not write: those missing from its partial result, else those its params name,
    else (nothing to tell them apart) all of them."""
    done = (exc.partial_result or {}).get(key)
    if isinstance(done, dict):
        return set(sent) - set(done)
    failed = {path[len(p) :] for path in exc.params for p in prefixes if path.startswith(p)}
    return failed & set(sent) if failed else set(sent)


def push_timeseries(
    client: RpcClient,
    db: WarehouseSQL,
    *,
    query: str | None = None,
    signals_from: str | None = None,
    publish: bool = False,
    chunk_size: int = s.INSERT_TIMES,
) -> TimeseriesPushReport:
    """Push into Clarify through `client`, reading and recording in the warehouse's open SQL client `db`."""
    report = TimeseriesPushReport()
    t.ensure_tables(db)
    if signals_from:
        _push_signals(client, db, signals_from, report)
    if query:
        signal_ids = _push_points(client, db, query, chunk_size, report)
        if publish and signal_ids:
            result = client.call(
                "admin.publishSignals",
                {
                    "integration": client.integration,
                    "createOnly": True,
                    "itemsBySignal": {sid: {"visible": True} for sid in sorted(signal_ids)},
                },
            )
            report.published = sum(1 for v in (result.get("itemsBySignal") or {}).values() if v.get("created"))
    return report


def _push_points(
    client: RpcClient, db: WarehouseSQL, query: str, chunk_size: int, report: TimeseriesPushReport
) -> set[str]:
    marks = t.watermarks(db)
    pending: dict[str, dict[int, float | None]] = defaultdict(dict)
    attempts: dict[tuple[str, int | None], int] = {}
    for input_id, us, value, tries in t.point_rejects(db):
        pending[input_id][us] = value
        attempts[(input_id, us)] = tries
        report.retried_rejects += 1
    for input_id, us, value in _query_points(db, query):
        if us > marks.get(input_id, -1):
            pending[input_id][us] = value
    signal_ids: set[str] = set()
    for payload in _calls(pending, chunk_size):
        now = datetime.now(UTC)
        failed, error = _insert(client, payload, signal_ids)
        report.calls += 1
        times = payload["times"]
        with db.transaction():
            for input_id, values in payload["series"].items():
                if input_id in failed and error is not None:
                    rows = [(input_id, us, v) for us, v in zip(times, values, strict=True)]
                    t.add_rejects(db, "point", rows, str(error), error.trace, attempts, now)
                    report.points_rejected += len(rows)
                else:
                    t.clear_point_rejects(db, input_id, [us for us in times if (input_id, us) in attempts])
                    report.points_sent += len(times)
                if times[-1] > marks.get(input_id, -1):
                    marks[input_id] = times[-1]
                    t.set_watermark(db, input_id, times[-1], now)
        if error is not None:
            report.errors.append(str(error))
    return signal_ids


def _insert(client: RpcClient, payload: dict[str, Any], signal_ids: set[str]) -> tuple[set[str], RpcError | None]:
    """One integration.insert: the inputs it did not write and why; the signals it wrote go in `signal_ids`."""
    inputs = list(payload["series"])
    data = {"times": [iso_us(us) for us in payload["times"]], "series": payload["series"]}
    try:
        result = client.call("integration.insert", {"integration": client.integration, "data": data})
    except (ForbiddenError, MethodNotFoundError):
        raise
    except PartialFailureError as exc:
        result = exc.partial_result or {}
        failed, error = _failed_inputs(exc, "signalsByInput", ("data.series.",), inputs), exc
    except RpcError as exc:  # -32602, or a transient code whose retries ran out: keep the rows, go on
        return set(inputs), exc
    else:
        failed, error = set(), None
    done = result.get("signalsByInput")
    signal_ids.update(v["id"] for v in (done if isinstance(done, dict) else {}).values() if isinstance(v, dict))
    return failed, error


def _signal_attrs(row: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for column, value in row.items():
        key = _SIGNAL_COLUMNS.get(column.lower())
        if key is None or value is None:
            continue
        if key in ("labels", "enumValues") and isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ConfigError(f"{column} of input {row.get('input_id')!r} is not JSON: store an object") from None
        attrs[key] = value
    return attrs


def _push_signals(client: RpcClient, db: WarehouseSQL, table: str, report: TimeseriesPushReport) -> None:
    try:
        columns, values = db.fetch_named(f"select * from {db.table(table)}")
        rows = [dict(zip([c.lower() for c in columns], row, strict=True)) for row in values]
    except Exception as exc:
        raise ConfigError(
            f"cannot read --signals-from table {table!r} ({exc.__class__.__name__}): "
            "name a table in the dataset with an input_id column"
        ) from None
    if rows and "input_id" not in rows[0]:
        raise ConfigError(f"--signals-from table {table!r} has no input_id column")
    known = t.signal_hashes(db)
    changed: dict[str, tuple[dict[str, Any], str]] = {}
    for row in rows:
        attrs = _signal_attrs(row)
        digest = content_hash(attrs)
        if known.get(str(row["input_id"])) != digest:
            changed[str(row["input_id"])] = (attrs, digest)
    ids = sorted(changed)
    for start in range(0, len(ids), s.SAVE_SIGNALS):
        batch = ids[start : start + s.SAVE_SIGNALS]
        now = datetime.now(UTC)
        failed: set[str] = set()
        error: RpcError | None = None
        try:
            client.call(
                "integration.saveSignals",
                {"integration": client.integration, "signalsByInput": {i: changed[i][0] for i in batch}},
            )
        except (ForbiddenError, MethodNotFoundError):
            raise
        except PartialFailureError as exc:
            failed, error = _failed_inputs(exc, "signalsByInput", ("signalsByInput.", "inputs."), batch), exc
        except RpcError as exc:
            failed, error = set(batch), exc
        with db.transaction():
            for input_id in batch:
                if input_id in failed and error is not None:
                    t.add_rejects(db, "signal", [(input_id, None, None)], str(error), error.trace, {}, now)
                    report.signals_rejected += 1
                else:
                    t.set_signal_hash(db, input_id, changed[input_id][1], now)
                    report.signals_saved += 1
        if error is not None:
            report.errors.append(str(error))
