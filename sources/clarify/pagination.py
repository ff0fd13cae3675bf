"""The page walk: ascending `_updated_at`, moving the filter instead of deep offsets.

Each request asks for `_updated_at Is on or after <position>` sorted ascending. After a page the filter
moves to the last `_updated_at` on it, so offsets stay small however big the object is. Only when a whole
page shares one `_updated_at` (a bulk import can put thousands of records on one instant) does the walk page
with `page[offset]` inside that tie group, stepping by `limit - overlap` so records that leave the group
while we page (updated or deleted, shifting the rest left) cannot make us skip others. Records already
emitted in this walk are dropped (de-duplication by id makes every re-read harmless).

The walk ends on a page shorter than the page size (the smaller of ours and `meta.limit`); `links.next` is
never trusted (the live API sends stray ones, on empty pages too, with a scheme that does not answer).

A record met again with a newer `_updated_at` was updated while we walked. It is not emitted twice in one
load (child tables would get both versions' items); instead `rewind_to` remembers the oldest such instant
and the caller keeps the cursor at or before it, so the next run re-reads and loads the newer version.

Memory: the walk keeps the ids it emitted (a set), but `_updated_at` only for the ids the current filter can
return unchanged (at or after it): an id met again that is not among them was emitted below the filter, so
this copy is a newer version. `recent_seconds` keeps (id, `_updated_at`) of the newest records for the
no-op fingerprint (freshness.py). A datetime per emitted id (600,000 per load at 1M records) put the extract
step's peak 38 MB higher.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sources.clarify.cursor import Position, filter_instant, format_filter_ts, parse_ts
from sources.clarify.records import system_value
from sources.clarify.settings import CURSOR_FIELD, PAGE_LIMIT, UPDATED_AT_FILTER


@dataclass
class Page:
    records: list[dict[str, Any]]  # records new to this walk, in API order
    fetched: int  # records on the page, duplicates included
    position: Position  # where the next page starts (resume point)
    done: bool


def page_params(position: Position, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "sortOrder[column]": CURSOR_FIELD,
        "sortOrder[dir]": "ASC",
        "page[limit]": limit,
    }
    if position.after is not None:
        params[UPDATED_AT_FILTER] = format_filter_ts(position.after)
    if position.offset:
        params["page[offset]"] = position.offset
    return params


class UpdatedAtWalk:
    """Iterate pages of one object from `start`; `max_pages` stops early (resume from `position`)."""

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], dict[str, Any]],
        start: Position,
        *,
        limit: int = PAGE_LIMIT,
        overlap: int | None = None,
        max_pages: int | None = None,
        recent_seconds: float | None = None,
    ) -> None:
        self.fetch = fetch
        self.position = Position(start.after, start.offset)
        self.limit = limit
        self.overlap = overlap
        self.max_pages = max_pages
        self.emitted: set[str] = set()
        self._readable: dict[str, datetime] = {}  # emitted ids the current filter can return unchanged
        self._recent: deque[tuple[str, datetime]] | None = deque() if recent_seconds is not None else None
        self._recent_span = timedelta(seconds=recent_seconds or 0, milliseconds=1)  # +1 ms: the filter floors
        self.max_seen: datetime | None = None
        self.rewind_to: datetime | None = None
        self.pages_fetched = 0
        self.done = False

    def __iter__(self) -> Iterator[Page]:
        while not self.done:
            if self.max_pages is not None and self.pages_fetched >= self.max_pages:
                return
            body = self.fetch(page_params(self.position, self.limit))
            self.pages_fetched += 1
            data = body.get("data") if isinstance(body, dict) else body
            data = [r for r in (data or []) if isinstance(r, dict)]
            page_size = self._page_size(body)
            new: list[dict[str, Any]] = []
            stamps: list[datetime] = []
            for record in data:
                ts = parse_ts(system_value(record, CURSOR_FIELD))
                stamps.append(ts)
                rid = str(record.get("id"))
                if rid not in self.emitted:
                    self.emitted.add(rid)
                    self._readable[rid] = ts
                    new.append(record)
                    if self.max_seen is None or ts > self.max_seen:
                        self.max_seen = ts
                    if self._recent is not None:
                        self._recent.append((rid, ts))
                    continue
                seen = self._readable.get(rid)  # None: emitted below the filter, so this is a newer version
                if (seen is None or ts > seen) and (self.rewind_to is None or ts < self.rewind_to):
                    self.rewind_to = ts
            if len(data) < page_size or not data:
                self.done = True
            else:
                self.position = self._advance(stamps[0], stamps[-1], page_size)
                self._forget_unreadable()
            yield Page(new, len(data), Position(self.position.after, self.position.offset), self.done)

    def recent(self) -> list[tuple[str, datetime]]:
        """(id, `_updated_at`) of the emitted records within `recent_seconds` of the newest one."""
        return list(self._recent or ())

    def _forget_unreadable(self) -> None:
        """Drop what the next filter (floored to milliseconds, as the API sees it) cannot return unchanged."""
        after = self.position.after  # already a filter instant (`_advance`)
        if after is not None:
            self._readable = {rid: ts for rid, ts in self._readable.items() if ts >= after}
        if self._recent is not None and self.max_seen is not None:
            oldest = self.max_seen - self._recent_span
            while self._recent and self._recent[0][1] < oldest:
                self._recent.popleft()

    def _page_size(self, body: Any) -> int:
        meta = body.get("meta") if isinstance(body, dict) else None
        try:
            server_limit = int(meta.get("limit")) if isinstance(meta, dict) and meta.get("limit") else 0
        except (TypeError, ValueError):
            server_limit = 0
        return min(self.limit, server_limit) if server_limit > 0 else self.limit

    def _advance(self, first: datetime, last: datetime, page_size: int) -> Position:
        overlap = self.overlap if self.overlap is not None else max(1, page_size // 10)
        step = max(1, page_size - overlap)
        # Compared as the filter sees them (milliseconds): stamps within one millisecond are one tie group.
        here = Position(filter_instant(self.position.after), self.position.offset) if self.position.after else None
        first, last = filter_instant(first), filter_instant(last)
        if first != last:
            nxt = Position(last, 0)
        elif here is not None and first == here.after:
            nxt = Position(first, here.offset + step)  # paging inside one tie group
        else:
            nxt = Position(first, 0)  # a new tie group: start at its beginning
        if here is not None and nxt.after == here.after and nxt.offset <= here.offset:
            nxt = Position(here.after, here.offset + step)  # never stand still
        return nxt
