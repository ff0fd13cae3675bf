"""History mode: every version of an object's records in `<object>_history`, with validity intervals.

The table is dlt's `scd2` merge on a table variant of the object's resource, fed with the same batches as the
current-state table. The sync is incremental (a load carries only changed records), so absent rows must not be
retired: `destination_scope` limits retiring to the ids the load carries. A version is identified by
`_version`, a hash of the record's non-null values: a record re-read unchanged (the lag window) matches its
active version and adds nothing; a changed one retires the active version and adds a new one. The reconcile
pass retires deleted records with rows marked `_deleted`, which `source_filter` keeps from being inserted.

Child and link tables keep the current items; each version carries its own as JSON lists (`tags`, `companies`).
`_dlt_valid_from` / `_dlt_valid_to` are load times (dlt's boundary timestamp). `_updated_at` is when Clarify
made a version, so the exact interval of a version is `_updated_at` up to the next version's `_updated_at`
(the README's query), or up to `_dlt_valid_to` for a record's last version once it was deleted.
"""

from __future__ import annotations

import hashlib
from typing import Any

import dlt
import orjson
import pyarrow as pa

from core.warehouse import DELETED_COLUMN
from sources.clarify.settings import CHILD_POSITION

HISTORY_SUFFIX = "_history"
VERSION_COLUMN = "_version"
VALID_FROM, VALID_TO = "_dlt_valid_from", "_dlt_valid_to"


def history_table(obj: str) -> str:
    """`deal_history` (not `deal__history`: `__` names child tables of fields)."""
    return f"{obj}{HISTORY_SUFFIX}"


def history_hints(obj: str) -> Any:
    return dlt.mark.make_hints(
        table_name=history_table(obj),
        write_disposition={
            "disposition": "merge",
            "strategy": "scd2",
            "validity_column_names": [VALID_FROM, VALID_TO],
            "row_version_column_name": VERSION_COLUMN,
            # Only the loaded ids can retire: the load is incremental, not a full extract.
            "destination_scope": "id IN (SELECT id FROM {staging_table})",
            # Deletion rows retire their id's active version and are not versions themselves.
            "source_filter": f"{DELETED_COLUMN} IS NULL",
        },
        primary_key=[],
        columns={DELETED_COLUMN: {"data_type": "bool", "hard_delete": False}},
    )


def version_batch(batches: list[tuple[str, pa.Table]], parent_col: str) -> pa.Table:
    """The main-table batch (the first of a conversion) with each child and link table's items of a record as a
    JSON list in a column named like the field (`tags`, `companies`), so the items follow the version they
    belong to; and `_version`: a hash of the row's non-null values (a column added later, null for older
    records, does not make a new version)."""
    main = batches[0][1]
    ids = main.column("id").to_pylist()
    for table, batch in batches[1:]:
        items = _items_by_parent(batch, parent_col)
        lists = [orjson.dumps(items[i]).decode() if i in items else None for i in ids]
        main = main.append_column(table.split("__", 1)[1], pa.array(lists, type=pa.string()))
    rows = main.drop_columns([DELETED_COLUMN]).to_pylist()
    return main.append_column(VERSION_COLUMN, pa.array([_row_hash(row) for row in rows], type=pa.string()))


def _items_by_parent(batch: pa.Table, parent_col: str) -> dict[str, list[Any]]:
    """Parent id -> its items in order, from a child/link batch (a marker row per parent whose items it holds,
    then the items; a parent without a marker keeps its items, so it gets no list here)."""
    value_col = next(c for c in batch.column_names if c not in (parent_col, CHILD_POSITION, DELETED_COLUMN))
    items: dict[str, list[Any]] = {}
    for parent, value, marker in zip(
        batch.column(parent_col).to_pylist(),
        batch.column(value_col).to_pylist(),
        batch.column(DELETED_COLUMN).to_pylist(),
        strict=True,
    ):
        if marker:
            items.setdefault(parent, [])
        else:
            items[parent].append(value)
    return items


def deletion_batch(ids: list[str]) -> pa.Table:
    """Rows that retire the active version of each id (reconcile)."""
    n = len(ids)
    return pa.table(
        {
            "id": pa.array(ids, type=pa.string()),
            DELETED_COLUMN: pa.repeat(True, n),
            VERSION_COLUMN: pa.array([f"deleted:{i}" for i in ids], type=pa.string()),
        }
    )


def _row_hash(row: dict[str, Any]) -> str:
    present = {k: v for k, v in row.items() if v is not None}
    return hashlib.sha256(orjson.dumps(present, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:32]
