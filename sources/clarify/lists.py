"""Clarify lists: `lists` (one row per list, merged on id) and `list_members (list_id, object, record_id)`.

Membership has no cursor (adding a record to a static list, or a record starting to match a dynamic list's
query, touches neither the record's nor, reliably, the list's `_updated_at`), so every run reads every list's
members in full (`GET /objects/{object}/lists/{list}/resources`, paged like `resources`) and `list_members` is
replaced whole: it mirrors Clarify exactly, however the per-object tables were synced, and a list on an object
that is not synced still gets its members. A digest of what was read is kept in the source state, so a run where
no list changed costs the reads but no load. Lists that are gone are deleted from `lists` (their ids are kept in
the same state).

Which object a list holds is its `object` attribute; a list without one is looked up through
`GET /objects/{object}/lists` (the docs do not say which attributes `GET /lists` carries).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa

from core.warehouse import DELETED_COLUMN
from sources.clarify.list_reading import STATE_KEY, TIMESTAMPS, ListsSnapshot
from sources.clarify.settings import SOURCE_NAME

LISTS_TABLE = "lists"
MEMBERS_TABLE = "list_members"
MEMBERS_SCHEMA = pa.schema([("list_id", pa.string()), ("object", pa.string()), ("record_id", pa.string())])


@dlt.source(name=SOURCE_NAME, max_table_nesting=0, root_key=False)
def lists_source(snapshot: ListsSnapshot, merge: dict[str, str] | None = None) -> Any:
    """`lists` and `list_members` from a snapshot, recording its digest. `merge` is the write disposition of
    `lists` (Delta needs `upsert`); `{"disposition": "append"}` (plain parquet snapshots) replaces it instead."""
    merge = merge or {"disposition": "merge", "strategy": "delete-insert"}
    disposition: Any = "replace" if merge.get("disposition") == "append" else merge
    columns = {
        DELETED_COLUMN: {"data_type": "bool", "hard_delete": True},
        **{name: {"data_type": "timestamp", "timezone": True} for name in TIMESTAMPS},
    }
    yield dlt.resource(
        _list_rows(snapshot, disposition != "replace"),
        name=LISTS_TABLE,
        primary_key="id",
        write_disposition=disposition,
        columns=columns,
    )
    yield dlt.resource(
        _member_rows(snapshot),
        name=MEMBERS_TABLE,
        primary_key=["list_id", "record_id"],
        write_disposition="replace",
    )


def _list_rows(snapshot: ListsSnapshot, deletes: bool) -> Iterator[dict[str, Any]]:
    state = dlt.current.source_state().setdefault(STATE_KEY, {})
    current = snapshot.ids()
    yield from snapshot.lists
    if deletes:
        for gone in sorted(set(state.get("ids", ())) - set(current)):
            yield {"id": gone, DELETED_COLUMN: True}
    state.update(ids=current, digest=snapshot.digest())


def _member_rows(snapshot: ListsSnapshot) -> Iterator[pa.Table]:
    # Always one table, empty when no list has members: a replace that yields nothing would leave the old rows.
    columns = list(zip(*sorted(set(snapshot.members)), strict=True)) or [[], [], []]
    yield pa.table([pa.array(c, type=pa.string()) for c in columns], schema=MEMBERS_SCHEMA)
