"""Selection results: `{meta: {total, format}, data, included}`, with `include` and `format` honoured.

Shapes from the SDKs: pyclarify `views/generics.py` (`Selection`, `IncludedField*`) and `fields/resource.py`
(`SelectionMeta` needs `format`); clarify-go `views/response.go` (`Selection`, `SelectionFormat`) and the
recorded `testdata/result_admin_selectsignals.json`. `included` is a JSON:API array, or an object keyed by
type when `format.groupIncludedByType` is true (both SDKs always ask for that).
"""

from __future__ import annotations

from typing import Any

from emulator.timeseries.query import ParamIssues

# Relationship names each method can include, and the resource type each brings (clarify-go
# examples/devdata_cli/commands.go: selectSignals `item`, dataFrame and evaluate `items`).
INCLUDABLE: dict[str, dict[str, str]] = {
    "clarify.selectItems": {},
    "admin.selectSignals": {"item": "items"},
    "clarify.dataFrame": {"items": "items"},
    "clarify.evaluate": {"items": "items"},
}
# What the API assumes when a request leaves `format` (or one of its members) out.
DEFAULT_FORMAT = {"dataAsArray": True, "groupIncludedByType": False}


def parse_format(raw: Any) -> dict[str, bool]:
    if raw is None:
        return dict(DEFAULT_FORMAT)
    if not isinstance(raw, dict):
        raise ParamIssues({"format": ["must be an object"]})
    issues = {f"format.{key}": ["unknown field"] for key in raw if key not in DEFAULT_FORMAT}
    issues.update(
        {f"format.{k}": ["must be a boolean"] for k, v in raw.items() if k in DEFAULT_FORMAT and not _flag(v)}
    )
    if issues:
        raise ParamIssues(issues)
    return {key: bool(raw.get(key) if raw.get(key) is not None else default) for key, default in DEFAULT_FORMAT.items()}


def _flag(value: Any) -> bool:
    return value is None or isinstance(value, bool)


def parse_include(method: str, raw: Any) -> list[str]:
    """The included resource types asked for, in order; unknown relationship names are -32602."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise ParamIssues({"include": ["must be an array of relationship names"]})
    known = INCLUDABLE[method]
    unknown = [name for name in raw if name not in known]
    if unknown:
        allowed = ", ".join(sorted(known)) or "nothing"
        raise ParamIssues({"include": [f"cannot include {', '.join(unknown)}; {method} can include {allowed}"]})
    return list(dict.fromkeys(known[name] for name in raw))


def selection(data: Any, total: int, fmt: dict[str, bool], included: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The result object of a select method: `included` maps type -> resource views, each listed once."""
    grouped = {kind: list({view["id"]: view for view in views}.values()) for kind, views in included.items()}
    flat_or_grouped: Any = grouped if fmt["groupIncludedByType"] else [v for views in grouped.values() for v in views]
    return {"meta": {"total": total, "format": dict(fmt)}, "data": data, "included": flat_or_grouped}
