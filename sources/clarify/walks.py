"""An object's incremental walk: where it starts and what finishing it stores in the object's state.

Shared by the dlt resource (`source.py`) and the small-change load (`pipelines/small_changes.py`), so both
move a cursor by exactly the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sources.clarify.freshness import remember_window
from sources.clarify.pagination import UpdatedAtWalk
from sources.clarify.state import ObjectState


def start_walk(
    state: ObjectState,
    fetch: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    since: Any = None,
    lag_seconds: float,
    page_limit: int,
    max_pages: int | None = None,
) -> UpdatedAtWalk:
    """The walk from where the state says this run begins (`ObjectState.start`), at most `max_pages` pages."""
    start = state.start(since=since, lag_seconds=lag_seconds)
    state.begin_walk(start)
    return UpdatedAtWalk(fetch, start, limit=page_limit, max_pages=max_pages, recent_seconds=lag_seconds)


def finish_walk(state: ObjectState, walk: UpdatedAtWalk, lag_seconds: float) -> None:
    """The walk reached the end of the listing: move the cursor and store the next run's fingerprint."""
    state.finish_walk(walk.max_seen, walk.rewind_to, datetime.now(UTC))
    remember_window(state, walk.recent(), lag_seconds)
