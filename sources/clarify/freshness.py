"""Noop detection: whether an object has nothing new since the last finished walk, from its first page alone.

A finished walk stores a fingerprint of the records it loaded at or after the next run's start (the cursor
minus the lag window, floored as the API filter floors it). The next run fetches that first page; when it is
the last page and holds exactly those records with the same `_updated_at`, nothing was added, updated or
committed late since, and the run can skip dlt's extract, normalize and load for the object (the state is
already right). Any difference, a longer listing, a backfill or a changed lag makes the run load as usual. A walk
that found no record (an object nobody uses yet) stores the empty window: the object stays up to date while its
first page is empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sources.clarify.cursor import filter_instant, format_state_ts, parse_ts
from sources.clarify.pagination import UpdatedAtWalk, cursor_stamp
from sources.clarify.state import ObjectState


def fingerprint(items: Iterable[tuple[str, datetime]]) -> str:
    """Order-independent digest of (id, `_updated_at`) pairs."""
    lines = sorted(f"{rid}|{format_state_ts(ts)}" for rid, ts in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def window_start(cursor: str, lag_seconds: float) -> datetime:
    """Where the next run's first page starts, as the API sees it (millisecond floor of cursor - lag)."""
    return filter_instant(parse_ts(cursor) - timedelta(seconds=lag_seconds))


def remember_window(
    state: ObjectState | dict[str, Any], recent: Iterable[tuple[str, datetime]], lag_seconds: float
) -> None:
    """Store the fingerprint of this walk's records inside the next run's first window (after `cursor` is set).

    `recent`: (id, `_updated_at`) of at least the walk's records in that window (`UpdatedAtWalk.recent()`); when
    the cursor was held back by a rewind some may be missing, and the next run then simply loads as usual."""
    view = ObjectState.of(state)
    cursor = view.cursor
    if not cursor:
        view.set_window({"cursor": None, "lag": lag_seconds, "digest": fingerprint(())})
        return
    start = window_start(cursor, lag_seconds)
    digest = fingerprint((rid, ts) for rid, ts in recent if ts >= start)
    view.set_window({"cursor": cursor, "lag": lag_seconds, "digest": digest})


def up_to_date(
    state: ObjectState | dict[str, Any],
    fetch: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    lag_seconds: float,
    page_limit: int,
) -> bool:
    """True when one request shows nothing new since the walk that stored the fingerprint."""
    view = ObjectState.of(state)
    window = view.window
    if not (
        window is not None
        and view.complete
        and not view.cursorless
        and window.get("cursor") == view.cursor
        and window.get("lag") == lag_seconds
    ):
        return False
    walk = UpdatedAtWalk(fetch, view.start(lag_seconds=lag_seconds), limit=page_limit, max_pages=1)
    records = [r for page in walk for r in page.records]
    if not walk.done or (view.cursor is None and records):  # no cursor: only an empty listing is known
        return False
    stamped = ((str(r.get("id")), cursor_stamp(r)) for r in records)
    return fingerprint((rid, ts) for rid, ts in stamped if ts is not None) == window.get("digest")


def reconcile_due(
    selected: list[str], states: dict[str, ObjectState], reconcile: bool | None, interval: float
) -> list[str]:
    """The objects whose deletion check runs: all when forced, none when refused, else those whose last one is
    `interval` seconds old or more (or never ran)."""
    if reconcile is False:
        return []
    if reconcile:
        return list(selected)
    now = datetime.now(UTC)
    due = []
    for obj in selected:
        last = states[obj].last_reconcile_at if obj in states else None
        if last is None or (now - parse_ts(last)).total_seconds() >= interval:
            due.append(obj)
    return due
