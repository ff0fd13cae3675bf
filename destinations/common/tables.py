"""The bookkeeping tables both pushes keep next to the data: created the same way, cleared the same way.

Each push has a state table (what landed: CRM fingerprints and ids, time-series watermarks and signal hashes)
and a rejects table (what the API refused, with the error and an attempt count); a row leaves its rejects
table in the transaction that records it as landed. Both go through `core.warehouse.sql.WarehouseSQL`, so the
same code runs on a direct DuckDB/Postgres connection (CRM push) and on dlt's sql_client (time series).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from core.warehouse.sql import WarehouseSQL

DELETE_CHUNK = 500  # keys per DELETE statement: well under both dialects' parameter limits


def ensure_tables(wh: WarehouseSQL, tables: Mapping[str, str]) -> None:
    """Create the dataset and each `name: column definitions` table that is missing; `{ts}` in a definition
    is the dialect's timezone-aware timestamp type."""
    wh.ensure_schema()
    for name, columns in tables.items():
        wh.execute(f"CREATE TABLE IF NOT EXISTS {wh.table(name)} ({columns.format(ts=wh.timestamp_type)})")


def delete_keys(
    wh: WarehouseSQL, table: str, where_col: str, where_val: str, key_col: str, keys: Sequence[Any]
) -> None:
    """Delete the rows of `table` whose `where_col` is `where_val` and `key_col` one of `keys`, in chunks."""
    for i in range(0, len(keys), DELETE_CHUNK):
        wh.delete_keys(table, where_col, where_val, key_col, list(keys[i : i + DELETE_CHUNK]))


def content_hash(value: Any) -> str:
    """A fingerprint of a JSON-able value computed in Python (key order does not matter)."""
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
