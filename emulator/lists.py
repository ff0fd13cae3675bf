"""Lists: `GET /lists`, `GET /objects/{object}/lists[/{list}[/resources]]`, static and dynamic.

A static list holds record ids (`Lists.add` / `Lists.remove`, or `POST /_emulator/lists/members`); a dynamic list
holds filter parameters in the listing syntax (`{"filter[stage]": "Won"}`), evaluated by the listing's own filter
engine on every read. Either way the members are read like `resources` (paged, filtered, sorted), and only live
records are members: a deleted record leaves every list. The docs say a dynamic list carries a `query` (SQL);
which dialect is not documented, so ours carries its filter as a query string there.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import orjson

from emulator.clock import Clock
from emulator.errors import ApiError
from emulator.filters import Where, parse_filters
from emulator.store import require_object

LIST_TYPES = ("static", "dynamic")
LIST_STATES = ("draft", "published")


@dataclass
class ListDef:
    id: str
    object: str
    title: str
    type: str
    state: str
    description: str | None
    filters: list[tuple[str, str]]
    created_at: str
    updated_at: str
    members: set[str] = field(default_factory=set)

    def where(self, parse_key: Callable[[str], tuple[str, ...]]) -> Where:
        """The condition on `records r0` that selects this list's members (`parse_key` splits filter keys)."""
        if self.type == "dynamic":
            return parse_filters(require_object(self.object), self.filters, parse_key)
        where = Where()
        where.add("r0.id IN (SELECT value FROM json_each(?))", [orjson.dumps(sorted(self.members)).decode()])
        return where

    def render(self) -> dict[str, object]:
        return {
            "id": self.id,
            "type": "list",
            "attributes": {
                "title": self.title,
                "description": self.description,
                "type": self.type,
                "state": self.state,
                "object": self.object,
                "query": urlencode(self.filters) if self.type == "dynamic" else None,
                "_created_at": self.created_at,
                "_updated_at": self.updated_at,
            },
        }


class Lists:
    """The workspace's lists; creating and editing them is a test and control-route affair (no public writes)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lists: dict[str, ListDef] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(
        self,
        object: str,
        title: str,
        *,
        type: str = "static",
        members: list[str] | None = None,
        filters: dict[str, str] | None = None,
        description: str | None = None,
        state: str = "published",
    ) -> ListDef:
        require_object(object)
        if type not in LIST_TYPES or state not in LIST_STATES:
            raise ValueError(f"type must be one of {LIST_TYPES} and state one of {LIST_STATES}")
        if (type == "dynamic") != (filters is not None) or (type == "dynamic" and members):
            raise ValueError("a dynamic list takes `filters`, a static list takes `members`")
        now = self.clock.now_iso()
        with self._lock:
            lst = ListDef(
                f"lst_{next(self._ids):06d}",
                object,
                title,
                type,
                state,
                description,
                sorted((filters or {}).items()),
                now,
                now,
                set(members or ()),
            )
            self._lists[lst.id] = lst
        return lst

    def change(self, list_id: str, add: list[str] = (), remove: list[str] = ()) -> ListDef:  # type: ignore[assignment]
        """Add and remove members of a static list (ids of records that do not exist are kept, never listed)."""
        lst = self.get(None, list_id)
        if lst.type != "static":
            raise ValueError(f"list {list_id} is dynamic: change its records, not its members")
        with self._lock:
            lst.members.update(add)
            lst.members.difference_update(remove)
            lst.updated_at = self.clock.now_iso()
        return lst

    def delete(self, list_id: str) -> None:
        with self._lock:
            self._lists.pop(list_id, None)

    def all(self, object: str | None = None) -> list[ListDef]:
        with self._lock:
            return [lst for lst in self._lists.values() if object is None or lst.object == object]

    def get(self, object: str | None, list_id: str) -> ListDef:
        with self._lock:
            lst = self._lists.get(list_id)
        if lst is None or (object is not None and lst.object != object):
            raise ApiError(404, f"List {list_id!r} not found" + (f" on {object}" if object else ""))
        return lst
