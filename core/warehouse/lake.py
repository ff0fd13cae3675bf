"""The dlt filesystem destination with Delta tables: what SQL does for DuckDB and Postgres, done with `deltalake`.

dlt merges Delta tables with `upsert` only (a MERGE on the primary key; `delete-insert` and `merge_key` are
not supported), so the replace semantics of child and link tables are made explicit: before a parent's items
are loaded again, `LakeReader.stale_rows` adds a `_deleted` row for every stored item it no longer has, and the
upsert deletes them in the same load (`_deleted` is the `hard_delete` column). Reads here never go through
DuckDB's delta extension, which cannot be downloaded on machines without internet.
"""

from __future__ import annotations

import threading
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from core.warehouse import DELETED_COLUMN

ID_CHUNK = 1000


def is_delta(pipeline: dlt.Pipeline, table: str) -> bool:
    """True when `table` is a Delta table of a filesystem destination."""
    if pipeline.destination is None or pipeline.destination.destination_name != "filesystem":
        return False
    schema_table = pipeline.default_schema.tables.get(table) if pipeline.default_schema_name else None
    return bool(schema_table) and schema_table.get("table_format") == "delta"  # type: ignore[union-attr]


def open_delta(pipeline: dlt.Pipeline, table: str) -> Any:
    """The `deltalake.DeltaTable` behind `table`, or None when nothing was loaded into it yet."""
    with pipeline.destination_client() as client:
        try:
            return client.load_open_table("delta", table)  # type: ignore[attr-defined]
        except Exception as exc:
            if _missing(exc):
                return None
            raise


def _missing(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    signs = ("undefinedentity", "not found", "notfound", "no such", "does not exist", "not a delta table")
    return any(s in text for s in signs)


def read_column(pipeline: dlt.Pipeline, table: str, column: str) -> list[Any]:
    dt = open_delta(pipeline, table)
    if dt is None:
        return []
    return dt.to_pyarrow_dataset().to_table(columns=[column]).column(column).to_pylist()


def row_count(pipeline: dlt.Pipeline, table: str) -> int:
    if is_delta(pipeline, table):
        dt = open_delta(pipeline, table)
        return 0 if dt is None else dt.to_pyarrow_dataset().count_rows()
    import pyarrow.parquet as pq

    with pipeline.destination_client() as client:
        files = [f for f in client.list_table_files(table) if f.endswith(".parquet")]  # type: ignore[attr-defined]
        return sum(pq.ParquetFile(client.fs_client.open(f, "rb")).metadata.num_rows for f in files)  # type: ignore[attr-defined]


def delete_where_in(pipeline: dlt.Pipeline, table: str, column: str, values: list[str]) -> None:
    """Delete rows whose `column` is one of `values` (a MERGE on the values, one Delta commit per chunk)."""
    dt = open_delta(pipeline, table)
    if dt is None or not values:
        return
    for i in range(0, len(values), ID_CHUNK * 50):
        source = pa.table({column: pa.array(values[i : i + ID_CHUNK * 50], type=pa.string())})
        (
            dt.merge(
                source, predicate=f"target.{column} = source.{column}", source_alias="source", target_alias="target"
            )
            .when_matched_delete()
            .execute()
        )


class LakeReader:
    """Stored keys of child and link tables, read once per table and load (extract runs before the load)."""

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        self.pipeline = pipeline
        self._tables: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _keys(self, table: str, key: list[str], schema: pa.Schema) -> pa.Table | None:
        """The stored primary keys of `table` (read once; deltalake's string_view columns cast to the batch's types)."""
        with self._lock:
            if table not in self._tables:
                dt = open_delta(self.pipeline, table)
                self._tables[table] = (
                    None
                    if dt is None
                    else (dt.to_pyarrow_dataset().to_table(columns=key).cast(pa.schema([schema.field(k) for k in key])))
                )
            return self._tables[table]

    def stale_rows(self, table: str, key: list[str], batch: pa.Table) -> pa.Table:
        """`batch` without its replace markers, plus a `_deleted` row for each stored item of the marked parents
        that `batch` no longer holds. `key` is the table's primary key, parent column first.
        """
        deleted = pc.fill_null(batch.column(DELETED_COLUMN), False)
        markers = batch.filter(deleted)
        batch = batch.filter(pc.invert(deleted))  # the first load creates the table without applying deletes
        keys = self._keys(table, key, batch.schema) if markers.num_rows else None
        if keys is None:
            return batch
        stored = keys.filter(pc.is_in(keys.column(key[0]), value_set=pc.unique(markers.column(key[0]))))
        if stored.num_rows == 0:
            return batch
        current = batch.select(key)
        stale = stored.join(current, keys=key, join_type="left anti") if current.num_rows else stored
        if stale.num_rows == 0:
            return batch
        n = stale.num_rows
        columns = {}
        for f in batch.schema:
            if f.name in key:
                columns[f.name] = stale.column(f.name).combine_chunks()
            elif f.name == DELETED_COLUMN:
                columns[f.name] = pa.array([True] * n, type=f.type)
            else:
                columns[f.name] = pa.nulls(n, type=f.type)
        return pa.concat_tables([batch, pa.table(columns, schema=batch.schema)])
