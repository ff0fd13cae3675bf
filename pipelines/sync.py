"""`run_sync`: Clarify CRM → warehouse, incremental, chunked, cron-safe; `sync_status`: what is loaded.

Order of a run (nothing touches the warehouse before the API and the warehouse have both answered):
1. `GET /schemas` once: a wrong key, unknown workspace or unreachable URL fails here; unknown objects too.
2. build the destination (unwritable DuckDB path fails here), take the locks (Postgres down fails here).
3. finish load packages a crashed run left behind, restore state from the warehouse if the local pipeline
   folder is gone or belongs to another warehouse.
4. load in chunks of at most `max_pages_per_load` pages per object (a crash costs at most one chunk);
   each chunk commits data and cursor together. The warehouse ids a cursorless object's mirror deletes against
   are read before each load's extraction starts (never from dlt's extraction threads).
5. reconcile (delete rows whose record is gone) when asked, or when the last one is older than the interval;
   it re-checks each cursorless object's listing and returns it to incremental reads when it behaves.
6. drop link rows pointing at records this run deleted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dlt

from core.errors import ConfigError, WarehouseError, first_line
from core.http import RequestStats, RetryPolicy
from core.warehouse import lake
from core.warehouse.locking import DEFAULT_LOCK_TIMEOUT, warehouse_lock
from core.warehouse.options import WarehouseOptions
from core.warehouse.pipeline import (
    create_staging_tables,
    extract,
    finish_pending,
    guard,
    normalize_and_load,
    open_pipeline,
)
from core.warehouse.sql import delete_where_in, drop_duplicate_keys, loaded_table, row_count, table_ids
from core.warehouse.sync_note import SyncNote
from pipelines import config_values, noop_probe
from pipelines.allocators import lean_allocators
from pipelines.gc_tuning import tuned_gc
from pipelines.lists_sync import sync_lists
from pipelines.run_records import note_schemas, recorded, watch_requests
from pipelines.soft_deletes import apply_soft_deletes
from pipelines.sync_report import ListsReport, ObjectReport, SyncReport, TranscriptsReport
from pipelines.transcripts_sync import check_transcript_settings, sync_transcripts, transcripts_wanted
from sources.clarify import page_size
from sources.clarify.api import ClarifyApi
from sources.clarify.connection import ClarifyConnection
from sources.clarify.controls import Controls, load_controls
from sources.clarify.cursor import parse_ts
from sources.clarify.freshness import reconcile_due, up_to_date
from sources.clarify.list_reading import split_objects
from sources.clarify.records import drop_markers
from sources.clarify.schema import ObjectSchema, parse_schemas, select_objects
from sources.clarify.settings import (
    APPEND_MAX_IDS,
    CRASH_ENV,
    DEFAULT_LAG_SECONDS,
    DEFAULT_RECONCILE_INTERVAL_SECONDS,
    MAX_PAGES_PER_LOAD,
    PAGE_LIMIT,
    SOURCE_NAME,
    child_table,
    link_target_column,
)
from sources.clarify.source import SourceContext, clarify_source
from sources.clarify.state import ObjectState, adopt_states, object_states
from sources.clarify.stats import ObjectStats

PIPELINE_NAME = "clarify_sync"
APPEND_FIRST_LOADS = ("duckdb", "postgres")  # warehouses whose first load of an object appends (`_SyncRun.fresh`)

Progress = Callable[..., None]  # (object, records so far, pages so far, records expected or None)


@dataclass
class StatusRow:
    object: str
    cursor: str | None
    rows: int | None
    last_run: str | None
    last_reconcile: str | None
    complete: bool
    mode: str  # `incremental` or `cursorless` (`ObjectState.mode`)
    mode_since: str | None


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
    probe_settings: dict[str, Any] | None = None,
    api: ClarifyApi | None = None,
    controls: Controls | None = None,
    history: Sequence[str] = (),
    soft_delete: Sequence[str] = (),
    transcripts: bool | None = None,
) -> SyncReport:
    """Sync CRM objects into the warehouse; returns per-object counts. Raises `ClarifySyncError` subclasses.

    `reconcile`: True forces the deletion pass, False skips it, None runs it when the last one is older than
    `reconcile_interval` (default: `sources.clarify.reconcile_every_hours`, else 24 h). `since` re-reads
    everything updated from then on. `progress(object, records, pages, expected)` after each page (from worker
    threads; `expected` from `meta.total_records`, or None); `notice(line)`: what a person should read once.
    `controls`: history, soft deletes, excluded and hashed fields (default: dlt config, `sources/clarify/
    controls.py`, plus the `history` and `soft_delete` objects). `probe_settings`: leave the note that lets
    the next run answer "nothing changed" without dlt (`noop_probe.py`, DuckDB and Postgres); `api`: the probe's
    client. `transcripts`: also load meeting transcripts (`transcripts_sync.py`; default
    `sources.clarify.transcripts`).
    """
    started = time.perf_counter()
    _check_since(since)
    report = SyncReport()
    chunk_pages: int | None = max_pages_per_load
    if warehouse.snapshot:  # plain parquet files cannot merge or delete: rewrite every table, in one load
        full_refresh, since, reconcile, chunk_pages = True, None, False, None
    with ClarifyApi(connection, retry=retry) if api is None else api as api:
        watch_requests(api.http.stats)
        schemas_body = api.schemas()  # validates key, workspace and URL before anything else
        schemas = parse_schemas(schemas_body, api.listable)
        want_lists, objects = split_objects(objects)
        want_transcripts, objects = transcripts_wanted(transcripts, schemas, warehouse, objects, notice)
        selected = select_objects(schemas, objects or None) if objects != [] else []
        note_schemas(schemas, selected)  # announces field changes; a frozen contract stops here
        controls = controls if controls is not None else load_controls(schemas, history, soft_delete)
        controls.check(schemas, warehouse.destination)
        check_transcript_settings(controls, want_transcripts)
        destination = warehouse.make_destination()
        with warehouse_lock(warehouse, PIPELINE_NAME, lock_timeout), tuned_gc(), lean_allocators():
            store = _note_store(warehouse)
            note = noop_probe.take(store)  # from here until this run writes a new note, none is trusted
            with ExitStack() as held:
                destination = _held_duckdb(warehouse, full_refresh, held) or destination
                pipeline = open_pipeline(PIPELINE_NAME, warehouse, destination)
                if finish_pending(pipeline, warehouse):
                    _drop_replayed_rows(pipeline, selected)
                guard(lambda: pipeline.sync_destination(), warehouse)
                _adopt_note(pipeline, note, connection, full_refresh)
                _adopt_page_size(pipeline, api)
                _install_crash_hooks()
                run = _SyncRun(
                    api,
                    schemas,
                    pipeline,
                    warehouse,
                    _seconds(lag),
                    page_limit,
                    progress,
                    parallel,
                    controls=controls,
                    notice=notice,
                )
                interval = _reconcile_interval() if reconcile_interval is None else _seconds(reconcile_interval)
                pending = selected if full_refresh or since is not None else run.stale(selected)
                if not full_refresh:
                    pending = run.without_rechecks(pending, reconcile, interval)
                report.loads += run.load_in_chunks(pending, since, chunk_pages, full_refresh)
                if want_lists:
                    report.lists = run.lists(list(schemas), force=full_refresh)
                    report.loads += int(report.lists.loaded)
                report.reconciled = run.reconcile_if_due(selected, reconcile, interval)
                report.loads += int(bool(report.reconciled))
                run.drop_dangling_links()
                if want_transcripts:
                    report.transcripts = run.transcripts(notice, reread=full_refresh)
                states = object_states(pipeline.state)
            if probe_settings is not None and store is not None:  # after the DuckDB file is closed
                stored = {o: states[o].stored if o in states else {} for o in selected}
                noop_probe.remember(store, probe_settings, api, schemas_body, stored, interval, report, controls.plain)
        _fill_report(report, selected, run.stats, states, api.http.stats)
    report.seconds = time.perf_counter() - started
    return report


def _fill_report(
    report: SyncReport,
    selected: list[str],
    stats: dict[str, ObjectStats],
    states: dict[str, ObjectState],
    http: RequestStats,
) -> None:
    """Each object's counts from the source, with what only the run knows: requests made, cursor reached."""
    for obj in selected:
        counts = vars(stats.get(obj, ObjectStats()))
        cursor = states[obj].cursor if obj in states else None
        report.objects[obj] = ObjectReport(
            **{**counts, "seconds": round(counts["seconds"], 3)}, requests=http.by_tag.get(obj, 0), cursor=cursor
        )
    report.requests = http.requests
    report.retries = http.retries


def _held_duckdb(warehouse: WarehouseOptions, full_refresh: bool, stack: ExitStack) -> Any | None:
    """An incremental DuckDB run keeps one connection for all its load jobs (closed before the note's file stamp):
    dlt otherwise opens the file for each job and checkpoints it on close, ~0.1 s a job and 35 jobs for a 1%
    change, most of such a run. Not for a first or full load: closing the file between jobs keeps its memory
    bounded by a job. Taken under the lock, so a concurrent sync still waits for the lock, not for DuckDB's."""
    if warehouse.destination != "duckdb" or warehouse.is_missing() or full_refresh:
        return None
    import duckdb

    path = str(Path(warehouse.duckdb_path).expanduser().resolve())
    try:
        conn = stack.enter_context(closing(duckdb.connect(path)))
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open {path} ({first_line(exc)}): check --duckdb-path") from None
    return warehouse.make_destination(connection=conn)


def _note_store(warehouse: WarehouseOptions) -> SyncNote | None:
    """The note store, with a Postgres DSN from dlt's secrets too (this run imports dlt anyway)."""
    return noop_probe.note_store(
        warehouse, warehouse.required_postgres_dsn() if warehouse.destination == "postgres" else None
    )


def _adopt_note(
    pipeline: dlt.Pipeline, note: dict[str, Any] | None, connection: ClarifyConnection, full_refresh: bool
) -> None:
    """States a small-change load moved (`pipelines/small_changes.py`) live in the trusted note only: they
    describe this warehouse better than dlt's older ones, so the walk starts from them and the next load
    commits them to dlt's state."""
    if (
        note is None
        or full_refresh
        or (note["base_url"], note["workspace"]) != (connection.base_url, connection.workspace)
    ):
        return
    with pipeline.managed_state() as state:
        adopt_states(state, note["states"])


def _adopt_page_size(pipeline: dlt.Pipeline, api: ClarifyApi) -> None:
    """The page size an earlier run learnt (`sources/clarify/page_size.py`), while it is under a day old."""
    source_state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    api.page_size.adopt(source_state.get(page_size.STATE_KEY), max_age=page_size.RECHECK)


def _check_since(since: str | datetime | None) -> None:
    if since is None:
        return
    try:
        parse_ts(since)
    except Exception:
        raise ConfigError(f"--since {since!r} is not a date or ISO-8601 timestamp: use e.g. 2024-01-31") from None


@dataclass
class _SyncRun:
    """What every load of one run shares: the API, the schemas, the pipeline, and the counts so far."""

    api: ClarifyApi
    schemas: dict[str, ObjectSchema]
    pipeline: dlt.Pipeline
    warehouse: WarehouseOptions
    lag_seconds: float
    page_limit: int
    progress: Progress | None
    parallel: bool
    controls: Controls = field(default_factory=Controls)
    notice: Callable[[str], None] | None = None  # `run_sync`'s: lines a person should read (a log warning if None)
    stats: dict[str, ObjectStats] = field(default_factory=dict)

    def stale(self, selected: list[str]) -> list[str]:
        """Objects whose first page shows something new; the rest skip dlt (a noop run costs one request each)."""
        states = object_states(self.pipeline.state)
        return [
            o
            for o in selected
            if not up_to_date(
                states.get(o) or ObjectState({}),
                lambda params, o=o: self.api.list_page(o, params, keep=True),
                lag_seconds=self.lag_seconds,
                page_limit=self.page_limit,
            )
        ]

    def load_in_chunks(
        self,
        pending: list[str],
        since: str | datetime | None,
        chunk_pages: int | None,
        full_refresh: bool,
    ) -> int:
        """Load until every object's walk is complete, at most `chunk_pages` pages per object a load."""
        loads = 0
        appends = self.fresh(pending) if not full_refresh else frozenset()
        walks: dict[str, Any] = {}  # the appended objects' walks, carried from chunk to chunk
        while pending:
            first = loads == 0
            ctx = self._context(
                since=since if first else None,
                lag_seconds=self.lag_seconds,
                max_pages=chunk_pages,
                appends=appends,
                walks=walks,
                warehouse_ids=self._mirrored_ids(pending),
            )
            source = clarify_source(objects=pending, context=ctx, parallel=self.parallel)
            self._load(source, refresh="drop_resources" if full_refresh and first else None)
            if first and appends and self.warehouse.destination == "postgres":
                create_staging_tables(self.pipeline, [name for name, _ in _object_tables(self.pipeline, appends)])
            loads += 1
            states = object_states(self.pipeline.state)
            pending = [o for o in pending if o in states and not states[o].complete]
            appends = _still_appending(appends, walks, pending)
        return loads

    def fresh(self, objects: list[str]) -> frozenset[str]:
        """The objects whose first load may append (`SourceContext.appends`): on DuckDB and Postgres, with no
        table yet and a walk that starts from nothing. Every chunk of this run appends them (one walk spans the
        chunks, so no id comes twice: at 1M records merging the later chunks cost ~7 of ~31 CPU-seconds) until
        the walk holds `APPEND_MAX_IDS` ids (`_still_appending`); every later run merges (on Postgres into the
        staging tables the first load's schema made, `create_staging_tables`)."""
        if self.warehouse.destination not in APPEND_FIRST_LOADS:
            return frozenset()
        states = object_states(self.pipeline.state)
        return frozenset(
            o for o in objects if loaded_table(self.pipeline, o) is None and (o not in states or states[o].unstarted)
        )

    def without_rechecks(self, pending: list[str], reconcile: bool | None, interval: float) -> list[str]:
        """`pending` less the cursorless objects the reconcile pass will re-check: that reads them in full anyway."""
        states = object_states(self.pipeline.state)
        rechecked = {
            o for o in reconcile_due(pending, states, reconcile, interval) if o in states and states[o].cursorless
        }
        return [o for o in pending if o not in rechecked]

    def reconcile_if_due(self, selected: list[str], reconcile: bool | None, interval: float) -> list[str]:
        """The deletion pass for the objects it is due for (`reconcile` as for `run_sync`), and for mirrors whose
        deletions this run deferred (unless refused: the next run's mirror applies them); returns them."""
        due = reconcile_due(selected, object_states(self.pipeline.state), reconcile, interval)
        if reconcile is not False:
            due += [o for o in selected if o not in due and self.stats.get(o, ObjectStats()).live_ids is not None]
        if due:
            self.reconcile(due)
        return due

    def reconcile(self, due: list[str]) -> None:
        """Delete the rows of records gone from Clarify (`drop_dangling_links` then drops the links to them)."""
        ctx = self._context(mode="reconcile", warehouse_ids={o: table_ids(self.pipeline, o) for o in due})
        self._load(clarify_source(objects=due, context=ctx, parallel=False))

    def drop_dangling_links(self) -> None:
        """Link rows pointing at records this run deleted (by a mirror or the reconcile) go too."""
        _drop_dangling_links(self.pipeline, self.schemas, {o: s.deleted_ids for o, s in self.stats.items()})

    def _mirrored_ids(self, pending: list[str]) -> dict[str, set[str]]:
        """The stored ids of the objects this load may mirror (cursorless ones, and those with no table yet, which
        cost nothing), read here, before extraction, through our SQL layer."""
        states = object_states(self.pipeline.state)
        return {
            o: table_ids(self.pipeline, o)
            for o in pending
            if (o in states and states[o].cursorless) or loaded_table(self.pipeline, o) is None
        }

    def _context(self, **options: Any) -> SourceContext:
        return SourceContext(
            self.api,
            self.schemas,
            page_limit=self.page_limit,
            progress=self.progress,
            stats=self.stats,
            **_lake_context(self.pipeline, self.warehouse),
            controls=self.controls,
            **({"notice": self.notice} if self.notice is not None else {}),
            **options,
        )

    def lists(self, objects: list[str], *, force: bool) -> ListsReport:
        """Lists and their members: no cursor, so re-read each run and loaded only when they changed."""
        return sync_lists(
            self.api,
            self.pipeline,
            objects,
            self._load,
            merge=_lake_context(self.pipeline, self.warehouse).get("merge"),
            force=force,
            page_limit=self.page_limit,
        )

    def transcripts(self, notice: Callable[[str], None] | None, *, reread: bool) -> TranscriptsReport:
        """Transcripts of the recordings the warehouse now holds, where it lacks a current one (`reread`: all)."""
        return sync_transcripts(
            self.api, self.pipeline, self._load, self.controls, progress=self.progress, notice=notice, reread=reread
        )

    def _load(self, source: Any, refresh: str | None = None) -> None:
        extract(self.pipeline, source, self.warehouse, refresh)
        if os.environ.get(CRASH_ENV) == "normalize":
            os._exit(98)
        normalize_and_load(self.pipeline, self.warehouse)
        apply_soft_deletes(self.pipeline, self.stats)


def _still_appending(appends: frozenset[str], walks: dict[str, Any], pending: list[str]) -> frozenset[str]:
    """The appended objects whose next chunk may append too. A walk holding more than `APPEND_MAX_IDS` ids lets
    them go and its object's later chunks merge (a fresh walk from the committed position, as a later run's),
    so a first load's memory does not grow with the size of an object; a finished object's walk goes too."""
    over = {obj for obj, walk in walks.items() if obj not in pending or len(walk.emitted) > APPEND_MAX_IDS}
    for obj in over:
        del walks[obj]
    return appends - over


def sync_status(warehouse: WarehouseOptions) -> list[StatusRow]:
    """Per object: cursor, row count, last finished walk and reconcile, read from the warehouse's dlt state."""
    destination = warehouse.make_destination()
    pipeline = open_pipeline(PIPELINE_NAME, warehouse, destination)
    guard(lambda: pipeline.sync_destination(), warehouse)
    states = object_states(pipeline.state)
    note = noop_probe.trusted(_note_store(warehouse))  # newer when the last runs were small-change loads
    states.update({obj: ObjectState(stored) for obj, stored in (note or {}).get("states", {}).items()})
    rows: list[StatusRow] = []
    for obj, state in sorted(states.items()):
        rows.append(
            StatusRow(
                obj,
                state.cursor,
                row_count(pipeline, obj),
                state.last_run_at,
                state.last_reconcile_at,
                state.complete,
                state.mode,
                state.mode_since,
            )
        )
    return rows


# -- reading the run's state -------------------------------------------------------------------------------
def _lake_context(pipeline: dlt.Pipeline, warehouse: WarehouseOptions) -> dict[str, Any]:
    """Delta merges by primary key only (`upsert`): stale child items are deleted explicitly. Plain parquet
    is rewritten by every sync (see `WarehouseOptions.snapshot`): replace markers must not become rows."""
    if warehouse.destination != "filesystem":
        return {}
    if warehouse.snapshot:
        return {"merge": {"disposition": "append"}, "child_batch_hook": lambda _t, _k, batch: drop_markers(batch)}
    return {
        "merge": {"disposition": "merge", "strategy": "upsert"},
        "child_batch_hook": lake.LakeReader(pipeline).stale_rows,
    }


def _reconcile_interval() -> float:
    return config_values.hours("sources.clarify.reconcile_every_hours", DEFAULT_RECONCILE_INTERVAL_SECONDS)


def _drop_replayed_rows(pipeline: dlt.Pipeline, objects: list[str]) -> None:
    """After finishing a crashed run's loads: a first load's appended tables (objects and their child and link
    tables, never `<object>_history`) keep one row per primary key (`drop_duplicate_keys`)."""
    drop_duplicate_keys(pipeline, [(name, keys) for name, keys in _object_tables(pipeline, objects) if keys])


def _object_tables(pipeline: dlt.Pipeline, objects: Iterable[str]) -> list[tuple[str, list[str]]]:
    """The loaded tables of `objects` (their own, child and link tables) with their primary key columns."""
    if not pipeline.default_schema_name:
        return []
    prefixes = tuple(f"{o}__" for o in objects)
    return [
        (name, [c for c, column in table.get("columns", {}).items() if column.get("primary_key")])
        for name, table in pipeline.default_schema.tables.items()
        if name in objects or name.startswith(prefixes)
    ]


def _drop_dangling_links(
    pipeline: dlt.Pipeline, schemas: dict[str, ObjectSchema], deleted: dict[str, list[str]]
) -> None:
    """Link rows pointing at deleted records (the other side of a relationship) go too."""
    naming = pipeline.default_schema.naming
    work: list[tuple[str, str, list[str]]] = []
    for obj, schema in schemas.items():
        for rel, target in schema.relationships.items():
            ids = deleted.get(target)
            table = loaded_table(pipeline, child_table(obj, rel), child=True)
            if ids and table is not None:
                work.append((table, naming.normalize_identifier(link_target_column(obj, target)), ids))
    delete_where_in(pipeline, work)


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
