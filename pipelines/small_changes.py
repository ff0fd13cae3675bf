"""The everyday cron run that finds a few changed records, loaded without dlt.

When the nothing-changed probe (`noop_probe.py`) trusts the last sync's note and only some objects' first pages
differ, importing dlt and running its extract, normalize and staged delete-insert (~2 s) is most of such a run.
Here the changed objects are walked with the walk and the converter of the dlt resource (`sources/clarify/
walks.py`, `records.py`) and merged into the DuckDB file or the Postgres dataset in one transaction with dlt's
delete-insert semantics (`WarehouseSQL.merge_arrow`; Postgres copies each batch into a temporary table first):
rows of a reloaded record are replaced, its child and link rows too.

The cursors it moves go into the note (`core/warehouse/sync_note.py`): dlt's own state keeps older ones, which
stay safe, since a dlt sync adopts the note's states while the note is trusted (`noop_probe.take`) and
otherwise re-reads from its own, which merging on `id` makes harmless. On DuckDB the note is deleted before
the commit and written after it, so a crash between the two leaves no note and the next run is such a dlt
sync; on Postgres the note's row is replaced in the same transaction as the rows, so the next run trusts it.

It declines, and the dlt sync takes over with the probe's answers (each first page, the schemas, the lists), when:
- the note's sync ran with controls (history, soft deletes, excluded or hashed fields);
- the note's sync read transcripts and the recordings changed (their transcripts are read by the dlt sync);
- a changed object is read in full (no usable cursor) or has an unfinished walk;
- an object needs more than `SMALL_CHANGE_PAGES` pages (the dlt sync then loads in crash-bounded chunks);
- a batch has a table or column the warehouse lacks (dlt evolves the schema), or the warehouse refuses a row;
- another run changed the warehouse while this one waited for the lock.
"""

from __future__ import annotations

import copy
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.warehouse.locking import DEFAULT_LOCK_TIMEOUT
from core.warehouse.options import WarehouseOptions
from core.warehouse.sync_note import SyncNote
from pipelines import noop_probe
from pipelines.sync_report import SyncReport
from sources.clarify.api import ClarifyApi
from sources.clarify.records import PageConverter
from sources.clarify.schema import ObjectSchema, parse_schemas
from sources.clarify.settings import BATCH_ROWS, CRASH_ENV, RECORDING_OBJECT, SMALL_CHANGE_PAGES
from sources.clarify.state import ObjectState
from sources.clarify.stats import ObjectStats
from sources.clarify.walks import finish_walk, start_walk


@dataclass
class _Walked:
    """One changed object, read to the end: its batches as (table, merge key, arrow table) and its counts."""

    batches: list[tuple[str, str, Any]] = field(default_factory=list)
    stats: ObjectStats = field(default_factory=ObjectStats)


def load_small_changes(
    warehouse: WarehouseOptions, found: noop_probe.ProbeResult, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> SyncReport | None:
    """The run's report once the changes the probe `found` are committed; None to let the dlt sync do it."""
    started = time.perf_counter()
    note, api = found.note, found.api
    if note is None or api is None or not note.get("plain"):
        return None
    if note.get("transcripts") is not None and RECORDING_OBJECT in found.changed:
        return None
    states = {obj: ObjectState(copy.deepcopy(note["states"][obj])) for obj in found.changed}
    if any(s.cursorless or not s.complete or s.cursor is None for s in states.values()):
        return None
    schemas = parse_schemas(api.schemas(keep=True), api.listable)
    settings = note["settings"]
    with ThreadPoolExecutor(max_workers=len(states)) as pool:
        walked = dict(zip(states, pool.map(lambda o: _walk(api, schemas[o], states[o], settings), states), strict=True))
    store = noop_probe.note_store(warehouse)
    if store is None or any(w is None for w in walked.values()):
        return None
    updated = {**note, "states": {**note["states"], **{obj: state.stored for obj, state in states.items()}}}
    if not _commit(store, note, updated, walked, lock_timeout):
        return None
    cursors = {obj: ObjectState(stored).cursor for obj, stored in updated["states"].items()}
    report = SyncReport.answered(api.http.stats, cursors, {obj: w.stats for obj, w in walked.items() if w is not None})
    report.loads = 1
    report.seconds = time.perf_counter() - started
    return report


def _walk(api: ClarifyApi, schema: ObjectSchema, state: ObjectState, settings: dict[str, Any]) -> _Walked | None:
    """Read one object from its cursor to the end of the listing (moving `state`), or None to decline. The
    first page (the probe's) stays kept for a dlt sync that takes over; later ones are converted to arrow as
    they arrive, not kept."""
    started = time.perf_counter()
    obj = schema.slug
    asked = itertools.count()
    walk = start_walk(
        state,
        lambda params: api.list_page(obj, params, keep=next(asked) == 0),
        lag_seconds=settings["lag"],
        page_limit=settings["page_limit"],
        max_pages=SMALL_CHANGE_PAGES,
    )
    converter = PageConverter(schema, state.inferred)
    result = _Walked()
    records: list[dict[str, Any]] = []

    def convert() -> None:  # arrow holds the records in far less memory than the pages' dicts
        result.batches.extend((t, "id" if t == obj else converter.parent_col, b) for t, b in converter.convert(records))
        result.stats.records += len(records)
        records.clear()

    for page in walk:
        records.extend(page.records)
        result.stats.pages += 1
        if len(records) >= BATCH_ROWS:
            convert()
    if records:
        convert()
    if walk.cursorless or not walk.done:
        return None
    finish_walk(state, walk, settings["lag"])
    result.stats.seconds = time.perf_counter() - started
    return result


def _commit(
    store: SyncNote, note: dict[str, Any], updated: dict[str, Any], walked: dict[str, _Walked], lock_timeout: float
) -> bool:
    """Merge every batch in one transaction that leaves `updated` as the note; False, with nothing written, when
    another run changed the warehouse, a table or column is missing, or the warehouse refuses a row (a column
    whose type someone changed): the dlt sync then loads the change, or says in one line what the warehouse
    refuses."""
    batches = [b for w in walked.values() for b in w.batches]
    with store.changing(note, lock_timeout) as sql:
        if sql is None:
            return False
        columns = sql.table_columns(sorted({t for t, _, _ in batches}))
        if any(not set(batch.column_names) <= set(columns.get(table, ())) for table, _, batch in batches):
            return False

        def merge() -> None:
            for table, key, batch in batches:
                sql.merge_arrow(table, key, batch, {c for c, nullable in columns[table].items() if nullable})

        if not store.commit(sql, updated, merge):
            return False
        if os.environ.get(CRASH_ENV) == "small-change":
            os._exit(96)
    return True
