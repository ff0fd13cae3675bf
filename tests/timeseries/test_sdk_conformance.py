"""Clarify's own SDK, pyclarify 0.7.0 unchanged, against the emulator over HTTP; clarify-go's recorded answers
(tests/timeseries/golden/, from its testdata/) as golden shapes for the emulator's raw JSON.

The SDK is the oracle: it builds every request and parses every answer with its pydantic models, so a
shape the emulator gets wrong fails here as it would for a user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pyclarify import Calculation, Client, DataFrame, Item, ItemAggregation, Signal
from pyclarify.query import Filter, In, Regex

from core.timefmt import DAY_US, US_PER_MS, to_us
from emulator.timeseries import TimeseriesConfig, TimeseriesState, credentials_file
from emulator.timeseries.durations import duration_ms
from emulator.timeseries.times import iso_us, parse_us
from sources.clarify_timeseries.reconcile import DAY_QUERY, DAY_ROLLUP, api_days
from sources.clarify_timeseries.report import TimeseriesReport
from sources.clarify_timeseries.rpc import RpcClient
from tests.timeseries.conftest import Server, demo_item_ids

GOLDEN = Path(__file__).parent / "golden"
DAY = timedelta(days=1)


def sdk_for(state: TimeseriesState, base_url: str, tmp_path: Path) -> Client:
    path = tmp_path / "clarify-credentials.json"
    path.write_bytes(orjson.dumps(credentials_file(state, base_url)))
    return Client(str(path))


@pytest.fixture
def sdk(ts: TimeseriesState, base_url: str, tmp_path: Path) -> Client:
    return sdk_for(ts, base_url, tmp_path)


def ok(response: Any) -> Any:
    """The parsed result of an SDK call that must have succeeded."""
    assert response.error is None, response.error
    return response.result


def now(ts: TimeseriesState) -> datetime:
    return datetime.fromtimestamp(ts.store.now_ms() / 1000, UTC)


def samples(ts: TimeseriesState, item_id: str, lo: datetime, hi: datetime) -> dict[datetime, float]:
    got = ts.store.samples_us(item_id, parse_us(lo.isoformat()), parse_us(hi.isoformat()))
    return {datetime.fromtimestamp(0, UTC) + timedelta(microseconds=t): v for t, v in got.items()}


def frame_points(result: Any, key: str) -> dict[datetime, float]:
    values = result.data.series.get(key, [])
    return {t: v for t, v in zip(result.data.times, values, strict=True) if v is not None}


# --- selections -------------------------------------------------------------------------------------


def test_select_items_with_a_filter_and_total(sdk: Client, ts: TimeseriesState) -> None:
    oslo = sorted(i for i, it in ts.store.items.items() if "oslo" in it.resource.attributes["labels"].get("site", []))
    result = ok(sdk.select_items(filter=Filter(fields={"labels.site": In(value=["oslo"])}), limit=100, total=True))
    assert sorted(item.id for item in result.data) == oslo and result.meta.total == len(oslo)
    assert result.meta.format.groupIncludedByType is True
    first = result.data[0]
    assert first.attributes.name == ts.store.items[first.id].resource.attributes["name"]


def test_select_items_pages_with_skip_limit_and_sort(sdk: Client, ts: TimeseriesState) -> None:
    ids = sorted(ts.store.items)
    page = ok(sdk.select_items(skip=5, limit=7, sort=["id"]))
    assert [item.id for item in page.data] == ids[5:12] and page.meta.total == -1


def test_select_items_past_the_api_limit_is_paged_by_the_sdk(ts_now: str, tmp_path: Path) -> None:
    """1,050 items: the SDK asks for 1,000 then 50 (its SegmentIterator) and merges the pages."""
    state = TimeseriesState(TimeseriesConfig(seed=11, items=1050, history_days=1, now=ts_now))
    server = Server(state)
    base_url = server.start()
    try:
        result = ok(sdk_for(state, base_url, tmp_path).select_items(limit=1050, sort=["id"], total=True))
    finally:
        server.stop()
    assert [item.id for item in result.data] == sorted(state.store.items)
    assert [c["params"]["query"]["limit"] for c in state.methods_called("clarify.selectItems")] == [1000, 50]


def test_select_signals_with_filter_total_and_included_items(sdk: Client, ts: TimeseriesState) -> None:
    result = ok(
        sdk.select_signals(filter=Filter(fields={"input": Regex(value="^demo_001")}), total=True, include=["item"])
    )
    inputs = sorted(signal.attributes.input for signal in result.data)
    assert inputs == [f"demo_{n:04d}" for n in range(10, 20)] and result.meta.total == 10
    linked = {signal.relationships.item.data.id for signal in result.data}
    assert {item.id for item in result.included.items} == linked


# --- data frames ------------------------------------------------------------------------------------


def test_raw_data_frame_equals_the_store(sdk: Client, ts: TimeseriesState) -> None:
    ids = demo_item_ids(ts)[:3]
    hi = now(ts)
    lo = hi - 2 * DAY
    result = ok(sdk.data_frame(filter=Filter(fields={"id": In(value=ids)}), gte=lo, lt=hi, include=["items"]))
    for item_id in ids:
        assert frame_points(result, item_id) == samples(ts, item_id, lo, hi)
    assert {item.id for item in result.included.items} == set(ids)


@pytest.mark.parametrize("rollup, tz", [("PT1H", "UTC"), ("P1D", "Europe/Oslo"), ("P1W", "UTC"), ("P1M", "Asia/Tokyo")])
def test_rolled_up_data_frame_counts_every_sample(sdk: Client, ts: TimeseriesState, rollup: str, tz: str) -> None:
    item_id = demo_item_ids(ts, "PT15M")[0]
    hi = now(ts)
    lo = hi - 15 * DAY
    result = ok(
        sdk.data_frame(filter=Filter(fields={"id": In(value=[item_id])}), gte=lo, lt=hi, rollup=rollup, timeZone=tz)
    )
    expected = samples(ts, item_id, lo, hi)
    counts = frame_points(result, f"{item_id}_count")
    assert sum(counts.values()) == len(expected)
    assert max(frame_points(result, f"{item_id}_max").values()) == max(expected.values())
    assert min(frame_points(result, f"{item_id}_min").values()) == min(expected.values())


def _utc_days(points: dict[datetime, float]) -> dict[datetime, list[float]]:
    days: dict[datetime, list[float]] = {}
    for t, value in points.items():
        days.setdefault(t.replace(hour=0, minute=0, second=0, microsecond=0), []).append(value)
    return days


def test_the_reconciles_day_rollup_counts_each_utc_day(sdk: Client, ts: TimeseriesState, client: RpcClient) -> None:
    """The request the reconcile makes (P1D, time zone UTC, a UTC-midnight origin), sent by the SDK: one bucket
    per UTC day, counting and summing only the window's samples; our reading of it agrees with the SDK's."""
    item_id = demo_item_ids(ts, "PT15M")[0]
    hi = now(ts)
    lo = hi - 15 * DAY + timedelta(hours=5)  # not a midnight: the first day is partial on both sides
    window = {"gte": lo, "lt": hi, "rollup": DAY_ROLLUP, **DAY_QUERY}
    result = ok(sdk.data_frame(filter=Filter(fields={"id": In(value=[item_id])}), **window))
    days = _utc_days(samples(ts, item_id, lo, hi))
    assert frame_points(result, f"{item_id}_count") == {d: len(v) for d, v in days.items()}
    assert frame_points(result, f"{item_id}_sum") == pytest.approx({d: sum(v) for d, v in days.items()})
    ours = api_days(client, TimeseriesReport(), [item_id], to_us(lo), to_us(hi))[item_id]
    assert {d: x.count for d, x in ours.items()} == {to_us(d) // DAY_US: len(v) for d, v in days.items()}
    assert {d: x.total for d, x in ours.items()} == pytest.approx({to_us(d) // DAY_US: sum(v) for d, v in days.items()})
    count = ItemAggregation(id=item_id, aggregation="count", alias="c0")  # the fallback for enum items
    evaluated = ok(sdk.evaluate(items=[count], calculations=[], **window))
    assert frame_points(evaluated, "c0") == {d: len(v) for d, v in days.items()}


def test_enum_rollups_as_state_histograms_parse_in_the_sdk(sdk: Client, ts: TimeseriesState) -> None:
    item_id = next(i for i in demo_item_ids(ts) if ts.store.items[i].resource.attributes["valueType"] == "enum")
    attributes = ts.store.items[item_id].resource.attributes
    ts.configure(enum_rollup="histogram")
    hi = now(ts)
    lo = hi - 3 * DAY
    result = ok(sdk.data_frame(filter=Filter(fields={"id": In(value=[item_id])}), gte=lo, lt=hi, rollup="P1D"))
    assert set(result.data.series) == {f"{item_id}_{state}" for state in attributes["enumValues"]}
    seconds = sum(sum(v for v in values if v is not None) for values in result.data.series.values())
    interval = duration_ms(attributes["sampleInterval"]) / 1000
    assert seconds == len(samples(ts, item_id, lo, hi)) * interval


@pytest.fixture(scope="module")
def long_history(ts_now: str) -> Iterator[tuple[TimeseriesState, str]]:
    """Three items with 120 days of samples: enough for raw frames the SDK must split into 40-day windows."""
    state = TimeseriesState(TimeseriesConfig(seed=5, items=3, history_days=120, now=ts_now))
    server = Server(state)
    yield state, server.start()
    server.stop()


def test_data_frame_over_90_days_is_split_by_the_sdk_and_merges_exactly(
    long_history: tuple[TimeseriesState, str], tmp_path: Path
) -> None:
    state, base_url = long_history
    hi = now(state)
    lo = hi - 90 * DAY
    before = len(state.methods_called("clarify.dataFrame"))
    result = ok(sdk_for(state, base_url, tmp_path).data_frame(gte=lo, lt=hi, limit=3))
    assert len(state.methods_called("clarify.dataFrame")) - before == 3  # 40 + 40 + 10 days
    for item_id in state.store.items:
        expected = samples(state, item_id, lo, hi)
        assert len(expected) >= 80 and frame_points(result, item_id) == expected


def test_evaluate_aggregates_items_and_calculates(sdk: Client, ts: TimeseriesState) -> None:
    a, b = demo_item_ids(ts, "PT15M")[:2]
    hi = now(ts).replace(minute=0, second=0, microsecond=0)
    lo = hi - 2 * DAY
    items = [
        ItemAggregation(id=a, aggregation="avg", alias="i1"),
        ItemAggregation(id=b, aggregation="count", alias="i2", lag=1),
    ]
    calculations = [Calculation(formula="i1 * 2 + i2", alias="c1"), Calculation(formula="c1 - i1", alias="c2")]
    result = ok(sdk.evaluate(rollup="PT1H", items=items, calculations=calculations, gte=lo, lt=hi, include=["items"]))
    hourly: dict[datetime, list[float]] = {}
    for t, value in samples(ts, a, lo, hi).items():
        hourly.setdefault(t.replace(minute=0, second=0, microsecond=0), []).append(value)
    assert frame_points(result, "i1") == pytest.approx({t: sum(v) / len(v) for t, v in hourly.items()})
    columns = [result.data.series[alias] for alias in ("i1", "i2", "c1", "c2")]
    both = [(i1, i2, c1, c2) for i1, i2, c1, c2 in zip(*columns, strict=True) if i1 is not None and i2 is not None]
    assert both and all(c1 == pytest.approx(i1 * 2 + i2) and c2 == pytest.approx(i1 + i2) for i1, i2, c1, c2 in both)
    assert all(c1 is None for i1, i2, c1, _ in zip(*columns, strict=True) if i1 is None or i2 is None)
    assert {item.id for item in result.included.items} == {a, b}


def test_evaluate_lag_shifts_buckets(sdk: Client, ts: TimeseriesState) -> None:
    item = demo_item_ids(ts, "PT1H")[0]
    hi = now(ts).replace(minute=0, second=0, microsecond=0)
    lo = hi - DAY
    plain = ItemAggregation(id=item, aggregation="sum", alias="now1")
    lagged = ItemAggregation(id=item, aggregation="sum", alias="before1", lag=1)
    result = ok(sdk.evaluate(rollup="PT1H", items=[plain, lagged], calculations=[], gte=lo, lt=hi))
    hour = timedelta(hours=1)
    plain_points = frame_points(result, "now1")
    assert len(plain_points) >= 4
    assert frame_points(result, "before1") == {t + hour: v for t, v in plain_points.items() if t + hour < hi}


# --- writes -----------------------------------------------------------------------------------------


def test_insert_keeps_microseconds(sdk: Client, ts: TimeseriesState) -> None:
    t0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    times = [t0, t0 + timedelta(microseconds=1), t0 + timedelta(hours=1)]
    result = ok(sdk.insert(DataFrame(times=times, series={"sdk_insert": [1.5, 2.5, None]})))
    summary = result.signalsByInput["sdk_insert"]
    signal = ts.store.signals[summary.id]
    assert summary.created is True and signal.input_id == "sdk_insert"
    assert {iso_us(t): v for t, v in signal.overlay.items() if v is not None} == {
        "2025-03-04T05:06:07.123456Z": 1.5,
        "2025-03-04T05:06:07.123457Z": 2.5,
    }
    assert sorted(signal.overlay)[0] % US_PER_MS == 456


def test_save_signals_creates_then_updates(sdk: Client, ts: TimeseriesState) -> None:
    signal = Signal(name="SDK saved", labels={"site": ["oslo"]}, annotations={"clarify-sync/test": "yes"})
    first = ok(sdk.save_signals(input_ids=["sdk_saved"], signals=[signal])).signalsByInput["sdk_saved"]
    assert (first.created, first.updated) == (True, False)
    again = ok(sdk.save_signals(signals_by_input={"sdk_saved": signal})).signalsByInput["sdk_saved"]
    assert (again.created, again.updated) == (False, False)
    renamed = Signal(name="SDK renamed", annotations={"clarify-sync/test": "yes"})
    assert ok(sdk.save_signals(input_ids=["sdk_saved"], signals=[renamed])).signalsByInput["sdk_saved"].updated
    view = ok(sdk.select_signals(filter=Filter(fields={"input": "sdk_saved"}))).data[0]
    assert view.attributes.name == "SDK renamed" and view.meta.annotations == {"clarify-sync/test": "yes"}


def test_publish_signals_creates_then_updates(sdk: Client, ts: TimeseriesState) -> None:
    saved = ok(sdk.save_signals(input_ids=["sdk_published"], signals=[Signal(name="To publish")]))
    signal_id = saved.signalsByInput["sdk_published"].id
    item = Item(name="Published", visible=True, labels={"kind": ["test"]})
    first = ok(sdk.publish_signals(signal_ids=[signal_id], items=[item])).itemsBySignal[signal_id]
    assert (first.created, first.updated) == (True, False)
    changed = Item(name="Published again", visible=True)
    second = ok(sdk.publish_signals(items_by_signal={signal_id: changed})).itemsBySignal[signal_id]
    assert (second.id, second.created, second.updated) == (first.id, False, True)
    listed = ok(sdk.select_items(filter=Filter(fields={"id": In(value=[first.id])}))).data
    assert [i.attributes.name for i in listed] == ["Published again"]


@pytest.mark.parametrize("code", [-32015, -32021])
def test_errors_reach_the_sdk_with_trace_params_and_partial_result(sdk: Client, ts: TimeseriesState, code: int) -> None:
    ts.faults.add(code, method="integration.insert", ids=["sdk_err_b"] if code == -32021 else None)
    t0 = datetime(2025, 3, 5, tzinfo=UTC)
    response = sdk.insert(DataFrame(times=[t0], series={"sdk_err_a": [1.0], "sdk_err_b": [2.0]}))
    assert response.error.code == code and response.error.data.trace
    if code == -32021:
        assert list(response.error.data.params) == ["data.series.sdk_err_b"]
        assert list(response.error.data.partialResult["signalsByInput"]) == ["sdk_err_a"]


# --- golden shapes from clarify-go's testdata/ ------------------------------------------------------

# Maps keyed by data (ids, label keys), not by field names: their values are compared with each other.
DATA_KEYED = ("series", "labels", "annotations", "enumValues")
# Members the emulator sends beyond the recorded ones, each known to clarify-go's views (which refuse unknown
# fields): `views/resource.go` Meta.RelationshipsHash.
ALLOWED_EXTRA = {"relationshipsHash"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}[type(value)]


def shape_diff(golden: Any, answer: Any, path: str = "$") -> list[str]:
    """Where `answer`'s structure differs from `golden`'s: keys and JSON types, recursively.

    null on either side matches anything (a recorded `sampleInterval: null` may be a duration elsewhere, and
    series values may be null); arrays compare every element with the recording's first.
    """
    want, got = _kind(golden), _kind(answer)
    if "null" in (want, got):
        return []
    if want != got:
        return [f"{path}: {got} instead of {want}"]
    if want == "array":
        return [p for element in answer for p in shape_diff(golden[0], element, f"{path}[]")] if golden else []
    if want != "object":
        return []
    if path.rsplit(".", 1)[-1] in DATA_KEYED:
        sample = next(iter(golden.values()), None)
        return [p for key, value in answer.items() for p in shape_diff(sample, value, f"{path}.<{key}>")]
    problems = [f"{path}.{key}: missing" for key in golden if key not in answer]
    problems += [f"{path}.{key}: not recorded" for key in answer if key not in golden and key not in ALLOWED_EXTRA]
    return problems + [
        p for key in golden if key in answer for p in shape_diff(golden[key], answer[key], f"{path}.{key}")
    ]


def test_shape_diff_can_fail() -> None:
    golden = {"meta": {"total": 1}, "data": [{"id": "a", "labels": {"x": ["y"]}, "gap": None}]}
    assert (
        shape_diff(golden, {"meta": {"total": 2}, "data": [{"id": "b", "labels": {"k": ["v"]}, "gap": "PT1H"}]}) == []
    )
    wrong = {"meta": {"total": "2"}, "data": [{"labels": {"k": [1]}, "gap": None, "x": 1}]}
    assert sorted(shape_diff(golden, wrong)) == [
        "$.data[].id: missing",
        "$.data[].labels.<k>[]: number instead of string",
        "$.data[].x: not recorded",
        "$.meta.total: string instead of number",
    ]


@pytest.fixture
def raw_rpc(ts: TimeseriesState, base_url: str) -> Iterator[Any]:
    form = {
        "grant_type": "client_credentials",
        "client_id": ts.config.client_id,
        "client_secret": ts.config.client_secret,
        "audience": f"{base_url}/v1/",
    }
    token = httpx.post(f"{base_url}/v1/oauth/token", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-API-Version": "1.1"}
    with httpx.Client(base_url=base_url, headers=headers) as http:

        def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
            body = http.post("/v1/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
            assert set(body) == {"jsonrpc", "id", "result"}, body
            return body["result"]

        yield call


GROUPED = {"dataAsArray": True, "groupIncludedByType": True}


def test_select_signals_matches_the_recorded_shape(raw_rpc: Any, ts: TimeseriesState) -> None:
    golden = orjson.loads((GOLDEN / "result_admin_selectsignals.json").read_bytes())
    query = {"filter": {"input": {"$regex": "^demo_"}}, "limit": 2, "total": True}
    params = {"integration": ts.config.integration, "query": query, "include": ["item"]}
    answer = raw_rpc("admin.selectSignals", {**params, "format": GROUPED})
    assert len(answer["data"]) == 2 and len(answer["included"]["items"]) == 2
    assert sorted(shape_diff(golden, answer)) == []


def test_rolled_up_data_frame_matches_the_recorded_shape(raw_rpc: Any, ts: TimeseriesState) -> None:
    golden = orjson.loads((GOLDEN / "result_clarify_dataframe_rollup.json").read_bytes())
    hi = ts.store.now_ms() * US_PER_MS
    window = {"$gte": iso_us(hi - 3 * 3_600_000_000), "$lt": iso_us(hi)}
    params = {
        "query": {"filter": {"id": {"$in": demo_item_ids(ts)[:2]}}, "limit": 2, "total": True},
        "data": {"filter": {"times": window}, "rollup": "PT1H"},
        "include": ["items"],
        "format": GROUPED,
    }
    answer = raw_rpc("clarify.dataFrame", params)
    assert sorted(shape_diff(golden, answer)) == []
    suffixes = {key.rsplit("_", 1)[1] for key in answer["data"]["series"]}
    assert suffixes == {key.rsplit("_", 1)[1] for key in golden["data"]["series"]}
    assert all(re.fullmatch(r"[a-v0-9]{20}_[a-z]+", key) for key in answer["data"]["series"])
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", t) for t in answer["data"]["times"])
