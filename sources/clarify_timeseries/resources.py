"""Items and signals: paged by a moving `id` filter, flattened, skipped when their hashes are unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sources.clarify_timeseries import settings as s
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
        result = client.call(method, {**extra, "query": query})
        page = result.get("data") or []
        if page:
            yield page
        if len(page) < page_size:
            return
        last = page[-1]["id"]


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
    row = _common(view, "item_id")
    row["visible"] = (view.get("attributes") or {}).get("visible")
    row["signal_id"] = _rel_id(view, "source")
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
}
