"""The RPC methods: each takes named params (validated, -32602 with paths) and returns a result object.

Parameter and result names follow the SDKs: pyclarify `views/*.py` (`SaveSignalsParams.signalsByInput`,
with `inputs` as its legacy alias; `SaveSummary` with `created` and `updated`) and clarify-go
`views/response.go` (`SaveSummary`, `CreateSummary`). A -32021 partial failure carries what succeeded in
`data.partialResult`, shaped like the full result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.timeseries.data import SIGNAL_DEFAULTS, SeriesStore, Signal
from emulator.timeseries.durations import duration_ms
from emulator.timeseries.evaluate import check_items, evaluate_frame, evaluation_query
from emulator.timeseries.faults import Fault
from emulator.timeseries.frames import StateHistogram, frame, parse_data_query, time_param
from emulator.timeseries.query import ParamIssues, parse_query, run_query
from emulator.timeseries.selection import parse_format, parse_include, selection
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

# Parameter names in order, for positional (array) params; `inputs` is saveSignals' legacy name.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "clarify.selectItems": ("query", "include", "format"),
    "admin.selectSignals": ("integration", "query", "include", "format"),
    "clarify.dataFrame": ("query", "data", "include", "format"),
    "clarify.evaluate": ("items", "calculations", "data", "include", "format", "groups"),
    "integration.insert": ("integration", "data"),
    "integration.saveSignals": ("integration", "signalsByInput", "createOnly", "inputs"),
    "admin.publishSignals": ("integration", "itemsBySignal", "createOnly"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "clarify.evaluate": ("data",),
    "admin.selectSignals": ("integration",),
    "integration.insert": ("integration", "data"),
    "integration.saveSignals": ("integration",),
    "admin.publishSignals": ("integration", "itemsBySignal"),
}

_SIGNAL_ATTRS = set(SIGNAL_DEFAULTS) | {"annotations"}
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


def _create_only(params: dict[str, Any]) -> bool:
    value = params.get("createOnly")
    if value is not None and not isinstance(value, bool):
        raise ParamIssues({"createOnly": ["must be a boolean"]})
    return bool(value)


def _fail_ids(fault: Fault | None, ids: list[str]) -> set[str]:
    """Ids a -32021 fault fails: its own list, or every other one of those in the request."""
    if fault is None or fault.code != -32021:
        return set()
    if fault.ids is not None:
        return set(ids) & fault.ids
    return set(sorted(ids)[::2])


def _partial(failed: dict[str, list[str]], partial_result: dict[str, Any]) -> RpcError:
    return RpcError(-32021, "Partial failure", failed, {"partialResult": partial_result})


def _attribute_issue(key: str, value: Any) -> str | None:
    if key == "labels" and not (
        isinstance(value, dict)
        and all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values())
    ):
        return "must map keys to lists of strings"
    if key == "annotations" and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
        return "must map keys to strings"
    if key == "valueType" and value not in ("numeric", "enum"):
        return "must be numeric or enum"
    if key == "sourceType" and value not in ("measurement", "aggregation", "prediction"):
        return "must be measurement, aggregation or prediction"
    if key in ("name", "description", "engUnit") and not isinstance(value, str):
        return "must be a string"
    if key == "visible" and not isinstance(value, bool):
        return "must be a boolean"
    if key in ("sampleInterval", "gapDetection") and value is not None:
        try:
            duration_ms(value)
        except ValueError:
            return "must be an RFC 3339 duration"
    return None


def _check_saves(saves: Any, path: str, allowed: set[str]) -> dict[str, dict[str, Any]]:
    """A map of id -> save view (attributes plus optional `annotations`), checked."""
    if not isinstance(saves, dict):
        raise ParamIssues({path: ["must be an object"]})
    issues: dict[str, list[str]] = {}
    for key, attrs in saves.items():
        if not isinstance(attrs, dict):
            issues[f"{path}.{key}"] = ["must be an object"]
            continue
        for name, value in attrs.items():
            issue = "unknown attribute" if name not in allowed else _attribute_issue(name, value)
            if issue:
                issues[f"{path}.{key}.{name}"] = [issue]
    if issues:
        raise ParamIssues(issues)
    return saves


def _split(view: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None]:
    attrs = {k: v for k, v in view.items() if k != "annotations"}
    return attrs, view.get("annotations")


def select_items(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = call.state.config
    query = parse_query(params.get("query"), "query", 50, config.select_max)
    parse_include("clarify.selectItems", params.get("include"))
    fmt = parse_format(params.get("format"))
    with call.state.store.lock:
        docs = [item.resource.document() for item in call.state.store.items.values()]
        page, total = run_query(docs, query)
        data = [call.state.store.items[doc["id"]].resource.view() for doc in page]
    return selection(data, total if query["total"] else -1, fmt, {})


def _signal_view(signal: Signal) -> dict[str, Any]:
    view = signal.resource.view()
    view["attributes"]["input"] = signal.input_id
    return view


def select_signals(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    query = parse_query(params.get("query"), "query", 50, call.state.config.select_max)
    include = parse_include("admin.selectSignals", params.get("include"))
    fmt = parse_format(params.get("format"))
    store = call.state.store
    with store.lock:
        signals = {s.resource.id: s for s in store.signals.values() if s.integration == params["integration"]}
        docs = [{**s.resource.document(), "input": s.input_id} for s in signals.values()]
        page, total = run_query(docs, query)
        data = [_signal_view(signals[doc["id"]]) for doc in page]
        items = [signals[doc["id"]].item_id for doc in page]
        included = {"items": [store.items[i].resource.view() for i in items if i in store.items]}
    return selection(data, total if query["total"] else -1, fmt, included if "items" in include else {})


def data_frame(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = call.state.config
    store = call.state.store
    query = parse_query(params.get("query"), "query", config.frame_items_max, config.frame_items_max)
    data_query = parse_data_query(params.get("data"), store.now_us())
    include = parse_include("clarify.dataFrame", params.get("include"))
    fmt = parse_format(params.get("format"))
    with store.lock:
        docs = [item.resource.document() for item in store.items.values()]
        page, total = run_query(docs, query)
        ids = [doc["id"] for doc in page]
        failed = _fail_ids(call.fault, ids)
        read = [item_id for item_id in ids if item_id not in failed]
        per_item = {item_id: store.samples_us(item_id, data_query.lo, data_query.hi) for item_id in read}
        included = {"items": [store.items[item_id].resource.view() for item_id in read]} if "items" in include else {}
        histograms = _histograms(store, read) if config.enum_rollup == "histogram" else {}
    result = selection(frame(per_item, data_query, histograms), total if query["total"] else -1, fmt, included)
    if failed:
        raise _partial(
            {f"query.items.{item_id}": ["could not be read; try again"] for item_id in sorted(failed)}, result
        )
    return result


def _histograms(store: SeriesStore, item_ids: list[str]) -> dict[str, StateHistogram]:
    out = {}
    for item_id in item_ids:
        attributes = store.items[item_id].resource.attributes
        if attributes.get("valueType") == "enum":
            interval = attributes.get("sampleInterval")
            seconds = duration_ms(interval) / 1000 if interval else 1.0
            out[item_id] = StateHistogram(tuple(attributes.get("enumValues") or {}), seconds)
    return out


def evaluate(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("groups"):
        raise ParamIssues({"groups": ["group aggregations need API 1.2; this emulator serves 1.1"]})
    items = check_items(params.get("items"))
    if len(items) > call.state.config.frame_items_max:
        raise RpcError(-32023, "Too many items selected", {"items": [f"at most {call.state.config.frame_items_max}"]})
    store = call.state.store
    query, wanted = evaluation_query(params.get("data"), store.now_us())
    include = parse_include("clarify.evaluate", params.get("include"))
    fmt = parse_format(params.get("format"))
    with store.lock:
        ids = list(dict.fromkeys(item["id"] for item in items))
        missing = [f"items.{i}.id" for i, item in enumerate(items) if item["id"] not in store.items]
        if missing:
            raise ParamIssues({path: ["no such item"] for path in missing})
        per_item = {item_id: store.samples_us(item_id, query.lo, query.hi) for item_id in ids}
        included = {"items": [store.items[i].resource.view() for i in ids]} if "items" in include else {}
    evaluated = evaluate_frame(items, params.get("calculations") or [], per_item, query, wanted)
    return selection(evaluated, -1, fmt, included)


def _check_insert_data(data: Any) -> list[int]:
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
            times.append(time_param(value, f"data.times.{index}"))
        except ParamIssues as exc:
            issues.update(exc.issues)
    for input_id, values in data["series"].items():
        if not isinstance(values, list) or len(values) != len(data["times"]):
            issues[f"data.series.{input_id}"] = ["must be an array as long as data.times"]
        elif not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
            issues[f"data.series.{input_id}"] = ["values must be numbers or null"]
    if issues:
        raise ParamIssues(issues)
    return times


def insert(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    times = _check_insert_data(params["data"])
    series = params["data"]["series"]
    failed = _fail_ids(call.fault, list(series))
    store = call.state.store
    result: dict[str, Any] = {}
    with store.lock:
        for input_id, values in series.items():
            if input_id in failed:
                continue
            signal, created = store.signal_for_input(params["integration"], input_id, create=True)
            assert signal is not None
            signal.overlay.update(zip(times, values, strict=True))
            result[input_id] = {"id": signal.resource.id, "created": created}
    if failed:
        issues = {f"data.series.{input_id}": ["not written; try again"] for input_id in sorted(failed)}
        raise _partial(issues, {"signalsByInput": result})
    return {"signalsByInput": result}


def _signals_by_input(params: dict[str, Any]) -> tuple[str, Any]:
    """(the parameter name used, its value): API 1.1 `signalsByInput`, or the legacy `inputs`."""
    if "signalsByInput" in params and "inputs" in params:
        raise ParamIssues({"inputs": ["give signalsByInput or the legacy inputs, not both"]})
    if "signalsByInput" in params:
        return "signalsByInput", params["signalsByInput"]
    if "inputs" in params:
        return "inputs", params["inputs"]
    raise ParamIssues({"signalsByInput": ["required"]})


def save_signals(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    name, raw = _signals_by_input(params)
    saves = _check_saves(raw, name, _SIGNAL_ATTRS)
    create_only = _create_only(params)
    failed = _fail_ids(call.fault, list(saves))
    store = call.state.store
    result: dict[str, Any] = {}
    with store.lock:
        for input_id, view in saves.items():
            if input_id in failed:
                continue
            signal, created = store.signal_for_input(params["integration"], input_id, create=True)
            assert signal is not None
            attrs, annotations = _split(view)
            changed = (created or not create_only) and signal.resource.update(attrs, annotations, store.now_ms())
            result[input_id] = {"id": signal.resource.id, "created": created, "updated": bool(changed) and not created}
    if failed:
        issues = {f"{name}.{input_id}": ["not saved; try again"] for input_id in sorted(failed)}
        raise _partial(issues, {"signalsByInput": result})
    return {"signalsByInput": result}


def publish_signals(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_integration(call, params)
    saves = _check_saves(params["itemsBySignal"], "itemsBySignal", _ITEM_ATTRS)
    create_only = _create_only(params)
    store = call.state.store
    with store.lock:
        missing = [sid for sid in saves if getattr(store.signals.get(sid), "integration", None) != call.integration]
        if missing:
            raise ParamIssues({f"itemsBySignal.{sid}": ["no such signal in this integration"] for sid in missing})
        failed = _fail_ids(call.fault, list(saves))
        result: dict[str, Any] = {}
        for signal_id, view in saves.items():
            if signal_id in failed:
                continue
            attrs, annotations = _split(view)
            item, created, updated = store.publish(store.signals[signal_id], attrs, annotations, create_only)
            result[signal_id] = {"id": item.resource.id, "created": created, "updated": updated}
    if failed:
        issues = {f"itemsBySignal.{sid}": ["not published; try again"] for sid in sorted(failed)}
        raise _partial(issues, {"itemsBySignal": result})
    return {"itemsBySignal": result}


METHODS: dict[str, Method] = {
    "clarify.selectItems": select_items,
    "admin.selectSignals": select_signals,
    "clarify.dataFrame": data_frame,
    "clarify.evaluate": evaluate,
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
