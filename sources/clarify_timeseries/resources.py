"""Items and signals: paged by a moving `id` filter, flattened, skipped when their hashes are unchanged, and
removed when Clarify no longer has them (the reconcile pass, as for CRM records)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sources.clarify_timeseries.settings as s
from core.warehouse import DELETED_COLUMN
from sources.clarify_timeseries.report import TimeseriesReport
from sources.clarify_timeseries.rpc import RpcClient


def select_all(
    client: RpcClient,
    method: str,
    extra: dict[str, Any],
    flt: dict[str, Any] | None,
    page_size: int = s.SELECT_LIMIT,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of resource views, sorted by id; the next page filters `id > last id` (no deep skips)."""
    last: str | None = None
    while True:
        conditions = [flt] if flt else []
        if last is not None:
            conditions.append({"id": {"$gt": last}})
        query: dict[str, Any] = {"sort": ["id"], "limit": page_size}
        if conditions:
            query["filter"] = conditions[0] if len(conditions) == 1 else {"$and": conditions}
        result = client.call(method, {**extra, "query": query, "format": s.SELECTION_FORMAT})
        page = result.get("data") or []
        if page:
            yield page
        if len(page) < page_size:
            return
        last = page[-1]["id"]


def gone(client: RpcClient, method: str, extra: dict[str, Any], missing: list[str]) -> list[str]:
    """Of ids missing from a listing, those Clarify no longer has (a filtered listing misses live ones too)."""
    out: list[str] = []
    for start in range(0, len(missing), s.CONFIRM_IDS):
        chunk = missing[start : start + s.CONFIRM_IDS]
        live = {view["id"] for page in select_all(client, method, extra, {"id": {"$in": chunk}}) for view in page}
        out.extend(i for i in chunk if i not in live)
    return out


def changed_rows(
    name: str,
    views: list[dict[str, Any]],
    hashes: dict[str, str],
    removed: list[str],
    to_row: Callable[[dict[str, Any]], dict[str, Any]],
    report: TimeseriesReport,
) -> Iterator[dict[str, Any]]:
    """Rows of resources whose hashes changed since the last run, then a deletion row per removed id."""
    rows = 0
    for view in views:
        digest = resource_hash(view)
        if hashes.get(view["id"]) == digest:
            report.unchanged[name] = report.unchanged.get(name, 0) + 1
            continue
        hashes[view["id"]] = digest
        rows += 1
        yield to_row(view)
    for resource_id in removed:
        hashes.pop(resource_id, None)
        yield {"id": resource_id, DELETED_COLUMN: True}
    report.add(name, rows)
    report.deleted[name] = list(removed)


def resource_hash(view: dict[str, Any]) -> str:
    meta = view.get("meta") or {}
    return f"{meta.get('attributesHash', '')}:{meta.get('relationshipsHash', '')}"


def _rel_id(view: dict[str, Any], name: str) -> str | None:
    data = ((view.get("relationships") or {}).get(name) or {}).get("data")
    return data.get("id") if isinstance(data, dict) else None


def _common(view: dict[str, Any], owner: str) -> dict[str, Any]:
    attrs = view.get("attributes") or {}
    meta = view.get("meta") or {}
    labels = attrs.get("labels") or {}
    return {
        "id": view["id"],
        "name": attrs.get("name"),
        "description": attrs.get("description"),
        "eng_unit": attrs.get("engUnit"),
        "value_type": attrs.get("valueType"),
        "source_type": attrs.get("sourceType"),
        "sample_interval": attrs.get("sampleInterval"),
        "gap_detection": attrs.get("gapDetection"),
        "enum_values": attrs.get("enumValues") or {},
        "annotations": meta.get("annotations") or {},
        "created_at": meta.get("createdAt"),
        "updated_at": meta.get("updatedAt"),
        "attributes_hash": meta.get("attributesHash"),
        "relationships_hash": meta.get("relationshipsHash"),
        # One row per (key, value) in the child table `<table>__labels`, carrying the owner's id.
        "labels": [
            {owner: view["id"], "key": key, "value": value} for key in sorted(labels) for value in (labels[key] or [])
        ],
    }


def item_row(view: dict[str, Any]) -> dict[str, Any]:
    """An item's row. Items carry no link to their signal (clarify-go views/item.go): `signals.item_id` has it."""
    row = _common(view, "item_id")
    row["visible"] = (view.get("attributes") or {}).get("visible")
    return row


def signal_row(view: dict[str, Any]) -> dict[str, Any]:
    row = _common(view, "signal_id")
    row["input"] = (view.get("attributes") or {}).get("input")
    row["integration_id"] = _rel_id(view, "integration")
    row["item_id"] = _rel_id(view, "item")
    return row


RESOURCE_COLUMNS: dict[str, dict[str, Any]] = {
    "created_at": {"data_type": "timestamp", "timezone": True},
    "updated_at": {"data_type": "timestamp", "timezone": True},
    "enum_values": {"data_type": "json"},
    "annotations": {"data_type": "json"},
    "visible": {"data_type": "bool"},
    DELETED_COLUMN: {"data_type": "bool", "hard_delete": True},
}
