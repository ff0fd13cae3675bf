"""`clarify-sync push`: upsert warehouse rows into a Clarify object, sending only what changed.

    report = run_push(connection, warehouse, object="person", from_table="person_scores")
    report = run_push(connection, warehouse, object="person", sql="SELECT email AS email_addresses, ...")

Why not `@dlt.destination`: a dlt custom destination receives rows *after* extract and normalize, keeps no
state in the warehouse, and retries a failing batch five times as a whole. The push needs the opposite:
the diff must run inside the warehouse before any row moves (1,000,000 unchanged rows cost one SQL join,
not a pass through dlt's extract/normalize), state must be committed to warehouse tables per request,
and a refused atomic batch must be split, not retried. So the push is a plain module: it reads the
warehouse directly (DuckDB / psycopg2, `core/warehouse/sql.py`) and writes through the
shared HTTP client (`core/http.py`), which alone does retries, 429 handling and pacing.
This module wires: it opens the warehouse and the API client and hands them to `destinations.clarify`.

Contract:
- rows: `from_table` (a table of the dataset, or `schema.table`) or `sql`, run in the warehouse.
- columns map to attributes by name; `mapping={column: attribute}` renames; a `_key` column (never sent)
  names rows of objects without a unique field; `mode="update"` needs an `id` column (bulk PATCH).
- `mode="upsert"` on an object with a unique field (from GET /schemas): rows of known records (push state, or
  the synced copy of the object) are bulk PATCHes by id; the rest are bulk creates, with `match_on` unless the
  workspace refuses it (learnt once, kept in `_clarify_push_dialects`); a create refused as a duplicate is
  looked up and PATCHed (destinations/clarify/dialect.py, match.py, duplicates.py).
- `relationship="people"` reads a link table with `id`, `target_id` columns and PATCHes each record's set.
- change detection: state table `_clarify_push__<object>` in the dataset; `full=True` resends everything;
  `dry_run=True` writes nothing anywhere (the warehouse is opened read-only) and returns samples.
- objects without a unique field get plain creates, each row exactly once even if an answer is lost
  (intents in `_clarify_push_intents`, resolved by listing what the server created).
- rejected rows go to `_clarify_push_rejects` under the row's identity, are retried on the next run and
  leave it when they land or when their row leaves the source.
- `retry` tunes the HTTP client (e.g. `rate_limit_deadline`: how long 429s are waited out).
- the returned `PushReport.rejected` is what the CLI turns into a non-zero exit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from core.http import RetryPolicy
from core.warehouse.options import WarehouseOptions
from core.warehouse.sql import open_warehouse
from destinations.clarify.report import Progress, PushReport
from destinations.clarify.runner import DEFAULT_CONCURRENCY, PushRequest, push
from pipelines.run_records import recorded, watch_requests
from sources.clarify.api import ClarifyApi
from sources.clarify.connection import ClarifyConnection


@recorded("push")
def run_push(
    connection: ClarifyConnection,
    warehouse: WarehouseOptions,
    *,
    object: str,  # noqa: A002 - the public keyword the CLI passes
    from_table: str | None = None,
    sql: str | None = None,
    mode: str = "upsert",
    mapping: Mapping[str, str] | None = None,
    relationship: str | None = None,
    batch_size: int = 100,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PushReport:
    """Push changed warehouse rows into Clarify object `object` (the contract is in the module docstring).

    `retry` and `sleep` reach the HTTP client (tests pass a sleep that only counts the seconds asked for)."""
    started = time.monotonic()
    request = PushRequest(
        object=object,
        from_table=from_table,
        sql=sql,
        mode=mode,
        mapping=dict(mapping or {}),
        relationship=relationship,
        batch_size=batch_size,
        full=full,
        dry_run=dry_run,
        concurrency=concurrency,
    )
    request.check()
    report = request.new_report()
    api = ClarifyApi(connection, retry=retry, sleep=sleep)
    watch_requests(api.http.stats)
    try:
        wh = open_warehouse(warehouse, read_only=dry_run)
        try:
            push(wh, api, request, report, progress)
        finally:
            wh.close()
    finally:
        report.requests = api.http.stats.requests
        report.seconds = time.monotonic() - started
        api.close()
    return report
