"""The page walk: ascending `_updated_at`, moving the filter instead of deep offsets.

Each request asks for `_updated_at Is on or after <position>` sorted ascending. After a page the filter
moves to the last `_updated_at` on it, so offsets stay small however big the object is. Only when a whole
page shares one `_updated_at` (a bulk import can put thousands of records on one instant) does the walk page
with `page[offset]` inside that tie group, stepping by `limit - overlap` so records that leave the group
while we page (updated or deleted, shifting the rest left) cannot make us skip others. Records already
emitted in this walk are dropped (de-duplication by id makes every re-read harmless).

The walk ends on a page shorter than the page size (the smaller of ours and `meta.limit`; `fetch` may lower ours
in the params it is given, to the size the API accepts: `page_size.py`); `links.next` is never trusted (the
live API sends stray ones, on empty pages too, with a scheme that does not answer).

Without `meta.limit` a short page may be the server's own page size (one that ignores `page[limit]`), so the
walk then ends only on a page that brings nothing new, or on one shorter than the longest page it met.

A record without `_updated_at` is emitted but cannot move the filter. When the listing cannot be walked this
way at all (no record on the first page has `_updated_at`, or the server ignored the filter or the sort, in the
same way when the page is asked again), the walk stops with `cursorless` set, before handing out the page that
showed it; `FullWalk` reads such an object in full instead. `filter_honoured` is the reconcile pass's re-check of
such an object: one clean walk, and a filtered page that keeps to the filter, return it to incremental reads.

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

from sources.clarify.cursor import Position, filter_instant, format_filter_ts, parse_ts, system_value
from sources.clarify.settings import CURSOR_FIELD, PAGE_LIMIT, UPDATED_AT_FILTER


@dataclass
class Page:
    records: list[dict[str, Any]]  # records new to this walk, in API order
    fetched: int  # records on the page, duplicates included
    position: Position  # where the next page starts (resume point)
    done: bool
    remaining: int | None = None  # records the listing still had from this page on (`meta.total_records`)


_ONE_MS = timedelta(milliseconds=1)


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


def page_records(body: Any) -> list[dict[str, Any]]:
    """The records of a list answer (a bare array is accepted too); anything that is not an object is skipped."""
    data = body.get("data") if isinstance(body, dict) else body
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def meta_limit(body: Any) -> int:
    """`meta.limit` as a positive int, 0 when the answer has no usable one (`meta` is optional)."""
    meta = body.get("meta") if isinstance(body, dict) else None
    try:
        limit = int(meta["limit"]) if isinstance(meta, dict) and meta.get("limit") else 0
    except (TypeError, ValueError):
        return 0
    return max(limit, 0)


def remaining(body: Any, offset: int) -> int | None:
    """How many records the listing holds from `offset` on, by `meta.total_records` (None without it)."""
    meta = body.get("meta") if isinstance(body, dict) else None
    total = meta.get("total_records") if isinstance(meta, dict) else None
    return max(0, total - offset) if isinstance(total, int) and not isinstance(total, bool) else None


def cursor_stamp(record: dict[str, Any]) -> datetime | None:
    """A record's `_updated_at`, or None when it has none (or not a timestamp): such a record is still loaded,
    but cannot move the cursor, and a filtered listing does not return it again."""
    value = system_value(record, CURSOR_FIELD)
    if value is None or value == "":
        return None
    try:
        return parse_ts(value)
    except (ValueError, TypeError, OverflowError):
        return None


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
        self.cursorless = False  # set when the listing cannot be walked by `_updated_at` (see FullWalk)
        self.rereads = 0  # pages asked twice because the first answer broke the cursor's rules
        self._longest = 0  # the most records a page of this walk held

    def resume(self, max_pages: int | None) -> None:
        """Allow `max_pages` more pages (None: no limit); iterating again continues where the walk stopped, with
        the ids it emitted still known (an appended first load goes on in the next chunk without copies)."""
        self.max_pages = None if max_pages is None else self.pages_fetched + max_pages

    def __iter__(self) -> Iterator[Page]:
        while not self.done:
            if self.max_pages is not None and self.pages_fetched >= self.max_pages:
                return
            asked_offset = self.position.offset
            self.pages_fetched += 1
            body, data, stamps = self._read()
            if self._cursor_unusable(data, stamps, self._page_size(body)) and stamps:
                # A stamp below the filter or out of order may be one glitch (a replica behind, a page serialised
                # while a record changed): only the same answer twice marks the object. (A page without stamps
                # needs no second look: a glitch does not remove fields.)
                self.rereads += 1
                body, data, stamps = self._read()
            page_size = self._page_size(body)
            if self._cursor_unusable(data, stamps, page_size):
                self.cursorless = True
                return
            new: list[dict[str, Any]] = []
            for record in data:
                ts = cursor_stamp(record)
                rid = str(record.get("id"))
                if ts is None:  # kept, but it cannot move the cursor (see `cursor_stamp`)
                    if rid not in self.emitted:
                        self.emitted.add(rid)
                        new.append(record)
                    continue
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
            if self._last_page(body, data, new, stamps):
                self.done = True
            else:
                self.position = self._advance(stamps[0], stamps[-1], page_size)
                self._forget_unreadable()
            position = Position(self.position.after, self.position.offset)
            yield Page(new, len(data), position, self.done, remaining(body, asked_offset))

    def _read(self) -> tuple[Any, list[dict[str, Any]], list[datetime]]:
        """The page at the current position: the answer, its records and their `_updated_at` stamps in order."""
        params = page_params(self.position, self.limit)
        body = self.fetch(params)
        self.limit = params["page[limit]"]  # `fetch` lowers it to a size the API accepts (page_size.py)
        data = page_records(body)
        return body, data, [ts for ts in map(cursor_stamp, data) if ts is not None]

    def _cursor_unusable(self, data: list[dict[str, Any]], stamps: list[datetime], page_size: int) -> bool:
        """The listing cannot be walked by `_updated_at`: its records carry none (on the first page, or a whole
        page of them), or the server ignored the filter (a stamp below it) or the sort (stamps out of order)."""
        if not data:
            return False
        if not stamps:
            return self.pages_fetched == 1 or len(data) >= page_size
        after = self.position.after
        if after is not None and stamps[0] < filter_instant(after):
            return True
        # Within one millisecond the API may order by id (its filter sees milliseconds): not a broken sort.
        return any(b < a - _ONE_MS for a, b in zip(stamps, stamps[1:], strict=False))

    def _last_page(self, body: Any, data: list[dict[str, Any]], new: list[Any], stamps: list[datetime]) -> bool:
        """A short page ends the walk; without `meta.limit` a short page may be the server's own page size, so
        only a page that brings nothing new does (one more request per walk), or one shorter than the longest page
        this walk met (the server's size is at least that: records written before every answer, which make each
        page bring something new, cannot keep the walk going)."""
        longest, self._longest = self._longest, max(self._longest, len(data))
        if not data or not stamps:
            return True
        if meta_limit(body):
            return len(data) < min(self.limit, meta_limit(body))
        return not new or len(data) < longest if len(data) < self.limit else False

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
        server_limit = meta_limit(body)
        return min(self.limit, server_limit) if server_limit else self.limit

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


def filter_honoured(walk: UpdatedAtWalk) -> bool:
    """After a walk from the start: whether the listing can be walked by `_updated_at`. A walk of several pages has
    moved the filter already; one of a single page asks once more, filtered at the newest stamp it saw (a listing
    that ignores the filter answers with older records)."""
    if walk.cursorless or not walk.done:
        return False
    if walk.pages_fetched > 1 or walk.max_seen is None:
        return True
    probe = UpdatedAtWalk(walk.fetch, Position(walk.max_seen), limit=walk.limit, max_pages=1)
    for _ in probe:
        pass
    return not probe.cursorless


class FullWalk:
    """Every record of an object whose listing cannot be walked by `_updated_at` (see `UpdatedAtWalk.cursorless`).

    Pages by `page[offset]` in the server's own order (no filter, no sort on a field that changes under us),
    stepping by the page length minus an overlap so a record deleted while we page cannot make us skip the one
    after it; ids met again are dropped. `emitted` starts with what an abandoned `UpdatedAtWalk` already loaded.
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        limit: int = PAGE_LIMIT,
        emitted: set[str] | None = None,
    ) -> None:
        self.fetch = fetch
        self.limit = limit
        self.emitted: set[str] = set(emitted or ())
        self.done = False

    def __iter__(self) -> Iterator[Page]:
        offset, longest = 0, 0
        while not self.done:
            params: dict[str, Any] = {"page[limit]": self.limit}
            if offset:
                params["page[offset]"] = offset
            body = self.fetch(params)
            self.limit = params["page[limit]"]  # as in `UpdatedAtWalk`
            data = page_records(body)
            new = [r for r in data if str(r.get("id")) not in self.emitted]
            self.emitted.update(str(r.get("id")) for r in new)
            longest = max(longest, len(data))
            server_limit = meta_limit(body)
            short = len(data) < (min(self.limit, server_limit) if server_limit else longest)
            # A page with nothing new also ends it: each step leaves most of a page unread, so only a server
            # that ignores `page[offset]` (or deletes a page's worth while we read) can send one.
            self.done = short or not new
            left = remaining(body, offset)
            offset += max(1, len(data) - max(1, len(data) // 10))
            yield Page(new, len(data), Position(None, offset), self.done, left)
