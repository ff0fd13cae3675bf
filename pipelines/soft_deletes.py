"""Soft deletes: a record deleted in Clarify keeps its row, with `_deleted_at` set, instead of being removed.

The reconcile pass (sources/clarify) finds the ids no longer listed; after its load commits, this marks them
with one `UPDATE` per thousand ids, and clears the mark of rows whose record is listed again. A changed record
that comes back through the incremental walk is reloaded with `_deleted_at` null anyway (the merge replaces
the row). Child and link rows stay with their record. A crash between the load and the `UPDATE` leaves the
marks to the next reconcile pass.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dlt

from sources.clarify.settings import SOFT_DELETED_COLUMN
from sources.clarify.stats import ObjectStats

CHUNK = 1000


def apply_soft_deletes(pipeline: dlt.Pipeline, stats: dict[str, ObjectStats]) -> None:
    """Mark what the last load's reconcile found gone; `deleted` counts the newly marked rows."""
    at = datetime.now(UTC)
    for obj, s in stats.items():
        if s.soft_gone is not None:
            gone, s.soft_gone = s.soft_gone, None
            s.deleted += _mark(pipeline, obj, set(gone), at)


def _mark(pipeline: dlt.Pipeline, obj: str, gone: set[str], at: datetime) -> int:
    naming = pipeline.default_schema.naming
    table = naming.normalize_table_identifier(obj)
    if table not in pipeline.default_schema.tables:
        return 0
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        column = client.escape_column_name(naming.normalize_identifier(SOFT_DELETED_COLUMN))
        if SOFT_DELETED_COLUMN not in pipeline.default_schema.tables[table].get("columns", {}):
            # Soft deletes switched on for a table no load has given the column yet (dlt adds it as well
            # once a batch carries it, and skips columns the table already has).
            client.execute_sql(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {column} timestamp with time zone")
        flagged = {str(r[0]) for r in client.execute_sql(f"SELECT id FROM {name} WHERE {column} IS NOT NULL")}
        newly, back = sorted(gone - flagged), sorted(flagged - gone)
        for ids, value in ((newly, at), (back, None)):
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i : i + CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                client.execute_sql(f"UPDATE {name} SET {column} = %s WHERE id IN ({marks})", value, *chunk)
    return len(newly)
