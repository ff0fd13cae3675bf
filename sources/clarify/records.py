"""Records → typed pyarrow tables: one main table per object, child tables for collections and
multi-selects, link tables for to-many relationships.

Naming (documented in the README by the lead):
- main table `<object>`: `id`, `_created_at`/`_updated_at` (timestamp UTC), `_created_by`/`_updated_by`,
  one column per attribute. A person name becomes `name__first_name`, `name__last_name`, `name__full_name`
  whatever shape it arrives in (a plain string fills `full_name` and is split once on the first space);
  a location becomes `location__<part>`; rich text and other structured values are JSON text; a to-one
  link is `<name>_id` (kept as is when the name already ends in `_id`).
- child table `<object>__<field>` (`person__email_addresses`, `person__tags`): `<object>_id`, `value`,
  `position` — one row per item, replaced whenever the parent is loaded again.
- link table `<object>__<relationship>` (`person__companies`): `<object>_id`, `<target>_id`.
- a value that does not fit its column's type (a word in a number field) goes, as text, to the variant
  column `<column>__v_text` (dlt's own convention) and the typed column is null: nothing is dropped.

Replace semantics: every child/link batch carries one marker row per parent with `_deleted = true`
(position -1 / empty target). The tables use dlt's `delete-insert` merge on `merge_key = <object>_id`
with `_deleted` as `hard_delete`, so loading a parent deletes all of its old items (even when it now has
none) and inserts the current ones. Their primary key is (`<object>_id`, `position`) or
(`<object>_id`, `<target>_id`), so staging rows are de-duplicated if a load job runs twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa

from sources.clarify.cursor import parse_ts
from sources.clarify.schema import FieldSpec, ObjectSchema, infer_type
from sources.clarify.settings import (
    CHILD_POSITION,
    CHILD_VALUE,
    DELETED_COLUMN,
    SYSTEM_TEXT,
    SYSTEM_TIMESTAMPS,
    child_table,
    link_target_column,
    parent_column,
)

TS_TYPE = pa.timestamp("us", tz="UTC")
NAME_PARTS = ("first_name", "last_name", "full_name")
LIST_TYPES = ("collection", "multi-select")
MARKER_POSITION = -1  # replace markers: never inserted, but the primary key must not be null
MARKER_TARGET = ""


def system_value(record: dict[str, Any], name: str) -> Any:
    """A system field wherever this API variant puts it: attributes, the record itself, or meta."""
    attrs = record.get("attributes")
    if isinstance(attrs, dict) and name in attrs:
        return attrs[name]
    if name in record:
        return record[name]
    meta = record.get("meta")
    if isinstance(meta, dict) and name in meta:
        return meta[name]
    return None


class _Unfit(Exception):
    pass


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Unfit
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise _Unfit from None
    if isinstance(value, dict) and isinstance(value.get("amount"), int | float | str):
        return _to_float(value["amount"])
    raise _Unfit


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
        except ValueError:
            raise _Unfit from None
    raise _Unfit


def _to_ts(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return parse_ts(value)
        except Exception:
            raise _Unfit from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise _Unfit


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _Unfit


_CONVERT = {"double": (_to_float, pa.float64()), "date": (_to_date, pa.date32()), "timestamp": (_to_ts, TS_TYPE),
            "bool": (_to_bool, pa.bool_()), "text": (_to_text, pa.string())}


def _column_kind(ftype: str) -> str:
    return {"number": "double", "currency": "double", "date": "date", "datetime": "timestamp",
            "checkbox": "bool"}.get(ftype, "text")


def _record_id_value(value: Any) -> Any:
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


def _split_name(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        parts = {k: value.get(k) for k in NAME_PARTS}
        if parts["full_name"] is None and (parts["first_name"] or parts["last_name"]):
            parts["full_name"] = " ".join(p for p in (parts["first_name"], parts["last_name"]) if p)
        return parts
    text = str(value)
    first, _, last = text.strip().partition(" ")
    return {"first_name": first or None, "last_name": last or None, "full_name": text}


def _items(value: Any) -> list[Any]:
    if isinstance(value, dict):
        value = value.get("items")
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _item_text(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("value", "email", "address", "domain", "number", "name", "id"):
            if isinstance(item.get(key), str):
                return item[key]
    return _to_text(item)


def _relationship_ids(value: Any) -> list[str] | None:
    """Ids of related records from `{"data": [...]}`, a list of ids/objects, or None when absent."""
    if isinstance(value, dict) and "data" in value:
        value = value["data"]
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    return [str(v["id"]) if isinstance(v, dict) else str(v) for v in value if v is not None]


class PageConverter:
    """Converts pages of one object; keeps field types stable across pages (and runs, via `inferred`)."""

    def __init__(self, schema: ObjectSchema, inferred: dict[str, str] | None = None) -> None:
        self.schema = schema
        self.obj = schema.slug
        self.inferred = inferred if inferred is not None else {}
        self.parent_col = parent_column(schema.slug)

    # -- field typing -------------------------------------------------------------------------------------
    def field_type(self, name: str, value: Any = None) -> str | None:
        spec = self.schema.fields.get(name)
        if spec is not None:
            if name == "name" and self.obj == "person" and spec.type == "text":
                return "name"
            return spec.type
        known = self.inferred.get(name)
        if known is None:
            known = infer_type(value)
            if known is not None:
                self.inferred[name] = known
        return known

    def list_fields(self) -> list[str]:
        names = [n for n, f in self.schema.fields.items() if f.type in LIST_TYPES]
        names += [n for n, t in self.inferred.items() if t in LIST_TYPES and n not in self.schema.fields]
        return names

    def child_tables(self) -> list[str]:
        """Every child and link table this object can produce (for replace markers and reconcile)."""
        return [child_table(self.obj, n) for n in self.list_fields()] + [
            child_table(self.obj, r) for r in self.schema.relationships
        ]

    # -- conversion -----------------------------------------------------------------------------------------
    def convert(self, records: list[dict[str, Any]]) -> list[tuple[str, pa.Table]]:
        """(table name, arrow table) pairs for one page: the main table first."""
        ids = [str(r.get("id")) for r in records]
        columns: dict[str, list[Any]] = {"id": ids}
        kinds: dict[str, str] = {"id": "text"}
        variants: dict[str, list[Any]] = {}
        n = len(records)

        def put(col: str, kind: str, i: int, value: Any) -> None:
            if col not in columns:
                columns[col] = [None] * n
                kinds[col] = kind
            if value is None:
                return
            convert = _CONVERT[kinds[col]][0]
            try:
                columns[col][i] = convert(value)
            except _Unfit:
                variants.setdefault(f"{col}__v_text", [None] * n)[i] = _to_text(value)

        for col in SYSTEM_TIMESTAMPS:
            columns[col] = [None] * n
            kinds[col] = "timestamp"
        for col in SYSTEM_TEXT:
            columns[col] = [None] * n
            kinds[col] = "text"
        for name, spec in self.schema.fields.items():  # stable columns even when a page lacks values
            self._declare(name, spec, columns, kinds, n)

        children: dict[str, list[tuple[str, Any, int | None]]] = {
            t: [] for t in (child_table(self.obj, f) for f in self.list_fields())
        }
        links: dict[str, list[tuple[str, str]]] = {}
        link_parents: dict[str, list[str]] = {}
        for i, record in enumerate(records):
            attrs = record.get("attributes") if isinstance(record.get("attributes"), dict) else {}
            for col in (*SYSTEM_TIMESTAMPS, *SYSTEM_TEXT):
                put(col, kinds[col], i, system_value(record, col))
            for name, value in attrs.items():
                if name in SYSTEM_TIMESTAMPS or name in SYSTEM_TEXT:
                    continue
                ftype = self.field_type(name, value)
                if ftype is None:
                    continue
                if ftype in LIST_TYPES:
                    table = child_table(self.obj, name)
                    rows = children.setdefault(table, [])
                    for pos, item in enumerate(_items(value)):
                        rows.append((ids[i], _item_text(item), pos))
                elif ftype == "name":
                    if value is None:
                        continue
                    for part, text in _split_name(value).items():
                        put(f"{name}__{part}", "text", i, text)
                elif ftype == "location" and (value is None or isinstance(value, dict)):
                    for part, text in (value or {}).items():
                        put(f"{name}__{part}", "text", i, text)
                elif ftype == "record-id":
                    put(_fk_column(name), "text", i, _record_id_value(value))
                elif ftype in ("json", "rich-text", "location"):
                    put(name, "text", i, None if value is None else _to_text(value))
                else:
                    put(name, _column_kind(ftype), i, value)
            rels = record.get("relationships")
            if isinstance(rels, dict):
                for rel, value in rels.items():
                    rel_ids = _relationship_ids(value)
                    if rel_ids is None:
                        continue
                    table = child_table(self.obj, rel)
                    links.setdefault(table, []).extend((ids[i], rid) for rid in rel_ids)
                    link_parents.setdefault(table, []).append(ids[i])

        arrays = {c: pa.array(v, type=_CONVERT[kinds[c]][1]) for c, v in columns.items()}
        for c, v in variants.items():
            arrays[c] = pa.array(v, type=pa.string())
        arrays[DELETED_COLUMN] = pa.nulls(n, type=pa.bool_())
        out = [(self.obj, pa.table(arrays))]
        for table, rows in children.items():
            out.append((table, self.child_batch(ids, rows)))
        for table, pairs in links.items():
            target = self.schema.relationships.get(table.split("__", 1)[1], "related")
            out.append((table, self.link_batch(link_parents[table], pairs, target)))
        return out

    def _declare(self, name: str, spec: FieldSpec, columns: dict[str, list[Any]], kinds: dict[str, str],
                 n: int) -> None:
        ftype = self.field_type(name)
        if ftype in LIST_TYPES or name in SYSTEM_TIMESTAMPS or name in SYSTEM_TEXT:
            return
        if ftype == "name":
            cols = [(f"{name}__{p}", "text") for p in NAME_PARTS]
        elif ftype == "location":
            return  # parts appear as values carry them
        elif ftype == "record-id":
            cols = [(_fk_column(name), "text")]
        elif ftype in ("json", "rich-text"):
            cols = [(name, "text")]
        else:
            cols = [(name, _column_kind(ftype or "text"))]
        for col, kind in cols:
            columns.setdefault(col, [None] * n)
            kinds.setdefault(col, kind)

    def child_batch(self, parent_ids: Iterable[str], rows: list[tuple[str, Any, int | None]]) -> pa.Table:
        """Marker rows (one per parent, `_deleted = true`) then the current items."""
        parents = list(parent_ids)
        return pa.table({
            self.parent_col: pa.array(parents + [r[0] for r in rows], type=pa.string()),
            CHILD_VALUE: pa.array([None] * len(parents) + [r[1] for r in rows], type=pa.string()),
            CHILD_POSITION: pa.array([MARKER_POSITION] * len(parents) + [r[2] for r in rows], type=pa.int64()),
            DELETED_COLUMN: pa.array([True] * len(parents) + [None] * len(rows), type=pa.bool_()),
        })

    def link_batch(self, parent_ids: Iterable[str], pairs: list[tuple[str, str]], target: str) -> pa.Table:
        parents = list(parent_ids)
        return pa.table({
            self.parent_col: pa.array(parents + [p[0] for p in pairs], type=pa.string()),
            link_target_column(self.obj, target): pa.array([MARKER_TARGET] * len(parents) + [p[1] for p in pairs],
                                                            type=pa.string()),
            DELETED_COLUMN: pa.array([True] * len(parents) + [None] * len(pairs), type=pa.bool_()),
        })

    def table_key(self, table: str) -> list[str]:
        """Primary key of a child/link table. dlt de-duplicates a merge's staging rows on it, which keeps a
        load job that ran twice (crash in the middle of a load, then a rerun) from doubling items."""
        rel = table.split("__", 1)[1]
        if rel in self.schema.relationships:
            return [self.parent_col, link_target_column(self.obj, self.schema.relationships[rel])]
        return [self.parent_col, CHILD_POSITION]

    def deletion_batches(self, ids: list[str]) -> list[tuple[str, pa.Table]]:
        """Rows that delete these records and all their child/link rows (reconcile)."""
        out = [(self.obj, pa.table({"id": pa.array(ids, type=pa.string()),
                                    DELETED_COLUMN: pa.array([True] * len(ids), type=pa.bool_())}))]
        for table in self.child_tables():
            if table.split("__", 1)[1] in self.schema.relationships:
                target = self.schema.relationships[table.split("__", 1)[1]]
                out.append((table, self.link_batch(ids, [], target)))
            else:
                out.append((table, self.child_batch(ids, [])))
        return out


def _fk_column(name: str) -> str:
    return name if name.endswith("_id") else f"{name}_id"
