"""Reading Clarify lists and their members (no dlt: the nothing-changed probe uses it too).

What is read, and why membership is re-read in full each run: see `sources/clarify/lists.py`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.errors import ApiError
from sources.clarify.api import ClarifyApi
from sources.clarify.cursor import parse_ts
from sources.clarify.pagination import FullWalk
from sources.clarify.settings import PAGE_LIMIT

STATE_KEY = "lists"  # in the source state (not a resource's: `status` lists resources as objects)
TAG = "lists"  # the HTTP client's request counter for all list calls
LISTS_OBJECT = "lists"  # its name in `--objects`: lists are synced by default and when named there
UNAVAILABLE = "unavailable"  # the digest of a workspace whose `GET /lists` answers 404
TIMESTAMPS = ("_created_at", "_updated_at")


def split_objects(objects: Sequence[str] | None) -> tuple[bool, list[str] | None]:
    """(sync lists?, the object slugs without `lists`); None still means every object."""
    if objects is None:
        return True, None
    return LISTS_OBJECT in objects, [o for o in objects if o != LISTS_OBJECT]


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


def read_lists(
    api: ClarifyApi, objects: list[str], page_limit: int = PAGE_LIMIT, *, keep: bool = False
) -> ListsSnapshot | None:
    """Read every list and its members; None when the workspace answers `GET /lists` with 404 (no lists API).
    `objects` are the workspace's object slugs, for lists whose object `GET /lists` does not name. `keep`: the
    answers are kept for the next read (`ClarifyApi.get_page`), the probe's for the sync that takes over."""
    get = functools.partial(api.get_page, tag=TAG, keep=keep)
    try:
        listed = _walk(lambda params: get("lists", params), page_limit)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    owners = _owners(get, objects, page_limit) if any(not _object_of(r) for r in listed) else {}
    snapshot = ListsSnapshot()
    for record in listed:
        list_id = str(record.get("id"))
        obj = _object_of(record) or owners.get(list_id)
        if not obj:
            continue  # on no object we know: it cannot hold records we could name
        try:
            members = _walk(
                lambda params, o=obj, i=list_id: get(f"objects/{o}/lists/{i}/resources", params),
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


def _owners(get: Callable[..., dict[str, Any]], objects: list[str], page_limit: int) -> dict[str, str]:
    owners: dict[str, str] = {}
    for obj in objects:
        fetch = lambda params, o=obj: get(f"objects/{o}/lists", params)  # noqa: E731
        owners.update((str(r.get("id")), obj) for r in _walk(fetch, page_limit))
    return owners


def _row(record: dict[str, Any], obj: str) -> dict[str, Any]:
    attrs = record.get("attributes") if isinstance(record.get("attributes"), dict) else {}
    row: dict[str, Any] = {"id": str(record.get("id")), **attrs, "object": obj}
    for name in TIMESTAMPS:
        if row.get(name):
            row[name] = parse_ts(row[name]).isoformat()
    return row


def unchanged(source_state: dict[str, Any], snapshot: ListsSnapshot) -> bool:
    """True when the warehouse already holds exactly this snapshot (by the digest committed with its last load)."""
    return bool(source_state.get(STATE_KEY, {}).get("digest") == snapshot.digest())
