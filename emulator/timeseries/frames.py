"""`clarify.dataFrame`: the samples (or rollups) of selected items in a time window, as `{times, series}`.

Parameters as the SDKs send them (pyclarify `query/query.py` `DataQuery`, `views/dataframe.py`
`DataFrameParams`; clarify-go `fields/data_query.go`): `data` holds `filter.times` (`$gte`, `$lt`),
`rollup`, `timeZone`, `firstDayOfWeek`, `origin`, `last` and `outsidePoints`. The answer is always
`{times, series}` whatever `format.dataAsArray` says (pyclarify sends false and parses `{times, series}`;
clarify-go `views/data_frame.go` reads the same), keyed `<itemId>` raw or `<itemId>_<aggregate>` rolled up,
as in clarify-go `testdata/result_clarify_dataframe_rollup.json`. `outsidePoints` is accepted and has no
effect here (the emulator never adds the neighbours outside the window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from core.timefmt import DAY_US
from emulator.timeseries.query import ParamIssues
from emulator.timeseries.rollup import RAW_WINDOW_DAYS, Buckets, Rollup, buckets, parse_rollup, zone
from emulator.timeseries.times import iso_us, parse_us

DATA_FIELDS = frozenset({"filter", "rollup", "timeZone", "firstDayOfWeek", "origin", "last", "outsidePoints"})
AGGREGATES = ("count", "min", "max", "sum", "avg")


@dataclass(frozen=True)
class DataQuery:
    lo: int  # µs, inclusive
    hi: int  # µs, exclusive
    rollup: Rollup | None
    tz: ZoneInfo
    first_day: int
    origin: int | None
    last: int  # -1: every point

    def buckets(self) -> Buckets:
        assert self.rollup is not None
        return buckets(self.rollup, self.lo, self.hi, self.tz, self.first_day, self.origin)


def time_param(value: Any, path: str) -> int:
    """Microseconds of an RFC 3339 timestamp parameter; -32602 naming `path` otherwise."""
    try:
        if isinstance(value, str):
            return parse_us(value)
    except ValueError:
        pass
    raise ParamIssues({path: ["must be an RFC 3339 timestamp with a time zone offset"]})


def _window(data: dict[str, Any], now_us: int) -> tuple[int, int]:
    flt = data.get("filter") or {}
    if not isinstance(flt, dict) or set(flt) - {"times"}:
        raise ParamIssues({"data.filter": ["must be an object with only times"]})
    times = flt.get("times") or {}
    if not isinstance(times, dict) or set(times) - {"$gte", "$lt"}:
        raise ParamIssues({"data.filter.times": ["must be an object with $gte and/or $lt"]})
    hi = time_param(times["$lt"], "data.filter.times.$lt") if "$lt" in times else now_us
    lo = time_param(times["$gte"], "data.filter.times.$gte") if "$gte" in times else hi - RAW_WINDOW_DAYS * DAY_US
    if hi <= lo:
        raise ParamIssues({"data.filter.times": ["$lt must be after $gte"]})
    return lo, hi


def _int_param(data: dict[str, Any], key: str, default: int, low: int, high: int | None) -> int:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ParamIssues({f"data.{key}": [f"must be an integer {bounds}"]})
    return value


def parse_data_query(raw: Any, now_us: int) -> DataQuery:
    data = raw if raw is not None else {}
    if not isinstance(data, dict):
        raise ParamIssues({"data": ["must be an object"]})
    unknown = set(data) - DATA_FIELDS
    if unknown:
        raise ParamIssues({f"data.{key}": ["unknown field"] for key in sorted(unknown)})
    lo, hi = _window(data, now_us)
    rollup = None
    if data.get("rollup") is not None:
        try:
            rollup = parse_rollup(data["rollup"])
        except ValueError as exc:
            raise ParamIssues({"data.rollup": [str(exc)]}) from None
    max_days = rollup.max_window_days() if rollup else RAW_WINDOW_DAYS
    if max_days is not None and hi - lo > max_days * DAY_US:
        raise ParamIssues({"data.filter.times": [f"time window exceeds {max_days} days for this rollup"]})
    try:
        tz = zone(data.get("timeZone") or "UTC")
    except ValueError as exc:
        raise ParamIssues({"data.timeZone": [str(exc)]}) from None
    origin = time_param(data["origin"], "data.origin") if data.get("origin") is not None else None
    if data.get("outsidePoints") is not None and not isinstance(data["outsidePoints"], bool):
        raise ParamIssues({"data.outsidePoints": ["must be a boolean"]})
    first_day = _int_param(data, "firstDayOfWeek", 1, 1, 7)
    last = _int_param(data, "last", -1, -1, None)
    return DataQuery(lo, hi, rollup, tz, first_day, origin, last)


def _raw(per_item: dict[str, dict[int, float]]) -> tuple[list[int], dict[str, list[Any]]]:
    times = sorted({t for samples in per_item.values() for t in samples})
    return times, {item_id: [samples.get(t) for t in times] for item_id, samples in per_item.items()}


def _aggregate(values: list[float]) -> dict[str, float]:
    total = float(sum(values))
    return {"count": len(values), "min": min(values), "max": max(values), "sum": total, "avg": total / len(values)}


@dataclass(frozen=True)
class StateHistogram:
    """An enum item's rollup in the "histogram" variant (`TimeseriesConfig.enum_rollup`): seconds in each state
    per bucket, keyed `<itemId>_<state>`. Clarify's docs name the aggregation (`state-histogram-seconds`, every
    state) but show no answer, so the keys are this emulator's guess, and a sample counts as lasting one sample
    interval (the API measures the time to the next sample)."""

    states: tuple[str, ...]
    seconds_per_sample: float

    def series(self, item_id: str, buckets: dict[int, list[float]], times: list[int]) -> dict[str, list[Any]]:
        return {
            f"{item_id}_{state}": [
                sum(1 for v in buckets[t] if str(int(v)) == state) * self.seconds_per_sample if t in buckets else None
                for t in times
            ]
            for state in self.states
        }


def _rolled(
    per_item: dict[str, dict[int, float]], q: DataQuery, histograms: dict[str, StateHistogram]
) -> tuple[list[int], dict[str, list[Any]]]:
    grid = q.buckets()
    grouped: dict[str, dict[int, list[float]]] = {}
    for item_id, samples in per_item.items():
        buckets = grouped[item_id] = {}
        for t, value in samples.items():
            buckets.setdefault(grid.of(t), []).append(value)
    times = sorted({t for buckets in grouped.values() for t in buckets})
    series: dict[str, list[Any]] = {}
    for item_id, buckets in grouped.items():
        if item_id in histograms:
            series.update(histograms[item_id].series(item_id, buckets, times))
            continue
        stats = {start: _aggregate(values) for start, values in buckets.items()}
        series.update(
            {f"{item_id}_{name}": [stats[t][name] if t in stats else None for t in times] for name in AGGREGATES}
        )
    return times, series


def _keep_last(times: list[int], series: dict[str, list[Any]], last: int) -> tuple[list[int], dict[str, list[Any]]]:
    """Only the `last` newest values of each series; times left without any value are dropped."""
    if last < 0:
        return times, series
    for values in series.values():
        seen = 0
        for index in range(len(values) - 1, -1, -1):
            if values[index] is not None:
                seen += 1
                if seen > last:
                    values[index] = None
    keep = [i for i in range(len(times)) if any(values[i] is not None for values in series.values())]
    return [times[i] for i in keep], {key: [values[i] for i in keep] for key, values in series.items()}


def frame(
    per_item: dict[str, dict[int, float]], q: DataQuery, histograms: dict[str, StateHistogram] | None = None
) -> dict[str, Any]:
    """`{times, series}` of the samples read for each item (µs keys); `histograms`: the enum items rolled up
    as state histograms."""
    times, series = _rolled(per_item, q, histograms or {}) if q.rollup else _raw(per_item)
    times, series = _keep_last(times, series, q.last)
    return {"times": [iso_us(t) for t in times], "series": series}
