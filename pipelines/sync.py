"""`run_sync`: Clarify CRM → warehouse, incremental, chunked, cron-safe; `sync_status`: what is loaded.

Order of a run (nothing touches the warehouse before the API and the warehouse have both answered):
1. `GET /schemas` once: a wrong key, unknown workspace or unreachable URL fails here; unknown objects too.
2. build the destination (unwritable DuckDB path fails here), take the locks (Postgres down fails here).
3. finish load packages a crashed run left behind, restore state from the warehouse if the local pipeline
   folder is gone or belongs to another warehouse.
4. load in chunks of at most `max_pages_per_load` pages per object (a crash costs at most one chunk);
   each chunk commits data and cursor together.
5. reconcile (delete rows whose record is gone) when asked, or when the last one is older than the interval.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import lake
from pipelines.gc_tuning import tuned_gc
from pipelines.locking import file_lock, postgres_lock
from pipelines.run_records import note_schemas, recorded, watch_requests
from pipelines.soft_deletes import apply_soft_deletes
from pipelines.warehouse import WarehouseOptions, load_workers, open_pipeline
from sources.clarify import CRASH_ENV, ObjectStats, SourceContext, clarify_source
from sources.clarify.api import ClarifyApi
from sources.clarify.controls import Controls, load_controls
from sources.clarify.cursor import parse_ts
from sources.clarify.freshness import up_to_date
from sources.clarify.schema import ObjectSchema, parse_schemas, select_objects
from sources.clarify.settings import (
    DEFAULT_LAG_SECONDS,
    DEFAULT_RECONCILE_INTERVAL_SECONDS,
    MAX_PAGES_PER_LOAD,
    PAGE_LIMIT,
    SOURCE_NAME,
    child_table,
    link_target_column,
)
from sources.common.connection import ClarifyConnection
from sources.common.errors import ClarifySyncError, ConfigError, WarehouseError
from sources.common.http import RetryPolicy

PIPELINE_NAME = "clarify_sync"
DEFAULT_LOCK_TIMEOUT = 10.0

Progress = Callable[..., None]  # (object, records so far, pages so far, records expected or None)


@dataclass
class ObjectReport:
    records: int = 0
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    deleted: int = 0
    cursor: str | None = None


@dataclass
class SyncReport:
    objects: dict[str, ObjectReport] = field(default_factory=dict)
    loads: int = 0
    reconciled: list[str] = field(default_factory=list)
    requests: int = 0  # all API requests of the run, retries and the schema call included
    retries: int = 0
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects.values())

    @property
    def pages(self) -> int:
        return sum(o.pages for o in self.objects.values())

    @property
    def deleted(self) -> int:
        return sum(o.deleted for o in self.objects.values())

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class StatusRow:
    object: str
    cursor: str | None
    rows: int | None
    last_run: str | None
    last_reconcile: str | None
    complete: bool


@recorded("sync")
def run_sync(
    connection: ClarifyConnection,
    warehouse: WarehouseOptions,
    *,
    objects: Sequence[str] | None = None,
    full_refresh: bool = False,
    since: str | datetime | None = None,
    reconcile: bool | None = None,
    lag: float | timedelta = DEFAULT_LAG_SECONDS,
    progress: Progress | None = None,
    notice: Callable[[str], None] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    reconcile_interval: float | timedelta | None = None,
    max_pages_per_load: int = MAX_PAGES_PER_LOAD,
    page_limit: int = PAGE_LIMIT,
    retry: RetryPolicy | None = None,
    parallel: bool = True,
    controls: Controls | None = None,
    history: Sequence[str] = (),
    soft_delete: Sequence[str] = (),
) -> SyncReport:
    """Sync CRM objects into the warehouse; returns per-object counts. Raises `ClarifySyncError` subclasses.

    `reconcile`: True forces the deletion pass, False skips it, None runs it when the last one is older
    than `reconcile_interval` (seconds; default: `sources.clarify.reconcile_every_hours` in dlt config,
    else 24 h). `since` (ISO date/time) re-reads everything updated from then on.
    `progress(object, records_so_far, pages_so_far, expected)` is called after each page (from worker threads
    when objects run in parallel); `expected` is the records the object should reach, by the listing's
    `meta.total_records` (None when the API does not say). `notice(line)` receives what a person should read
    once (default: a log warning). `controls`: history mode, soft deletes, excluded and hashed fields
    (default: read from dlt config, see `sources/clarify/controls.py`, plus the `history` and `soft_delete`
    objects named here).
    """
    started = time.perf_counter()
    lag_seconds = _seconds(lag)
    if since is not None:
        try:
            parse_ts(since)
        except Exception:
            raise ConfigError(f"--since {since!r} is not a date or ISO-8601 timestamp: use e.g. 2024-01-31") from None
    report = SyncReport()
    chunk_pages: int | None = max_pages_per_load
    if warehouse.snapshot:  # plain parquet files cannot merge or delete: rewrite every table, in one load
        full_refresh, since, reconcile, chunk_pages = True, None, False, None
    with ClarifyApi(connection, retry=retry) as api:
        watch_requests(api.http.stats)
        schemas = parse_schemas(api.schemas())  # validates key, workspace and URL before anything else
        selected = select_objects(schemas, list(objects) if objects else None)
        note_schemas(schemas, selected)  # announces field changes; a frozen contract stops here
        controls = controls if controls is not None else load_controls(schemas, history, soft_delete)
        controls.check(schemas, warehouse.destination)
        destination = warehouse.make_destination()
        with _locked(warehouse, lock_timeout), tuned_gc():
            pipeline = open_pipeline(PIPELINE_NAME, warehouse, destination)
            _finish_pending(pipeline, warehouse)
            _guard(lambda: pipeline.sync_destination(), warehouse)
            stats: dict[str, ObjectStats] = {}
            _install_crash_hooks()

            # Objects whose first page shows nothing new skip dlt entirely (a noop run costs one request each).
            states = _resource_states(pipeline)
            pending = [
                o
                for o in selected
                if full_refresh
                or since is not None
                or not up_to_date(
                    states.get(o, {}),
                    lambda params, o=o: api.list_page(o, params),
                    lag_seconds=lag_seconds,
                    page_limit=page_limit,
                )
            ]
            first = True
            while pending:
                ctx = SourceContext(
                    api,
                    schemas,
                    since=since if first else None,
                    lag_seconds=lag_seconds,
                    page_limit=page_limit,
                    max_pages=chunk_pages,
                    progress=progress,
                    stats=stats,
                    **_lake_context(pipeline, warehouse),
                    warehouse_ids=lambda obj: _warehouse_ids(pipeline, obj),  # objects without a cursor
                    **({"notice": notice} if notice is not None else {}),
                    controls=controls,
                )
                source = clarify_source(objects=pending, context=ctx, parallel=parallel)
                _load(pipeline, source, warehouse, refresh="drop_resources" if full_refresh and first else None)
                apply_soft_deletes(pipeline, stats)
                report.loads += 1
                first = False
                states = _resource_states(pipeline)
                pending = [o for o in pending if not states.get(o, {}).get("complete", True)]

            states = _resource_states(pipeline)
            interval = _reconcile_interval() if reconcile_interval is None else _seconds(reconcile_interval)
            due = _reconcile_due(selected, states, reconcile, interval)
            if due:
                ctx = SourceContext(
                    api,
                    schemas,
                    mode="reconcile",
                    page_limit=page_limit,
                    progress=progress,
                    stats=stats,
                    **_lake_context(pipeline, warehouse),
                    warehouse_ids=lambda obj: _warehouse_ids(pipeline, obj),
                    controls=controls,
                )
                _load(pipeline, clarify_source(objects=due, context=ctx, parallel=False), warehouse)
                apply_soft_deletes(pipeline, stats)
                report.loads += 1
                report.reconciled = due
                _drop_dangling_links(pipeline, schemas, {o: stats[o].deleted_ids for o in due})
                states = _resource_states(pipeline)

        for obj in selected:
            s = stats.get(obj, ObjectStats())
            report.objects[obj] = ObjectReport(
                s.records,
                s.pages,
                api.http.stats.by_tag.get(obj, 0),
                round(s.seconds, 3),
                s.deleted,
                states.get(obj, {}).get("cursor"),
            )
        report.requests = api.http.stats.requests
        report.retries = api.http.stats.retries
    report.seconds = time.perf_counter() - started
    return report


def sync_status(warehouse: WarehouseOptions) -> list[StatusRow]:
    """Per object: cursor, row count, last finished walk and reconcile, read from the warehouse's dlt state."""
    destination = warehouse.make_destination()
    pipeline = open_pipeline(PIPELINE_NAME, warehouse, destination)
    _guard(lambda: pipeline.sync_destination(), warehouse)
    rows: list[StatusRow] = []
    for obj, state in sorted(_resource_states(pipeline).items()):
        rows.append(
            StatusRow(
                obj,
                state.get("cursor"),
                _row_count(pipeline, obj),
                state.get("last_run_at"),
                state.get("last_reconcile_at"),
                bool(state.get("complete", True)),
            )
        )
    return rows


# -- warehouse identity, locks, pipeline ----------------------------------------------------------------------
@contextmanager
def _locked(warehouse: WarehouseOptions, timeout: float) -> Iterator[None]:
    identity = warehouse.identity()
    what = f"this warehouse ({identity})"
    pipelines_dir = warehouse.resolved_pipelines_dir()
    os.makedirs(pipelines_dir, exist_ok=True)
    with ExitStack() as stack:
        if warehouse.destination == "duckdb":
            db = Path(warehouse.duckdb_path).expanduser().resolve()
            stack.enter_context(file_lock(f"{db}.{warehouse.dataset}.sync.lock", timeout, what))
        else:
            digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
            stack.enter_context(file_lock(os.path.join(pipelines_dir, f".{digest}.sync.lock"), timeout, what))
            dsn = warehouse.resolved_postgres_dsn() if warehouse.destination == "postgres" else None
            if dsn:
                stack.enter_context(postgres_lock(dsn, identity, timeout, what))
        stack.enter_context(
            file_lock(
                os.path.join(pipelines_dir, f".{PIPELINE_NAME}.lock"),
                timeout,
                f"pipeline {PIPELINE_NAME} in {pipelines_dir}",
            )
        )
        yield


def _guard(step: Callable[[], Any], warehouse: WarehouseOptions) -> Any:
    try:
        return step()
    except ClarifySyncError:
        raise
    except PipelineStepFailed as exc:
        cause = exc.__cause__ or exc.exception
        while cause is not None and not isinstance(cause, ClarifySyncError) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, ClarifySyncError):
            raise cause from None
        if exc.step == "extract":
            raise
        raise WarehouseError(
            f"{exc.step} into {warehouse.destination} failed ({_first_line(exc.exception)}): "
            "check the warehouse is reachable and writable, then rerun (pending data is kept)"
        ) from exc
    except Exception as exc:
        if _is_connection_error(exc):
            raise WarehouseError(
                f"cannot open the {warehouse.destination} warehouse ({_first_line(exc)}): "
                "check --duckdb-path / --postgres-dsn"
            ) from None
        raise


def _is_connection_error(exc: BaseException) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"DestinationConnectionError", "OperationalError", "IOException", "CatalogException"})


def _finish_pending(pipeline: dlt.Pipeline, warehouse: WarehouseOptions) -> None:
    """Load what a crashed run extracted or normalised: merge on id makes it harmless to load now."""
    if pipeline.has_pending_data:
        _guard(pipeline.normalize, warehouse)
        _guard(lambda: pipeline.load(workers=load_workers()), warehouse)


def _loader_format(warehouse: WarehouseOptions) -> str | None:
    return {"duckdb": "parquet", "postgres": "csv", "filesystem": "parquet"}.get(warehouse.destination)


def _lake_context(pipeline: dlt.Pipeline, warehouse: WarehouseOptions) -> dict[str, Any]:
    """Delta merges by primary key only (`upsert`): stale child items are deleted explicitly. Plain parquet
    is rewritten by every sync (see `WarehouseOptions.snapshot`): replace markers must not become rows."""
    if warehouse.destination != "filesystem":
        return {}
    if warehouse.snapshot:
        return {"merge": {"disposition": "append"}, "child_batch_hook": lambda _t, _k, batch: lake.drop_markers(batch)}
    return {
        "merge": {"disposition": "merge", "strategy": "upsert"},
        "child_batch_hook": lake.LakeReader(pipeline).stale_rows,
    }


def _load(pipeline: dlt.Pipeline, source: Any, warehouse: WarehouseOptions, refresh: str | None = None) -> None:
    fmt = _loader_format(warehouse)
    table_format = "delta" if warehouse.destination == "filesystem" and not warehouse.snapshot else None
    _guard(
        lambda: pipeline.extract(
            source,
            refresh=refresh,
            loader_file_format=fmt,  # type: ignore[arg-type]
            table_format=table_format,
        ),
        warehouse,
    )
    if os.environ.get(CRASH_ENV) == "normalize":
        os._exit(98)
    _guard(pipeline.normalize, warehouse)
    _guard(lambda: pipeline.load(workers=load_workers()), warehouse)


def _resource_states(pipeline: dlt.Pipeline) -> dict[str, dict[str, Any]]:
    sources = pipeline.state.get("sources", {})
    return dict(sources.get(SOURCE_NAME, {}).get("resources", {}))


def _reconcile_interval() -> float:
    try:
        hours = dlt.config.get("sources.clarify.reconcile_every_hours")
    except Exception:
        hours = None
    try:
        return float(hours) * 3600 if hours not in (None, "") else DEFAULT_RECONCILE_INTERVAL_SECONDS
    except (TypeError, ValueError):
        raise ConfigError(f"sources.clarify.reconcile_every_hours = {hours!r} is not a number of hours") from None


def _reconcile_due(
    selected: list[str], states: dict[str, dict[str, Any]], reconcile: bool | None, interval: float
) -> list[str]:
    if reconcile is False:
        return []
    if reconcile:
        return list(selected)
    now = datetime.now(UTC)
    due = []
    for obj in selected:
        last = states.get(obj, {}).get("last_reconcile_at")
        if last is None or (now - parse_ts(last)).total_seconds() >= interval:
            due.append(obj)
    return due


def _table_exists(pipeline: dlt.Pipeline, table: str) -> bool:
    return table in pipeline.default_schema.tables and bool(pipeline.default_schema.tables[table].get("columns"))


def _warehouse_ids(pipeline: dlt.Pipeline, obj: str) -> set[str]:
    if not pipeline.default_schema_name:  # nothing loaded yet
        return set()
    table = pipeline.default_schema.naming.normalize_table_identifier(obj)
    if not _table_exists(pipeline, table):
        return set()
    if lake.is_delta(pipeline, table):
        return {str(v) for v in lake.read_column(pipeline, table, "id")}
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        try:
            return {str(r[0]) for r in client.execute_sql(f"SELECT id FROM {name}")}
        except Exception as exc:
            if "does not exist" in str(exc).lower():
                return set()
            raise


def _drop_dangling_links(
    pipeline: dlt.Pipeline, schemas: dict[str, ObjectSchema], deleted: dict[str, list[str]]
) -> None:
    """Link rows pointing at deleted records (the other side of a relationship) go too."""
    naming = pipeline.default_schema.naming
    work: list[tuple[str, str, list[str]]] = []
    for obj, schema in schemas.items():
        for rel, target in schema.relationships.items():
            ids = deleted.get(target)
            table = naming.normalize_table_identifier(child_table(obj, rel))
            if ids and _table_exists(pipeline, table):
                work.append((table, naming.normalize_identifier(link_target_column(obj, target)), ids))
    if not work:
        return
    if lake.is_delta(pipeline, work[0][0]):
        for table, column, ids in work:
            lake.delete_where_in(pipeline, table, column, ids)
        return
    with pipeline.sql_client() as client:
        for table, column, ids in work:
            name = client.make_qualified_table_name(table)
            for i in range(0, len(ids), 1000):
                chunk = ids[i : i + 1000]
                placeholders = ", ".join(["%s"] * len(chunk))
                client.execute_sql(f"DELETE FROM {name} WHERE {column} IN ({placeholders})", *chunk)


def _row_count(pipeline: dlt.Pipeline, obj: str) -> int | None:
    table = pipeline.default_schema.naming.normalize_table_identifier(obj) if pipeline.default_schema_name else obj
    if not pipeline.default_schema_name or not _table_exists(pipeline, table):
        return None
    if pipeline.destination is not None and pipeline.destination.destination_name == "filesystem":
        return lake.row_count(pipeline, table)
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(table)}")
        return int(rows[0][0])


# -- test hooks -------------------------------------------------------------------------------------------------
_hooks_installed = False


def _install_crash_hooks() -> None:
    """`CLARIFY_SYNC_CRASH_AT=load`: exit the process right after the first load job completes (tests)."""
    global _hooks_installed
    if os.environ.get(CRASH_ENV) != "load" or _hooks_installed:
        return
    from dlt.load.load import Load

    original = Load.complete_jobs

    def complete_jobs(self: Any, load_id: str, jobs: Any, schema: Any) -> Any:
        result = original(self, load_id, jobs, schema)
        if result[1]:
            os._exit(99)
        return result

    Load.complete_jobs = complete_jobs  # type: ignore[method-assign]
    _hooks_installed = True


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return (text.splitlines()[0] if text else exc.__class__.__name__)[:200]
