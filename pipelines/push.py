"""`clarify-sync push`: upsert warehouse rows into a Clarify object, sending only what changed.

    report = run_push(connection, warehouse, object="person", from_table="person_scores")
    report = run_push(connection, warehouse, object="person", sql="SELECT email AS email_addresses, ...")

Why not `@dlt.destination`: a dlt custom destination receives rows *after* extract and normalize, keeps no
state in the warehouse, and retries a failing batch five times as a whole. The push needs the opposite:
the diff must run inside the warehouse before any row moves (1,000,000 unchanged rows cost one SQL join,
not a pass through dlt's extract/normalize), state must be committed to warehouse tables per request,
and a refused atomic batch must be split, not retried. So the push is a plain module: it reads the
warehouse directly (DuckDB / psycopg2, `destinations/clarify/warehouse_sql.py`) and writes through the
shared HTTP client (`sources/common/http.py`), which alone does retries, 429 handling and pacing.

Contract:
- rows: `from_table` (a table of the dataset, or `schema.table`) or `sql`, run in the warehouse.
- columns map to attributes by name; `mapping={column: attribute}` renames; a `_key` column (never sent)
  names rows of objects without a unique field; `mode="update"` needs an `id` column (bulk PATCH).
- `mode="upsert"` sends bulk creates with `match_on` = the object's unique field (from GET /schemas).
- `relationship="people"` reads a link table with `id`, `target_id` columns and PATCHes each record's set.
- change detection: state table `_clarify_push__<object>` in the dataset; `full=True` resends everything;
  `dry_run=True` writes nothing anywhere (the warehouse is opened read-only) and returns samples.
- rejected rows go to `_clarify_push_rejects`, are retried on the next run and leave it when they land.
- the returned `PushReport.rejected` is what the CLI turns into a non-zero exit.
"""

from __future__ import annotations

from destinations.clarify.runner import PushReport, run_push

__all__ = ["PushReport", "run_push"]
