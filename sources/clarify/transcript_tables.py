"""Read transcripts → the warehouse's transcript tables, as a dlt source (merged like the object tables).

- `meeting_transcript` (key `recording_id`): one row per recording asked for: `meeting_id`, `status`, `format`
  (`webvtt`/`json`), `format_version`, `language`, `title`, `transcript_date`, `duration_seconds`, `segment_count`,
  `recording_updated_at` (the version of the recording read), `first_checked_at`, `checked_at`;
- `meeting_transcript__segments` (key `recording_id`, `position`): one row per segment: `speaker`, `speaker_id`,
  `start_seconds`, `end_seconds`, `text`;
- `meeting_transcript__participants` (key `recording_id`, `position`): the participants a JSON transcript lists
  (`participant_id`, `name`, `email`), or a WebVTT transcript's speakers in order of first appearance.

Every recording written carries a replace marker (`_deleted = true`, position -1) in both child tables, merged with
delete-insert on `recording_id`, exactly as the object tables' child tables (`records.py`): a re-transcribed
recording's segments replace its old ones, and a deleted recording's rows all go. Column controls apply here, before
dlt sees a value: `[sources.clarify.columns.meeting_transcript]` may exclude or hash `text`, `speaker` (segment
speakers and participant names alike, so hashed they still join), `email` and `title`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa

from core.errors import ConfigError
from core.warehouse import DELETED_COLUMN
from sources.clarify.controls import SECTION, Controls
from sources.clarify.records import MARKER_POSITION, TS_TYPE, keyed_table
from sources.clarify.settings import SOURCE_NAME, TRANSCRIPT_TABLE
from sources.clarify.transcript_formats import Transcript
from sources.clarify.transcripts import PENDING, TRANSCRIBED, Due, Fetched

SEGMENTS = f"{TRANSCRIPT_TABLE}__segments"
PARTICIPANTS = f"{TRANSCRIPT_TABLE}__participants"
KEY = "recording_id"
NOT_TRANSCRIBED = "not_transcribed"
# Controls may name these (anything else is a typo that would store what someone meant to hide): column → field.
CONTROLLED = {"text": "text", "speaker": "speaker", "name": "speaker", "email": "email", "title": "title"}
_TYPES = {
    "meeting_id": pa.string(),
    "status": pa.string(),
    "format": pa.string(),
    "format_version": pa.string(),
    "language": pa.string(),
    "title": pa.string(),
    "transcript_date": pa.string(),
    "duration_seconds": pa.float64(),
    "segment_count": pa.int64(),
    "recording_updated_at": TS_TYPE,
    "first_checked_at": TS_TYPE,
    "checked_at": TS_TYPE,
    "position": pa.int64(),
    "speaker": pa.string(),
    "speaker_id": pa.string(),
    "start_seconds": pa.float64(),
    "end_seconds": pa.float64(),
    "text": pa.string(),
    "participant_id": pa.string(),
    "name": pa.string(),
    "email": pa.string(),
}


def check_transcript_controls(controls: Controls) -> None:
    """A control on a transcript field we do not have fails before anything is written."""
    named = controls.exclude.get(TRANSCRIPT_TABLE, frozenset()) | controls.hashed.get(TRANSCRIPT_TABLE, frozenset())
    if unknown := sorted(set(named) - set(CONTROLLED.values())):
        raise ConfigError(
            f"[{SECTION}.columns.{TRANSCRIPT_TABLE}] names unknown field(s) {unknown}: "
            f"known are {sorted(set(CONTROLLED.values()))}"
        )


@dlt.source(name=SOURCE_NAME, max_table_nesting=0, root_key=False)
def transcripts_source(
    fetched: list[Fetched], gone: list[str], checked_at: datetime, wait_seconds: float, controls: Controls
) -> Any:
    """The rows of `fetched` recordings (each replacing what the warehouse held for it) and the deletion of the
    transcripts whose recording is `gone`. A pending recording first asked for more than `wait_seconds` ago is
    written as `not_transcribed`: asked again only when the recording changes."""
    scrub = _Scrub(controls)
    tables = _Tables(fetched, gone, checked_at, wait_seconds)
    hard_delete = {DELETED_COLUMN: {"data_type": "bool", "hard_delete": True}}
    merge = {"disposition": "merge", "strategy": "delete-insert"}
    yield dlt.resource(
        [scrub(tables.main())], name=TRANSCRIPT_TABLE, primary_key=KEY, write_disposition=merge, columns=hard_delete
    )
    for name, table in ((SEGMENTS, tables.segments()), (PARTICIPANTS, tables.participants())):
        yield dlt.resource(
            [scrub(table)],
            name=name,
            primary_key=[KEY, "position"],
            merge_key=KEY,
            write_disposition=merge,
            columns=hard_delete,
        )


def gives_up(due: Due, now: datetime, wait_seconds: float) -> bool:
    """A recording still without a transcript `wait_seconds` after it was first asked for is no longer asked on
    every run, only when it changes (`not_transcribed`)."""
    return (now - (due.first_checked_at or now)).total_seconds() >= wait_seconds


class _Tables:
    def __init__(self, fetched: list[Fetched], gone: list[str], checked_at: datetime, wait_seconds: float) -> None:
        self.fetched, self.gone, self.checked_at, self.wait = fetched, gone, checked_at, wait_seconds

    def main(self) -> pa.Table:
        rows = [self._row(f) for f in self.fetched] + [{KEY: rid, DELETED_COLUMN: True} for rid in self.gone]
        return _table(rows, [KEY])

    def _row(self, f: Fetched) -> dict[str, Any]:
        t, due = f.transcript, f.due
        first = due.first_checked_at or self.checked_at
        status = NOT_TRANSCRIBED if f.status == PENDING and gives_up(due, self.checked_at, self.wait) else f.status
        row: dict[str, Any] = {
            KEY: due.recording,
            "meeting_id": due.meeting,
            "status": status,
            "recording_updated_at": due.updated_at,
            "first_checked_at": first,
            "checked_at": self.checked_at,
        }
        if t is not None:
            row.update(
                format=t.format,
                format_version=t.version,
                language=t.language,
                title=t.title,
                transcript_date=t.date,
                duration_seconds=t.duration,
                segment_count=len(t.segments),
            )
        return row

    def _children(self, items: Iterable[tuple[str, list[dict[str, Any]]]]) -> pa.Table:
        rows: list[dict[str, Any]] = []
        for rid, children in items:
            rows.append({KEY: rid, "position": MARKER_POSITION, DELETED_COLUMN: True})
            rows.extend({KEY: rid, "position": i, **child} for i, child in enumerate(children))
        return _table(rows, [KEY, "position"])

    def _owners(self) -> list[tuple[str, Transcript | None]]:
        """Every recording whose child rows are replaced, with its transcript (None: it has no rows now)."""
        read = [(f.due.recording, f.transcript if f.status == TRANSCRIBED else None) for f in self.fetched]
        return read + [(rid, None) for rid in self.gone]

    def segments(self) -> pa.Table:
        return self._children(
            (
                rid,
                [
                    {
                        "speaker": s.speaker,
                        "speaker_id": s.speaker_id,
                        "start_seconds": s.start,
                        "end_seconds": s.end,
                        "text": s.text,
                    }
                    for s in (t.segments if t is not None else ())
                ],
            )
            for rid, t in self._owners()
        )

    def participants(self) -> pa.Table:
        return self._children(
            (rid, [{"participant_id": p.id, "name": p.name, "email": p.email} for p in (t.participants if t else ())])
            for rid, t in self._owners()
        )


def _table(rows: list[dict[str, Any]], keys: list[str]) -> pa.Table:
    names = sorted(dict.fromkeys(k for row in rows for k in row), key=lambda n: n == DELETED_COLUMN)
    types = {**_TYPES, DELETED_COLUMN: pa.bool_()}
    return keyed_table({n: pa.array([row.get(n) for row in rows], type=types.get(n, pa.string())) for n in names}, keys)


class _Scrub:
    """Column controls on a batch: excluded columns dropped, hashed ones replaced by their keyed hash."""

    def __init__(self, controls: Controls) -> None:
        self.controls = controls
        self.exclude = controls.exclude.get(TRANSCRIPT_TABLE, frozenset())
        self.hashed = controls.hashed.get(TRANSCRIPT_TABLE, frozenset())

    def __call__(self, table: pa.Table) -> pa.Table:
        for column in table.column_names:
            field = CONTROLLED.get(column)
            if field in self.exclude:
                table = table.drop_columns([column])
            elif field in self.hashed:
                values = [None if v is None else self.controls.digest(v) for v in table.column(column).to_pylist()]
                table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.string()))
        return table
