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

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import orjson
import pyarrow as pa

from core.errors import ApiError
from core.warehouse import DELETED_COLUMN
from sources.clarify.api import ClarifyApi
from sources.clarify.cursor import parse_ts
from sources.clarify.pagination import FullWalk
from sources.clarify.settings import PAGE_LIMIT, SOURCE_NAME

LISTS_TABLE = "lists"
MEMBERS_TABLE = "list_members"
STATE_KEY = "lists"  # in the source state (not a resource's: `status` lists resources as objects)
TAG = "lists"  # the HTTP client's request counter for all list calls
_TIMESTAMPS = ("_created_at", "_updated_at")
MEMBERS_SCHEMA = pa.schema([("list_id", pa.string()), ("object", pa.string()), ("record_id", pa.string())])


@dataclass
class ListsSnapshot:
    """Every list and its members as read in this run."""

    lists: list[dict[str, Any]] = field(default_factory=list)
    members: list[tuple[str, str, str]] = field(default_factory=list)  # (list_id, object, record_id)

    def digest(self) -> str:
        body = orjson.dumps([self.lists, sorted(self.members)], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(body).hexdigest()

    def ids(self) -> list[str]:
        return sorted(str(r["id"]) for r in self.lists)


def read_lists(api: ClarifyApi, objects: list[str], page_limit: int = PAGE_LIMIT) -> ListsSnapshot | None:
    """Read every list and its members; None when the workspace answers `GET /lists` with 404 (no lists API).
    `objects` are the workspace's object slugs, for lists whose object `GET /lists` does not name."""
    try:
        listed = _walk(lambda params: api.get_page("lists", params, tag=TAG), page_limit)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    owners = _owners(api, objects, page_limit) if any(not _object_of(r) for r in listed) else {}
    snapshot = ListsSnapshot()
    for record in listed:
        list_id = str(record.get("id"))
        obj = _object_of(record) or owners.get(list_id)
        if not obj:
            continue  # on no object we know: it cannot hold records we could name
        try:
            members = _walk(
                lambda params, o=obj, i=list_id: api.get_page(f"objects/{o}/lists/{i}/resources", params, tag=TAG),
                page_limit,
            )
        except ApiError as exc:
            if exc.status == 404:
                continue  # deleted between the two calls: it is gone, like a record that stops being listed
            raise
        snapshot.lists.append(_row(record, obj))
        snapshot.members.extend((list_id, obj, str(m.get("id"))) for m in members)
    return snapshot


def _walk(fetch: Callable[[dict[str, Any]], dict[str, Any]], page_limit: int) -> list[dict[str, Any]]:
    return [record for page in FullWalk(fetch, limit=page_limit) for record in page.records]


def _object_of(record: dict[str, Any]) -> str | None:
    attrs = record.get("attributes")
    value = attrs.get("object") if isinstance(attrs, dict) else None
    return str(value) if value else None


def _owners(api: ClarifyApi, objects: list[str], page_limit: int) -> dict[str, str]:
    owners: dict[str, str] = {}
    for obj in objects:
        fetch = lambda params, o=obj: api.get_page(f"objects/{o}/lists", params, tag=TAG)  # noqa: E731
        owners.update((str(r.get("id")), obj) for r in _walk(fetch, page_limit))
    return owners


def _row(record: dict[str, Any], obj: str) -> dict[str, Any]:
    attrs = record.get("attributes") if isinstance(record.get("attributes"), dict) else {}
    row: dict[str, Any] = {"id": str(record.get("id")), **attrs, "object": obj}
    for name in _TIMESTAMPS:
        if row.get(name):
            row[name] = parse_ts(row[name]).isoformat()
    return row


@dlt.source(name=SOURCE_NAME, max_table_nesting=0, root_key=False)
def lists_source(snapshot: ListsSnapshot, merge: dict[str, str] | None = None) -> Any:
    """`lists` and `list_members` from a snapshot, recording its digest. `merge` is the write disposition of
    `lists` (Delta needs `upsert`); `{"disposition": "append"}` (plain parquet snapshots) replaces it instead."""
    merge = merge or {"disposition": "merge", "strategy": "delete-insert"}
    disposition: Any = "replace" if merge.get("disposition") == "append" else merge
    columns = {
        DELETED_COLUMN: {"data_type": "bool", "hard_delete": True},
        **{name: {"data_type": "timestamp", "timezone": True} for name in _TIMESTAMPS},
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


def unchanged(source_state: dict[str, Any], snapshot: ListsSnapshot) -> bool:
    """True when the warehouse already holds exactly this snapshot (by the digest committed with its last load)."""
    return bool(source_state.get(STATE_KEY, {}).get("digest") == snapshot.digest())
