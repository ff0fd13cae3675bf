"""The transcripts step of a sync (`sync --transcripts`): after the objects' loads, read the transcript of every
recording that needs one and load it.

Which recordings need one is asked of the warehouse, not remembered in state: those in `meeting_recording` with no
`meeting_transcript` row, whose row is `pending`, or whose row was read from another version of the recording (its
`_updated_at` moved: re-transcribed, or changed otherwise). So the step is exact whatever loaded the recordings (a
dlt load in this run or an earlier one, a small-change load, a mirror of recordings without a cursor), a crash costs
nothing but the work of the load in flight, and an unchanged rerun asks nothing of the API. Transcripts whose
recording is gone from `meeting_recording` (removed by the reconcile pass or a mirror) are deleted with their
segments and participants. Recordings are read a few at a time (`WORKERS`; artifacts calls share the API client
and its pacing) and loaded in chunks of `CHUNK`, each its own commit, so memory is bounded by a chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import dlt

from core.errors import ConfigError
from core.warehouse.options import WarehouseOptions
from core.warehouse.sql import loaded_table, pipeline_sql, quote
from pipelines import config_values
from pipelines.sync_report import TranscriptsReport
from sources.clarify.api import ClarifyApi
from sources.clarify.controls import Controls
from sources.clarify.schema import ObjectSchema
from sources.clarify.settings import (
    DEFAULT_TRANSCRIPT_WAIT_HOURS,
    RECORDING_OBJECT,
    SOFT_DELETED_COLUMN,
    TRANSCRIPT_TABLE,
    child_table,
    parent_column,
)
from sources.clarify.transcript_tables import KEY, check_transcript_controls, gives_up, transcripts_source
from sources.clarify.transcripts import (
    FAILED,
    PENDING,
    TAG,
    TRANSCRIBED,
    Due,
    Fetched,
    SignedDownloads,
    read_transcript,
)

log = logging.getLogger("clarify_sync")
CHUNK = 200  # recordings per load
WORKERS = 4  # recordings read at once
MEETING_LINK = "meeting"  # the recording's relationship to its meeting, where it is one
NOTICES = 5  # problem lines per run; the rest are counted


def sync_transcripts(
    api: ClarifyApi,
    pipeline: dlt.Pipeline,
    load: Callable[[Any], None],
    controls: Controls,
    *,
    progress: Callable[..., None] | None = None,
    notice: Callable[[str], None] | None = None,
    reread: bool = False,
) -> TranscriptsReport:
    """Read and `load(source)` the transcripts the warehouse lacks (`reread`: every recording's); delete those of
    recordings that are gone."""
    started = time.perf_counter()
    due, gone = find_due(pipeline, reread)
    report = TranscriptsReport(due=len(due), deleted=len(gone))
    before = api.http.stats.by_tag.get(TAG, 0)
    wait = _wait_seconds()
    downloads = SignedDownloads(api.http.retry)
    try:
        for n, chunk in enumerate(_chunks(due, CHUNK, at_least_one=bool(gone))):
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                fetched = list(pool.map(lambda d: read_transcript(api, downloads, d), chunk))
            written = [f for f in fetched if _written(f)]
            now = datetime.now(UTC)
            if written or (n == 0 and gone):
                load(transcripts_source(written, gone if n == 0 else [], now, wait, controls))
            report.count(fetched)
            report.waiting += sum(_asked_again(f, now, wait) for f in fetched)
            _say(fetched, report, notice or log.warning)
            if progress is not None:
                progress(TAG, report.transcribed, n + 1, len(due))
    finally:
        report.downloads = downloads.requests
        report.requests = api.http.stats.by_tag.get(TAG, 0) - before + report.downloads
        report.seconds = time.perf_counter() - started
        downloads.close()
    return report


def _written(f: Fetched) -> bool:
    """A failed read writes nothing (the recording stays due); nor does a pending one whose earlier transcript the
    warehouse holds (kept until the new one can be read)."""
    return f.status != FAILED and not (f.status == PENDING and f.due.stored_status == TRANSCRIBED)


def _asked_again(f: Fetched, now: datetime, wait: float) -> bool:
    """Whether the next run asks for this recording again (so a nothing-changed run cannot be answered without)."""
    if f.status == FAILED:
        return True
    return f.status == PENDING and (f.due.stored_status == TRANSCRIBED or not gives_up(f.due, now, wait))


def _chunks(items: Sequence[Due], size: int, *, at_least_one: bool) -> Iterator[Sequence[Due]]:
    if not items and at_least_one:
        yield []
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _say(fetched: list[Fetched], report: TranscriptsReport, notice: Callable[[str], None]) -> None:
    for f in fetched:
        if f.problem is None:
            continue
        report.problems += 1
        if report.problems <= NOTICES:
            notice(f"{RECORDING_OBJECT} {f.due.recording}: {f.problem}")
        elif report.problems == NOTICES + 1:
            notice(f"{RECORDING_OBJECT}: more recordings with problems; the run's summary counts them")


def _wait_seconds() -> float:
    """`[sources.clarify] transcript_wait_hours`: how long a recording without a transcript is asked on every run."""
    return config_values.hours("sources.clarify.transcript_wait_hours", DEFAULT_TRANSCRIPT_WAIT_HOURS * 3600)


def transcripts_wanted(
    flag: bool | None,
    schemas: dict[str, ObjectSchema],
    warehouse: WarehouseOptions,
    objects: list[str] | None,
    notice: Callable[[str], None] | None,
) -> tuple[bool, list[str] | None]:
    """(read transcripts?, the objects to sync: with `--objects`, the recordings join them). The flag decides, else
    `[sources.clarify] transcripts`; a lake cannot say which recordings need one, and a workspace whose
    `GET /schemas` names no recordings has none to read (said once, not an error)."""
    wanted = flag if flag is not None else config_values.flag("sources.clarify.transcripts")
    if not wanted:
        return False, objects
    if warehouse.destination == "filesystem":
        raise ConfigError("--transcripts needs a SQL warehouse: use --destination duckdb or postgres")
    if RECORDING_OBJECT not in schemas:
        (notice or log.warning)(f"transcripts: this workspace's GET /schemas names no {RECORDING_OBJECT}: none to read")
        return False, objects
    if objects and RECORDING_OBJECT not in objects:
        objects = [*objects, RECORDING_OBJECT]
    return True, objects


def check_transcript_settings(controls: Controls, wanted: bool) -> None:
    """Transcript fields the controls name must exist; the artifacts path needs each recording's meeting, so its
    link cannot be left out or hashed."""
    if not wanted:
        return
    check_transcript_controls(controls)
    hidden = controls.exclude.get(RECORDING_OBJECT, frozenset()) | controls.hashed.get(RECORDING_OBJECT, frozenset())
    if link := sorted(hidden & {"meeting_id", "meeting"}):
        raise ConfigError(
            f"[sources.clarify.columns.{RECORDING_OBJECT}] hides {link}, which --transcripts needs to ask for "
            "a recording's transcript: remove it from exclude and hash"
        )


# -- what the warehouse says is due ------------------------------------------------------------------------------
def find_due(pipeline: dlt.Pipeline, reread: bool = False) -> tuple[list[Due], list[str]]:
    """(recordings whose transcript is to be read, ids of transcripts whose recording is gone)."""
    recordings = loaded_table(pipeline, RECORDING_OBJECT)
    transcripts = loaded_table(pipeline, TRANSCRIPT_TABLE)
    if recordings is None and transcripts is None:
        return [], []
    with pipeline_sql(pipeline) as sql:
        due = [Due(*row) for row in sql.fetchall(_due_query(pipeline, sql.table, reread))] if recordings else []
        if transcripts is None:
            return due, []
        t = sql.table(transcripts)
        if recordings is None:
            orphans = f"SELECT {quote(KEY)} FROM {t}"
        else:
            orphans = (
                f"SELECT t.{quote(KEY)} FROM {t} t LEFT JOIN {sql.table(recordings)} r ON r.id = t.{quote(KEY)} "
                "WHERE r.id IS NULL"
            )
        return due, sorted(str(row[0]) for row in sql.fetchall(orphans))


def _due_query(pipeline: dlt.Pipeline, table: Callable[[str], str], reread: bool) -> str:
    """New, pending or changed recordings (all with `reread`): id, meeting, version, and the transcript row's first
    check and status."""
    columns = _columns(pipeline, RECORDING_OBJECT)
    link = loaded_table(pipeline, child_table(RECORDING_OBJECT, MEETING_LINK), child=True)
    transcripts = loaded_table(pipeline, TRANSCRIPT_TABLE)
    meetings = [f"r.{quote('meeting_id')}"] if "meeting_id" in columns else []
    joins = []
    if link is not None:
        owner = quote(parent_column(RECORDING_OBJECT))
        joins.append(
            f"LEFT JOIN (SELECT {owner} AS rid, min({quote('meeting_id')}) AS meeting_id FROM {table(link)} "
            f"GROUP BY {owner}) l ON l.rid = r.id"
        )
        meetings.append("l.meeting_id")
    version = f"r.{quote('_updated_at')}" if "_updated_at" in columns else "NULL"
    where = [f"r.{quote(SOFT_DELETED_COLUMN)} IS NULL"] if SOFT_DELETED_COLUMN in columns else []
    stored = "NULL, NULL"
    if transcripts is not None:
        joins.append(f"LEFT JOIN {table(transcripts)} t ON t.{quote(KEY)} = r.id")
        stored = "t.first_checked_at, t.status"
        changed = f" OR t.recording_updated_at IS DISTINCT FROM {version}" if version != "NULL" else ""
        if not reread:
            where.append(f"(t.{quote(KEY)} IS NULL OR t.status = '{PENDING}'{changed})")
    meeting = f"COALESCE({', '.join(meetings)})" if len(meetings) > 1 else (meetings or ["NULL"])[0]
    return (
        f"SELECT r.id, {meeting}, {version}, {stored} FROM {table(RECORDING_OBJECT)} r {' '.join(joins)} "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY r.id"
    )


def _columns(pipeline: dlt.Pipeline, name: str) -> set[str]:
    table = loaded_table(pipeline, name)
    return set(pipeline.default_schema.tables[table].get("columns", {})) if table else set()
