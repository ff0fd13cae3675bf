"""The RPC methods: each takes named params (validated, -32602 with paths) and returns a result object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.timefmt import parse_ts
from emulator.timeseries.data import DAY_MS, SIGNAL_DEFAULTS, iso
from emulator.timeseries.durations import duration_ms
from emulator.timeseries.faults import Fault
from emulator.timeseries.query import ParamIssues, parse_query, run_query
from emulator.timeseries.state import TimeseriesState


class RpcError(Exception):
    """A JSON-RPC error response: code, message, optional `data.params` and other `data` members."""

    def __init__(
        self,
        code: int,
        message: str,
        params: dict[str, list[str]] | None = None,
        data: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params
        self.data = data


class Call:
    """One method call in progress: the state, the caller's integration and any fault it drew."""

    def __init__(self, state: TimeseriesState, integration: str, fault: Fault | None):
        self.state = state
        self.integration = integration
        self.fault = fault


Method = Callable[[Call, dict[str, Any]], dict[str, Any]]

# Parameter names in order, for positional (array) params.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "clarify.selectItems": ("query", "include", "format"),
    "admin.selectSignals": ("integration", "query", "include", "format"),
    "clarify.dataFrame": ("query", "data", "include", "format"),
    "integration.insert": ("integration", "data"),
    "integration.saveSignals": ("integration", "inputs", "createOnly"),
    "admin.publishSignals": ("integration", "itemsBySignal", "createOnly"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "admin.selectSignals": ("integration",),
    "integration.insert": ("integration", "data"),
    "integration.saveSignals": ("integration", "inputs"),
    "admin.publishSignals": ("integration", "itemsBySignal"),
}

_SIGNAL_ATTRS = set(SIGNAL_DEFAULTS)
_ITEM_ATTRS = _SIGNAL_ATTRS | {"visible"}


def _check_known(method: str, params: dict[str, Any]) -> None:
    issues = {key: ["unknown parameter"] for key in params if key not in SIGNATURES[method]}
    for key in REQUIRED.get(method, ()):
        if key not in params:
            issues[key] = ["required"]
    if issues:
        raise ParamIssues(issues)


def _check_integration(call: Call, params: dict[str, Any]) -> None:
    if not isinstance(params["integration"], str):
        raise ParamIssues({"integration": ["must be a string"]})
    if params["integration"] != call.integration:
        raise RpcError(-32003, "Forbidden")


def _fail_ids(fault: Fault | None, ids: list[str]) -> set[str]:
    """Ids a -32021 fault fails: its own list, or every other one of those in the request."""
    if fault is None or fault.code != -32021:
        return set()
    if fault.ids is not None:
        return set(ids) & fault.ids
    return set(sorted(ids)[::2])


def _partial(failed: dict[str, list[str]]) -> RpcError:
    return RpcError(-32021, "Partial failure", failed)


def _check_attributes(attrs: Any, path: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(attrs, dict):
        raise ParamIssues({path: ["must be an object"]})
    issues: dict[str, list[str]] = {}
    for key, value in attrs.items():
        if key not in allowed:
            issues[f"{path}.{key}"] = ["unknown attribute"]
        elif key == "labels" and not (
            isinstance(value, dict)
            and all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values())
        ):
            issues[f"{path}.labels"] = ["must map keys to lists of strings"]
        elif key == "valueType" and value not in ("numeric", "enum"):
            issues[f"{path}.valueType"] = ["must be numeric or enum"]
        elif key == "sourceType" and value not in ("measurement", "aggregation", "prediction"):
            issues[f"{path}.sourceType"] = ["must be measurement, aggregation or prediction"]
        elif key in ("sampleInterval", "gapDetection") and value is not None:
            try:
                duration_ms(value)
            except ValueError:
                issues[f"{path}.{key}"] = ["must be an RFC 3339 duration"]
        elif key in ("name", "description", "engUnit") and not isinstance(value, str):
            issues[f"{path}.{key}"] = ["must be a string"]
    if issues:
        raise ParamIssues(issues)
    return attrs


def select_items(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = call.state.config
    query = parse_query(params.get("query"), "query", 50, config.select_max)
    with call.state.store.lock:
        docs = [item.resource.document() for item in call.state.store.items.values()]
        page, total = run_query(docs, query)
        data = [call.state.store.items[doc["id"]].resource.view() for doc in page]
    return {
        "meta": {"total": total if query["total"] else -1, "groupIncludedByType": False},
        "data": data,
        "included": [],
    }


def select_signals(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    config = call.state.config
    query = parse_query(params.get("query"), "query", 50, config.select_max)
    store = call.state.store
    with store.lock:
        signals = {s.resource.id: s for s in store.signals.values() if s.integration == params["integration"]}
        docs = []
        for signal in signals.values():
            doc = signal.resource.document()
            doc["input"] = signal.input_id
            docs.append(doc)
        page, total = run_query(docs, query)
        data = []
        for doc in page:
            view = signals[doc["id"]].resource.view()
            view["attributes"]["input"] = signals[doc["id"]].input_id
            data.append(view)
    return {
        "meta": {"total": total if query["total"] else -1, "groupIncludedByType": False},
        "data": data,
        "included": [],
    }


def _time(value: Any, path: str) -> int:
    if not isinstance(value, str):
        raise ParamIssues({path: ["must be an RFC 3339 timestamp"]})
    try:
        dt = parse_ts(value)
    except ValueError:
        raise ParamIssues({path: ["must be an RFC 3339 timestamp"]}) from None
    return int(dt.timestamp() * 1000)


def data_frame(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = call.state.config
    query = parse_query(params.get("query"), "query", config.frame_items_max, config.frame_items_max)
    data = params.get("data") or {}
    if not isinstance(data, dict):
        raise ParamIssues({"data": ["must be an object"]})
    unknown = set(data) - {"filter", "rollup", "timeZone", "firstDayOfWeek", "last"}
    if unknown:
        raise ParamIssues({f"data.{key}": ["unknown field"] for key in sorted(unknown)})
    times = (data.get("filter") or {}).get("times") or {}
    if not isinstance(times, dict):
        raise ParamIssues({"data.filter.times": ["must be an object"]})
    rollup = data.get("rollup")
    bucket: int | None = None
    if rollup is not None:
        if rollup == "window":
            bucket = -1
        else:
            try:
                bucket = duration_ms(rollup)
            except ValueError:
                raise ParamIssues({"data.rollup": ['must be an RFC 3339 duration or "window"']}) from None
    now = call.state.store.now_ms()
    hi = _time(times["$lt"], "data.filter.times.$lt") if "$lt" in times else now
    lo = _time(times["$gte"], "data.filter.times.$gte") if "$gte" in times else hi - config.frame_days_max * DAY_MS
    max_days = (
        config.rollup_days_max if bucket is not None and (bucket == -1 or bucket > 60_000) else config.frame_days_max
    )
    if hi <= lo:
        raise ParamIssues({"data.filter.times": ["$lt must be after $gte"]})
    if hi - lo > max_days * DAY_MS:
        raise ParamIssues({"data.filter.times": [f"time window exceeds {max_days} days"]})
    store = call.state.store
    with store.lock:
        docs = [item.resource.document() for item in store.items.values()]
        page, _ = run_query(docs, query)
        ids = [doc["id"] for doc in page]
        failed = _fail_ids(call.fault, ids)
        if failed:
            raise _partial({f"query.items.{item_id}": ["could not be read; try again"] for item_id in sorted(failed)})
        per_item = {item_id: store.samples(item_id, lo, hi) for item_id in ids}
    fmt = params.get("format") or {}
    as_array = fmt.get("dataAsArray", True) if isinstance(fmt, dict) else True
    if bucket is None:
        all_times = sorted({t for samples in per_item.values() for t in samples})
        series = {item_id: [samples.get(t) for t in all_times] for item_id, samples in per_item.items()}
    else:
        buckets: dict[str, dict[int, list[float]]] = {}
        for item_id, samples in per_item.items():
            grouped: dict[int, list[float]] = {}
            for t, value in samples.items():
                start = lo if bucket == -1 else t - t % bucket
                grouped.setdefault(start, []).append(value)
            buckets[item_id] = grouped
        all_times = sorted({t for grouped in buckets.values() for t in grouped})
        series = {}
        for item_id, grouped in buckets.items():
            for name, agg in (
                ("min", min),
                ("max", max),
                ("sum", sum),
                ("count", len),
                ("avg", lambda v: sum(v) / len(v)),
            ):
                series[f"{item_id}_{name}"] = [
                    (float(agg(grouped[t])) if name != "count" else len(grouped[t])) if t in grouped else None
                    for t in all_times
                ]
    iso_times = [iso(t) for t in all_times]
    if as_array:
        frame: Any = {"times": iso_times, "series": series}
    else:
        frame = [{"times": t, **{key: values[i] for key, values in series.items()}} for i, t in enumerate(iso_times)]
    return {"meta": {}, "data": frame, "included": []}


def insert(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    data = params["data"]
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("times"), list)
        or not isinstance(data.get("series"), dict)
    ):
        raise ParamIssues({"data": ["must be an object with times (array) and series (object)"]})
    times: list[int] = []
    issues: dict[str, list[str]] = {}
    for index, value in enumerate(data["times"]):
        try:
            times.append(_time(value, f"data.times.{index}"))
        except ParamIssues as exc:
            issues.update(exc.issues)
    for input_id, values in data["series"].items():
        if not isinstance(values, list) or len(values) != len(data["times"]):
            issues[f"data.series.{input_id}"] = ["must be an array as long as data.times"]
        elif not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
            issues[f"data.series.{input_id}"] = ["values must be numbers or null"]
    if issues:
        raise ParamIssues(issues)
    failed = _fail_ids(call.fault, list(data["series"]))
    store = call.state.store
    result: dict[str, Any] = {}
    with store.lock:
        for input_id, values in data["series"].items():
            if input_id in failed:
                continue
            signal, created = store.signal_for_input(params["integration"], input_id, create=True)
            assert signal is not None
            signal.overlay.update(zip(times, values, strict=True))
            result[input_id] = {"id": signal.resource.id, "created": created}
    if failed:
        raise _partial({f"data.series.{input_id}": ["not written; try again"] for input_id in sorted(failed)})
    return {"signalsByInput": result}


def save_signals(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    inputs = params["inputs"]
    if not isinstance(inputs, dict):
        raise ParamIssues({"inputs": ["must be an object"]})
    create_only = params.get("createOnly", False)
    if not isinstance(create_only, bool):
        raise ParamIssues({"createOnly": ["must be a boolean"]})
    issues: dict[str, list[str]] = {}
    for input_id, attrs in inputs.items():
        try:
            _check_attributes(attrs, f"inputs.{input_id}", _SIGNAL_ATTRS)
        except ParamIssues as exc:
            issues.update(exc.issues)
    if issues:
        raise ParamIssues(issues)
    failed = _fail_ids(call.fault, list(inputs))
    store = call.state.store
    result: dict[str, Any] = {}
    with store.lock:
        for input_id, attrs in inputs.items():
            if input_id in failed:
                continue
            signal, created = store.signal_for_input(params["integration"], input_id, create=True)
            assert signal is not None
            if created or not create_only:
                merged = {**signal.resource.attributes, **attrs}
                if merged != signal.resource.attributes:
                    signal.resource.attributes = merged
                    signal.resource.touch(store.now_ms())
            result[input_id] = {"id": signal.resource.id, "created": created}
    if failed:
        raise _partial({f"inputs.{input_id}": ["not saved; try again"] for input_id in sorted(failed)})
    return {"signalsByInput": result}


def publish_signals(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    by_signal = params["itemsBySignal"]
    if not isinstance(by_signal, dict):
        raise ParamIssues({"itemsBySignal": ["must be an object"]})
    create_only = params.get("createOnly", False)
    if not isinstance(create_only, bool):
        raise ParamIssues({"createOnly": ["must be a boolean"]})
    store = call.state.store
    issues: dict[str, list[str]] = {}
    with store.lock:
        for signal_id, attrs in by_signal.items():
            try:
                _check_attributes(attrs, f"itemsBySignal.{signal_id}", _ITEM_ATTRS)
            except ParamIssues as exc:
                issues.update(exc.issues)
            signal = store.signals.get(signal_id)
            if signal is None or signal.integration != params["integration"]:
                issues.setdefault(f"itemsBySignal.{signal_id}", []).append("no such signal in this integration")
        if issues:
            raise ParamIssues(issues)
        failed = _fail_ids(call.fault, list(by_signal))
        result: dict[str, Any] = {}
        for signal_id, attrs in by_signal.items():
            if signal_id in failed:
                continue
            item, created = store.publish(store.signals[signal_id], attrs, create_only)
            result[signal_id] = {"id": item.resource.id, "created": created}
    if failed:
        raise _partial({f"itemsBySignal.{sid}": ["not published; try again"] for sid in sorted(failed)})
    return {"itemsBySignal": result}


METHODS: dict[str, Method] = {
    "clarify.selectItems": select_items,
    "admin.selectSignals": select_signals,
    "clarify.dataFrame": data_frame,
    "integration.insert": insert,
    "integration.saveSignals": save_signals,
    "admin.publishSignals": publish_signals,
}


_BY_LOWER = {name.lower(): name for name in METHODS}


def canonical_method(name: str) -> str | None:
    """The method's own spelling, matched case-insensitively (older pyclarify sent `clarify.SelectItems`)."""
    return _BY_LOWER.get(name.lower())


def invoke(call: Call, method: str, raw_params: Any) -> dict[str, Any]:
    """Map positional params to names, check them, apply the drawn fault, run the method."""
    if raw_params is None:
        params: dict[str, Any] = {}
    elif isinstance(raw_params, list):
        names = SIGNATURES[method]
        if len(raw_params) > len(names):
            raise ParamIssues({str(len(names)): ["too many positional parameters"]})
        params = dict(zip(names, raw_params, strict=False))
    else:
        params = raw_params
    _check_known(method, params)
    fault = call.fault
    if fault is not None and fault.code != -32021:
        raise RpcError(fault.code, _FAULT_MESSAGES.get(fault.code, "Server error"))
    return METHODS[method](call, params)


_FAULT_MESSAGES = {
    -32000: "Server error",
    -32003: "Forbidden",
    -32009: "Conflict",
    -32011: "Too many requests",
    -32015: "Try again",
    -32603: "Internal error",
}
