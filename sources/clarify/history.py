"""History mode: every version of an object's records in `<object>_history`, with validity intervals.

The table is dlt's `scd2` merge on a table variant of the object's resource, fed with the same batches as the
current-state table. The sync is incremental (a load carries only changed records), so absent rows must not be
retired: `destination_scope` limits retiring to the ids the load carries. A version is identified by
`_version`, a hash of the record's non-null values: a record re-read unchanged (the lag window) matches its
active version and adds nothing; a changed one retires the active version and adds a new one. The reconcile
pass retires deleted records with rows marked `_deleted`, which `source_filter` keeps from being inserted.

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

from sources.clarify.settings import DELETED_COLUMN

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


def version_batch(batch: pa.Table) -> pa.Table:
    """The main-table batch with `_version`: a hash of each row's non-null values (a column added later, null
    for older records, does not make a new version)."""
    names = [n for n in batch.column_names if n != DELETED_COLUMN]
    rows = batch.select(names).to_pylist()
    versions = [_row_hash(row) for row in rows]
    return batch.append_column(VERSION_COLUMN, pa.array(versions, type=pa.string()))


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
