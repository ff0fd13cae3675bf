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
import pyarrow.compute as pc

from core.warehouse import DELETED_COLUMN
from sources.clarify.cursor import parse_ts, system_value
from sources.clarify.schema import FieldSpec, ObjectSchema, infer_type
from sources.clarify.settings import (
    CHILD_POSITION,
    CHILD_VALUE,
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


def drop_markers(batch: pa.Table) -> pa.Table:
    """A batch without its replace markers and deletion rows, for a table that cannot or need not delete
    (plain parquet; a first load, appended)."""
    if DELETED_COLUMN not in batch.column_names:
        return batch
    return batch.filter(pc.invert(pc.fill_null(batch.column(DELETED_COLUMN), False)))


def keyed_table(arrays: dict[str, pa.Array], keys: Iterable[str]) -> pa.Table:
    """An arrow table whose key columns are declared non-nullable, as dlt records primary/merge keys: with
    matching nullability dlt has no hint conflict to warn about on every page."""
    required = set(keys)
    schema = pa.schema([pa.field(name, arr.type, nullable=name not in required) for name, arr in arrays.items()])
    return pa.Table.from_arrays(list(arrays.values()), schema=schema)


def _system_column(records: list[dict[str, Any]], attrs: list[dict[str, Any]], name: str) -> list[Any]:
    """`system_value` for a whole batch; the usual place (attributes) is read without a call per record."""
    return [a[name] if name in a else system_value(r, name) for r, a in zip(records, attrs, strict=True)]


def _first_seen_keys(dicts: list[dict[str, Any]]) -> list[str]:
    """Every key of the dicts, in first-seen order; cheap in the usual case where the first dict has them all."""
    every = set().union(*dicts)
    first = list(dicts[0]) if dicts else []
    return first if len(first) == len(every) else list(dict.fromkeys(k for d in dicts for k in d))


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


_CONVERT = {
    "double": (_to_float, pa.float64()),
    "date": (_to_date, pa.date32()),
    "timestamp": (_to_ts, TS_TYPE),
    "bool": (_to_bool, pa.bool_()),
    "text": (_to_text, pa.string()),
}
_COLUMN_KINDS = {"number": "double", "currency": "double", "date": "date", "datetime": "timestamp", "checkbox": "bool"}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
_NUMERIC = frozenset({pa.int64(), pa.float64(), pa.null()})
TEXT_LIST = pa.list_(pa.string())


def _column_kind(ftype: str) -> str:
    return _COLUMN_KINDS.get(ftype, "text")


def _fast_array(kind: str, values: list[Any]) -> pa.Array | None:
    """The whole column in one arrow call, or None when arrow's reading of a value could differ from ours."""
    if kind == "double":
        inferred = pa.array(values)  # a bool would become 1.0 if typed directly: let inference reveal it
        return inferred.cast(pa.float64()) if inferred.type in _NUMERIC else None
    if kind in ("timestamp", "date"):  # ISO strings; naive or epoch timestamps and words are refused
        return pc.cast(pa.array(values, type=pa.string()), _CONVERT[kind][1])
    return pa.array(values, type=_CONVERT[kind][1])  # text and bool: only str / bool values are accepted


def _checked_array(col: str, kind: str, values: list[Any], variants: dict[str, list[Any]]) -> pa.Array:
    """Value by value: what does not fit goes, as text, to the `<col>__v_text` variant column."""
    convert, arrow_type = _CONVERT[kind]
    out: list[Any] = [None] * len(values)
    for i, value in enumerate(values):
        if value is None:
            continue
        try:
            out[i] = convert(value)
        except _Unfit:
            variants.setdefault(f"{col}__v_text", [None] * len(values))[i] = _to_text(value)
    return pa.array(out, type=arrow_type)


def _column_array(col: str, kind: str, values: list[Any], variants: dict[str, list[Any]]) -> pa.Array:
    """One typed column: a single arrow call for clean columns, value by value only for columns arrow refuses."""
    try:
        fast = _fast_array(kind, values)
    except _ARROW_ERRORS:
        fast = None
    return fast if fast is not None else _checked_array(col, kind, values, variants)


def _text_lists(lists: list[list[Any]]) -> pa.ListArray:
    """Items as a list<string> array (one list per parent); non-string items become their text."""
    try:
        return pa.array(lists, type=TEXT_LIST)
    except _ARROW_ERRORS:
        return pa.array([[item_text(item) for item in items] for items in lists], type=TEXT_LIST)


def _replace_rows(parents: pa.Array, items: pa.ListArray) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """(owner, item, position, `_deleted`) columns: one marker row per parent, then every item of `items[i]`
    owned by `parents[i]`, numbered from 0 within its list."""
    owner_index = pc.list_parent_indices(items)
    flat = pc.list_flatten(items)
    positions = pc.subtract(pa.arange(0, len(flat)), pc.take(items.offsets, owner_index))
    n = len(parents)
    return (
        pa.concat_arrays([parents, parents.take(owner_index)]),
        pa.concat_arrays([pa.nulls(n, type=pa.string()), flat]),
        pa.concat_arrays([pa.repeat(MARKER_POSITION, n), positions.cast(pa.int64())]),
        pa.concat_arrays([pa.repeat(True, n), pa.nulls(len(flat), type=pa.bool_())]),
    )


class _Columns:
    """Raw main-table columns (values as the API sent them) with their kinds, in first-seen order."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: dict[str, list[Any]] = {}
        self.kinds: dict[str, str] = {}

    def add(self, col: str, kind: str, values: list[Any]) -> None:
        """A column; when two fields map to one column name the later non-null value wins (first kind stays)."""
        self.declare(col, kind)
        if col not in self.values:
            self.values[col] = values
        else:
            self.values[col] = [old if new is None else new for old, new in zip(self.values[col], values, strict=True)]

    def declare(self, col: str, kind: str) -> None:
        """A column that exists (all null) even when no record carries it."""
        self.kinds.setdefault(col, kind)

    def arrays(self) -> dict[str, pa.Array]:
        variants: dict[str, list[Any]] = {}
        arrays = {
            c: _column_array(c, kind, self.values.get(c) or [None] * self.n, variants) for c, kind in self.kinds.items()
        }
        for c, v in variants.items():
            arrays[c] = pa.array(v, type=pa.string())
        return arrays


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


def item_text(item: Any) -> str:
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
    items = (v.get("id") if isinstance(v, dict) else v for v in value)
    return [str(i) for i in items if i is not None]  # an item without an id links nothing


_LINKAGE = pa.struct([("data", pa.list_(pa.struct([("id", pa.string())])))])


def _linked_ids(values: list[Any]) -> pa.ListArray | None:
    """Target ids of JSON:API linkage values (`{"data": [{"type": ..., "id": "..."}, ...]}`) in one arrow
    call, the usual shape; None when any value differs (then `_relationship_ids` reads them one by one)."""
    try:
        linkage = pa.array(values, type=_LINKAGE)  # extra keys are ignored; arrow refuses non-objects
    except _ARROW_ERRORS:  # not an object, `data` not a list of objects, an id that is not a string
        return None
    data = linkage.field("data")
    items = data.flatten()
    target_ids = items.field("id")
    # A null value, a missing or null `data`, a null item or one without an id: read one by one.
    if linkage.null_count or data.null_count or items.null_count or target_ids.null_count:
        return None
    return pa.ListArray.from_arrays(data.offsets, target_ids)


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
        """(table name, arrow table) pairs for one batch of records: the main table first.

        Column by column: one list comprehension per attribute and one arrow call per column, not a Python
        call per value (that loop was most of the sync's CPU)."""
        n = len(records)
        ids = pa.array([str(r.get("id")) for r in records], type=pa.string())
        attrs = [a if isinstance(a := r.get("attributes"), dict) else {} for r in records]
        cols = _Columns(n)
        cols.add("id", "text", ids.to_pylist())
        for col in SYSTEM_TIMESTAMPS:
            cols.add(col, "timestamp", _system_column(records, attrs, col))
        for col in SYSTEM_TEXT:
            cols.add(col, "text", _system_column(records, attrs, col))
        for name, spec in self.schema.fields.items():  # stable columns even when a batch lacks values
            self._declare(name, spec, cols)

        lists: dict[str, list[list[Any]] | None] = {child_table(self.obj, f): None for f in self.list_fields()}
        for name in _first_seen_keys(attrs):
            if name in SYSTEM_TIMESTAMPS or name in SYSTEM_TEXT:
                continue
            values = [a.get(name) for a in attrs]
            ftype = self.field_type(name, next((v for v in values if v is not None), None))
            if ftype in LIST_TYPES:
                lists[child_table(self.obj, name)] = [_items(v) for v in values]
            elif ftype is not None:
                self._add_field(cols, name, ftype, values)

        arrays = cols.arrays()
        arrays[DELETED_COLUMN] = pa.nulls(n, type=pa.bool_())
        out = [(self.obj, keyed_table(arrays, ["id"]))]
        for table, items in lists.items():
            out.append((table, self.child_batch(ids, _text_lists(items or [[]] * n))))
        out.extend(self._link_batches(records, ids))
        return out

    def _add_field(self, cols: _Columns, name: str, ftype: str, values: list[Any]) -> None:
        """The main-table column(s) of one non-list attribute."""
        if ftype == "name":
            split = [None if v is None else _split_name(v) for v in values]
            if any(parts is not None for parts in split):
                for part in NAME_PARTS:
                    cols.add(f"{name}__{part}", "text", [None if p is None else p[part] for p in split])
        elif ftype == "location":
            parts = dict.fromkeys(k for v in values if isinstance(v, dict) for k in v)
            for part in parts:
                cols.add(f"{name}__{part}", "text", [v.get(part) if isinstance(v, dict) else None for v in values])
            if any(v is not None and not isinstance(v, dict) for v in values):  # not a location: keep as text
                cols.add(name, "text", [None if isinstance(v, dict) else v for v in values])
        elif ftype == "record-id":
            cols.add(_fk_column(name), "text", [_record_id_value(v) for v in values])
        elif ftype in ("json", "rich-text"):
            cols.add(name, "text", values)
        else:
            cols.add(name, _column_kind(ftype), values)

    def _link_batches(self, records: list[dict[str, Any]], ids: pa.Array) -> list[tuple[str, pa.Table]]:
        """One link table per relationship the records carry; parents without the relationship keep their rows."""
        rels = [r if isinstance(r := record.get("relationships"), dict) else {} for record in records]
        out = []
        for rel in _first_seen_keys(rels):
            owners = [i for i, r in enumerate(rels) if rel in r]
            values = [rels[i][rel] for i in owners]
            targets = _linked_ids(values)
            if targets is None:
                found = [_relationship_ids(v) for v in values]
                owners = [i for i, f in zip(owners, found, strict=True) if f is not None]
                targets = pa.array([f for f in found if f is not None], type=TEXT_LIST)
            table = child_table(self.obj, rel)
            target = self.schema.relationships.get(rel, "related")
            out.append((table, self.link_batch(ids.take(pa.array(owners, type=pa.int64())), targets, target)))
        return out

    def _declare(self, name: str, spec: FieldSpec, cols: _Columns) -> None:
        ftype = self.field_type(name)
        if ftype in LIST_TYPES or name in SYSTEM_TIMESTAMPS or name in SYSTEM_TEXT:
            return
        if ftype == "name":
            for part in NAME_PARTS:
                cols.declare(f"{name}__{part}", "text")
        elif ftype == "location":
            return  # parts appear as values carry them
        elif ftype == "record-id":
            cols.declare(_fk_column(name), "text")
        elif ftype in ("json", "rich-text"):
            cols.declare(name, "text")
        else:
            cols.declare(name, _column_kind(ftype or "text"))

    def child_batch(self, parents: pa.Array, items: pa.ListArray) -> pa.Table:
        """Marker rows (one per parent, `_deleted = true`) then the current items (`items[i]` of `parents[i]`)."""
        owners, values, positions, deleted = _replace_rows(parents, items)
        return keyed_table(
            {self.parent_col: owners, CHILD_VALUE: values, CHILD_POSITION: positions, DELETED_COLUMN: deleted},
            [self.parent_col, CHILD_POSITION],
        )

    def link_batch(self, parents: pa.Array, targets: pa.ListArray, target: str) -> pa.Table:
        """Like `child_batch`; markers carry an empty target id (the key must not be null)."""
        owners, values, _, deleted = _replace_rows(parents, targets)
        n = len(parents)
        values = pa.concat_arrays([pa.repeat(MARKER_TARGET, n), values[n:]])
        target_col = link_target_column(self.obj, target)
        return keyed_table(
            {self.parent_col: owners, target_col: values, DELETED_COLUMN: deleted}, [self.parent_col, target_col]
        )

    def table_key(self, table: str) -> list[str]:
        """Primary key of a child/link table. dlt de-duplicates a merge's staging rows on it, which keeps a
        load job that ran twice (crash in the middle of a load, then a rerun) from doubling items."""
        rel = table.split("__", 1)[1]
        if rel in self.schema.relationships:
            return [self.parent_col, link_target_column(self.obj, self.schema.relationships[rel])]
        return [self.parent_col, CHILD_POSITION]

    def deletion_batches(self, ids: list[str]) -> list[tuple[str, pa.Table]]:
        """Rows that delete these records and all their child/link rows (reconcile)."""
        parents = pa.array(ids, type=pa.string())
        none = pa.array([[]] * len(ids), type=TEXT_LIST)
        out = [(self.obj, keyed_table({"id": parents, DELETED_COLUMN: pa.repeat(True, len(ids))}, ["id"]))]
        for table in self.child_tables():
            if table.split("__", 1)[1] in self.schema.relationships:
                target = self.schema.relationships[table.split("__", 1)[1]]
                out.append((table, self.link_batch(parents, none, target)))
            else:
                out.append((table, self.child_batch(parents, none)))
        return out


def _fk_column(name: str) -> str:
    return name if name.endswith("_id") else f"{name}_id"
