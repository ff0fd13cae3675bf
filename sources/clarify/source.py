"""Clarify CRM as a dlt source: one merge resource per object, streamed page by page as pyarrow tables.

    import dlt
    from sources.clarify.source import clarify_source
    pipeline = dlt.pipeline("clarify_sync", destination="duckdb", dataset_name="clarify")
    pipeline.run(clarify_source(), loader_file_format="parquet")

Tables, naming and replace semantics: see `records.py`. Cursor state: see `state.py`. The page walk:
see `pagination.py`. `pipelines/sync.py` wraps this with locking, chunked loads, reconcile and a report.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa

from core.warehouse import DELETED_COLUMN
from sources.clarify import history, page_size
from sources.clarify.api import ClarifyApi
from sources.clarify.connection import ClarifyConnection, resolve_connection
from sources.clarify.controls import Controls, load_controls
from sources.clarify.cursor import Position
from sources.clarify.pagination import FullWalk, Page, UpdatedAtWalk, filter_honoured
from sources.clarify.records import PageConverter, drop_markers
from sources.clarify.schema import ObjectSchema, parse_schemas, select_objects
from sources.clarify.settings import (
    BATCH_ROWS,
    CRASH_ENV,
    DEFAULT_LAG_SECONDS,
    PAGE_LIMIT,
    SOFT_DELETED_COLUMN,
    SOURCE_NAME,
    parent_column,
)
from sources.clarify.state import ObjectState
from sources.clarify.stats import ObjectStats
from sources.clarify.walks import finish_walk, start_walk

__all__ = ["clarify_source", "ObjectStats", "SourceContext", "MERGE"]

MERGE: dict[str, str] = {"disposition": "merge", "strategy": "delete-insert"}
APPEND: dict[str, str] = {"disposition": "append"}
# Resource-level hints are inherited by the child/link table variants, so only hints that are harmless
# there live here (the arrow tables carry the types: timestamps are `timestamp[us, UTC]`).
# (No `dedup_sort`: a walk emits each id at most once per load, see pagination.py.)
MAIN_COLUMNS: dict[str, Any] = {
    DELETED_COLUMN: {"data_type": "bool", "hard_delete": True},
}
DELETE_BATCH = 5000


@dataclass
class SourceContext:
    """What `pipelines/sync.py` shares with the resources of one load (all optional for plain dlt use)."""

    api: ClarifyApi
    schemas: dict[str, ObjectSchema]
    mode: str = "sync"  # or "reconcile"
    since: Any = None
    lag_seconds: float = DEFAULT_LAG_SECONDS
    page_limit: int = PAGE_LIMIT
    max_pages: int | None = None
    # The ids each object's table holds, read by the wiring before extraction starts (a dlt client opened inside
    # dlt's extraction threads corrupts its injected context), for the objects whose deletion step may run. An
    # object missing here has its deletions deferred (`ObjectStats.live_ids`: the wiring reconciles it).
    warehouse_ids: Mapping[str, set[str]] = field(default_factory=dict)
    # progress(object, records so far, pages so far, records expected or None), after each page
    progress: Callable[..., None] | None = None
    stats: dict[str, ObjectStats] = field(default_factory=dict)
    # Destinations without delete-insert (Delta: `upsert`) change the strategy and rewrite child/link batches:
    # `child_batch_hook(table, primary_key, arrow_table) -> arrow_table` (see core/warehouse/lake.py).
    merge: dict[str, str] = field(default_factory=lambda: dict(MERGE))
    child_batch_hook: Callable[[str, list[str], Any], Any] | None = None
    # Objects whose tables do not exist yet and whose walk started from nothing in this run: the run's loads
    # append their rows (no staging, no delete) and drop the replace markers nothing needs yet. Each keeps one
    # walk in `walks` over all the run's chunks, so an id is emitted once however many loads the walk spans.
    appends: frozenset[str] = frozenset()
    walks: dict[str, UpdatedAtWalk] = field(default_factory=dict)
    # One line a person should read (an object that falls back to full reads); a log warning by default.
    notice: Callable[[str], None] = field(default=logging.getLogger("clarify_sync").warning)
    # History mode, soft deletes, excluded and hashed fields (controls.py).
    controls: Controls = field(default_factory=Controls)

    def disposition(self, obj: str) -> dict[str, str]:
        return APPEND if obj in self.appends else self.merge


@dlt.source(name=SOURCE_NAME, max_table_nesting=0, root_key=False)
def clarify_source(
    connection: Any = None,
    objects: Sequence[str] | None = None,
    since: Any = None,
    lag_seconds: float = DEFAULT_LAG_SECONDS,
    page_limit: int = PAGE_LIMIT,
    parallel: bool = True,
    context: Any = None,
) -> Any:
    """Resources for the chosen objects (default: every object `GET /schemas` lists, custom ones included).

    `connection` defaults to `resolve_connection()` (CLARIFY_* env, then `[sources.clarify]` config);
    `since` backfills from a date; `lag_seconds` is re-read before the cursor on every run.
    `context` is how `pipelines/sync.py` passes a shared client, discovered schemas, reconcile mode and stats.
    """
    ctx: SourceContext
    if context is None:
        conn = connection if isinstance(connection, ClarifyConnection) else resolve_connection()
        api = ClarifyApi(conn)
        schemas = parse_schemas(api.schemas(), api.listable)
        ctx = SourceContext(
            api, schemas, since=since, lag_seconds=lag_seconds, page_limit=page_limit, controls=load_controls(schemas)
        )
    else:
        ctx = context
    for obj in select_objects(ctx.schemas, list(objects) if objects else None):
        ctx.stats.setdefault(obj, ObjectStats())
        yield dlt.resource(
            _object_rows(obj, ctx),
            name=obj,
            primary_key="id",
            write_disposition=ctx.disposition(obj),
            columns=MAIN_COLUMNS,
            parallelized=parallel,
        )


def _child_hints(table: str, obj: str, key: list[str], merge: dict[str, str]) -> Any:
    pcol = parent_column(obj)
    return dlt.mark.make_hints(
        table_name=table,
        write_disposition=merge,
        merge_key=pcol,
        primary_key=key,
        columns={
            pcol: {"data_type": "text", "nullable": False},
            DELETED_COLUMN: {"data_type": "bool", "hard_delete": True},
        },
    )


def _mark(
    batches: list[tuple[str, Any]], converter: PageConverter, hints: dict[str, Any], ctx: SourceContext
) -> Iterator[Any]:
    obj = converter.obj
    for table, arrow_table in batches:
        if table == obj:
            yield _soft_delete_column(arrow_table) if obj in ctx.controls.soft_delete else arrow_table
        elif table == history.history_table(obj):
            if table not in hints:
                hints[table] = history.history_hints(obj)
            yield dlt.mark.with_hints(arrow_table, hints[table], create_table_variant=True)
        else:
            if table not in hints:
                hints[table] = _child_hints(table, obj, converter.table_key(table), ctx.disposition(obj))
            if obj in ctx.appends:
                arrow_table = drop_markers(arrow_table)
            elif ctx.child_batch_hook is not None:
                arrow_table = ctx.child_batch_hook(table, converter.table_key(table), arrow_table)
            yield dlt.mark.with_hints(arrow_table, hints[table], create_table_variant=True)


def _object_rows(obj: str, ctx: SourceContext) -> Iterator[Any]:
    """The generator behind one object's resource (sync walk or reconcile pass)."""
    state = ObjectState.current(obj)
    stats = ctx.stats[obj]
    started = time.perf_counter()
    converter = PageConverter(ctx.controls.schema(ctx.schemas[obj]), state.inferred)
    hints: dict[str, Any] = {}
    fetch = ctx.controls.fetcher(obj, ctx.api.list_page)
    try:
        if ctx.mode == "reconcile":
            yield from _reconcile(obj, ctx, state, converter, hints)
            return
        emitted: set[str] = set()
        if not state.cursorless:
            walk = _walk(obj, state, fetch, ctx)
            yield from _emit_pages(obj, walk, converter, hints, ctx, functools.partial(_save_position, state, walk))
            if not walk.cursorless:
                if walk.done:
                    finish_walk(state, walk, ctx.lag_seconds)
                return
            emitted = walk.emitted
            state.mark_cursorless(datetime.now(UTC))
            ctx.notice(
                f"{obj}: its records carry no usable _updated_at (or the listing ignores the filter): "
                "it is read in full and mirrored on every run"
            )
        yield from _mirror(obj, ctx, state, converter, hints, FullWalk(fetch, limit=ctx.page_limit, emitted=emitted))
    finally:
        stats.seconds += time.perf_counter() - started
        _remember_page_size(ctx.api)


def _walk(
    obj: str, state: ObjectState, fetch: Callable[[dict[str, Any]], dict[str, Any]], ctx: SourceContext
) -> UpdatedAtWalk:
    """This load's walk of `obj`: an appended object's walk goes on from the run's previous chunk (so a record
    updated while the run walks is not appended twice: the walk skips it and keeps the cursor before it, as
    within one load); any other walk starts where the state says."""
    walk = ctx.walks.get(obj) if obj in ctx.appends else None
    if walk is not None:
        walk.resume(ctx.max_pages)
        return walk
    walk = start_walk(
        state, fetch, since=ctx.since, lag_seconds=ctx.lag_seconds, page_limit=ctx.page_limit, max_pages=ctx.max_pages
    )
    if obj in ctx.appends:
        ctx.walks[obj] = walk
    return walk


def _remember_page_size(api: ClarifyApi) -> None:
    """The page size the API accepts, committed with this load (the next run asks for it straight away)."""
    stored = api.page_size.stored()
    source_state = dlt.current.source_state()
    if stored is None:
        source_state.pop(page_size.STATE_KEY, None)
    else:
        source_state[page_size.STATE_KEY] = stored


def _emit_pages(
    obj: str,
    pages: Iterable[Page],
    converter: PageConverter,
    hints: dict[str, Any],
    ctx: SourceContext,
    on_page: Callable[[Page], None] | None = None,
) -> Iterator[Any]:
    """Convert and yield the records of a walk, in batches: dlt's per-item cost (schema merge, writer calls) and
    our per-table cost are paid once per BATCH_ROWS records, not once per page. State is committed only when the
    extract finishes, and the buffer is flushed before that, so saving positions per page stays exact."""
    stats = ctx.stats[obj]
    buffer: list[dict[str, Any]] = []
    for page in pages:
        # What this object should reach: read so far, plus what the listing still holds from this page on, less
        # what this page repeats (the filter starts at the last instant already read).
        repeated = page.fetched - len(page.records)
        expected = stats.records + page.remaining - repeated if page.remaining is not None else None
        buffer.extend(page.records)
        if len(buffer) >= BATCH_ROWS:
            yield from _mark(_converted(converter, buffer, ctx), converter, hints, ctx)
            buffer = []
        stats.records += len(page.records)
        stats.pages += 1
        if on_page is not None:
            on_page(page)
        if ctx.progress is not None:
            ctx.progress(obj, stats.records, stats.pages, expected)
        if stats.pages == 2 and os.environ.get(CRASH_ENV) == "extract":
            os._exit(97)
    if buffer:
        yield from _mark(_converted(converter, buffer, ctx), converter, hints, ctx)


def _converted(converter: PageConverter, records: list[dict[str, Any]], ctx: SourceContext) -> list[tuple[str, Any]]:
    """The batches of some records; a history-mode object's main batch goes to its history table too."""
    batches = converter.convert(records)
    if converter.obj in ctx.controls.history:
        batches.append((history.history_table(converter.obj), history.version_batch(batches, converter.parent_col)))
    return batches


def _soft_delete_column(batch: Any) -> Any:
    """A (re)loaded record is live: its row carries `_deleted_at` null (which also creates the column)."""
    return batch.append_column(SOFT_DELETED_COLUMN, pa.nulls(batch.num_rows, type=pa.timestamp("us", tz="UTC")))


def _mirror(
    obj: str,
    ctx: SourceContext,
    state: ObjectState,
    converter: PageConverter,
    hints: dict[str, Any],
    walk: FullWalk,
) -> Iterator[Any]:
    """An object without a usable cursor: load every record (new and changed alike, merged on id) and delete the
    rows whose record is no longer listed, so each run leaves an exact copy."""
    yield from _emit_pages(obj, walk, converter, hints, ctx)
    if not walk.done:
        return
    reconciled = obj in ctx.warehouse_ids
    if reconciled:
        yield from _delete_missing(obj, ctx, converter, hints, walk.emitted)
    else:
        ctx.stats[obj].live_ids = walk.emitted
    state.finish_mirror(datetime.now(UTC), reconciled=reconciled)


def _delete_missing(
    obj: str, ctx: SourceContext, converter: PageConverter, hints: dict[str, Any], live: set[str]
) -> Iterator[Any]:
    stats = ctx.stats[obj]
    gone = sorted(ctx.warehouse_ids.get(obj, set()) - live)
    soft = obj in ctx.controls.soft_delete
    for i in range(0, len(gone), DELETE_BATCH):
        chunk = gone[i : i + DELETE_BATCH]
        batches = [] if soft else converter.deletion_batches(chunk)
        if obj in ctx.controls.history:
            batches.append((history.history_table(obj), history.deletion_batch(chunk)))
        yield from _mark(batches, converter, hints, ctx)
    if soft:  # the rows stay; the pipeline marks them after this load commits
        stats.soft_gone = gone
        return
    stats.deleted += len(gone)
    stats.deleted_ids.extend(gone)


def _save_position(state: ObjectState, walk: UpdatedAtWalk, page: Page) -> None:
    if not walk.done:
        state.save_position(page.position, walk.rewind_to)


def _reconcile(
    obj: str, ctx: SourceContext, state: ObjectState, converter: PageConverter, hints: dict[str, Any]
) -> Iterator[Any]:
    """List every id the API has, delete the warehouse rows it no longer has, refresh link tables. A mirror of this
    run already listed them (`ObjectStats.live_ids`); a cursorless object is re-checked (`_recheck`)."""
    stats = ctx.stats[obj]
    if stats.live_ids is not None:
        yield from _delete_missing(obj, ctx, converter, hints, stats.live_ids)
        stats.live_ids = None
        state.mark_reconciled(datetime.now(UTC))
        return
    if state.cursorless:
        yield from _recheck(obj, ctx, state, converter, hints)
        return
    fetch = ctx.controls.fetcher(obj, ctx.api.list_page)
    walk = UpdatedAtWalk(fetch, Position(), limit=ctx.page_limit)
    links = {t for t in converter.child_tables() if t.split("__", 1)[1] in ctx.schemas[obj].relationships}
    for page in _then_full(walk, fetch, ctx.page_limit):
        stats.pages += 1
        # Link tables are refreshed in full: an edit through the other side of a relationship does not
        # touch this record's `_updated_at`, so the incremental walk cannot see it.
        if page.records and links:
            batches = [b for b in converter.convert(page.records) if b[0] in links]
            yield from _mark(batches, converter, hints, ctx)
        if ctx.progress is not None:
            ctx.progress(obj, stats.records, stats.pages)
    yield from _delete_missing(obj, ctx, converter, hints, walk.emitted)
    state.mark_reconciled(datetime.now(UTC))


def _recheck(
    obj: str, ctx: SourceContext, state: ObjectState, converter: PageConverter, hints: dict[str, Any]
) -> Iterator[Any]:
    """A cursorless object's reconcile: walk its listing by `_updated_at` from the start, loading every record. A
    clean walk (`filter_honoured`) returns the object to incremental reads, its cursor where the walk got; else the
    rest is read in full as before. Deletions are applied either way, and one line says which way it went."""
    fetch = ctx.controls.fetcher(obj, ctx.api.list_page)
    walk = UpdatedAtWalk(fetch, Position(), limit=ctx.page_limit, recent_seconds=ctx.lag_seconds)
    yield from _emit_pages(obj, walk, converter, hints, ctx)
    if not filter_honoured(walk):
        ctx.notice(f"{obj}: its listing still cannot be walked by _updated_at: it stays read in full")
        yield from _mirror(
            obj, ctx, state, converter, hints, FullWalk(fetch, limit=ctx.page_limit, emitted=walk.emitted)
        )
        return
    yield from _delete_missing(obj, ctx, converter, hints, walk.emitted)
    now = datetime.now(UTC)
    state.mark_incremental(now)
    finish_walk(state, walk, ctx.lag_seconds)
    state.mark_reconciled(now)
    ctx.notice(f"{obj}: its listing honours the _updated_at filter again: back to incremental reads")


def _then_full(walk: UpdatedAtWalk, fetch: Callable[[dict[str, Any]], dict[str, Any]], limit: int) -> Iterator[Page]:
    """The walk's pages, then, if the listing turned out to have no usable cursor, the rest of a full listing
    (its ids join `walk.emitted`)."""
    yield from walk
    if walk.cursorless:
        full = FullWalk(fetch, limit=limit, emitted=walk.emitted)
        yield from full
        walk.emitted = full.emitted
