"""One object's sync state: the typed view of its dlt resource state, and the one module that reads or writes it.

dlt keeps each resource's state as a dict of JSON values inside the pipeline state and commits it with the load
that produced it, so a crash never leaves a cursor ahead of the data. `ObjectState` wraps that dict (the stored
form stays exactly what dlt persists) and names each key and each change. The keys, per object:
- `cursor`: ISO timestamp; every record with `_updated_at` below it has been loaded (absent or None: none yet);
- `offset`: how far into the tie group at `cursor` an unfinished walk got (chunked loads resume there);
- `complete`: whether the last walk reached the end of the listing (absent: it did);
- `rewind_to`: the oldest `_updated_at` of a newer version an unfinished walk had to skip; the cursor stops there;
- `full_walk`: the walk under way started from the beginning, so finishing it also counts as a reconcile;
- `window`: the fingerprint of the last finished walk's newest records (`freshness.py`);
- `cursorless`: the listing has no usable `_updated_at`; the object is read in full and mirrored on every run,
  until a reconcile pass finds the listing walkable again (`mark_incremental`);
- `mode_since`: ISO timestamp from which the object has been read the way it is (incrementally or in full);
- `last_run_at`, `last_reconcile_at`: ISO timestamps of the last finished walk and of the last reconcile;
- `inferred`: field types learned from values (fields the schema does not describe).
Nothing here grows with the number of records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sources.clarify.cursor import Position, format_state_ts, parse_ts
from sources.clarify.settings import SOURCE_NAME


class ObjectState:
    """Typed reads and named changes of one object's resource state (a dict dlt persists)."""

    __slots__ = ("stored",)

    def __init__(self, stored: dict[str, Any]) -> None:
        self.stored = stored

    @classmethod
    def current(cls, obj: str) -> ObjectState:
        """The state of resource `obj` inside the running extract."""
        import dlt  # here: reading stored states (the nothing-changed probe) must not import dlt

        return cls(dlt.current.resource_state(obj))

    @classmethod
    def of(cls, state: ObjectState | dict[str, Any]) -> ObjectState:
        return state if isinstance(state, ObjectState) else cls(state)

    # -- reads ----------------------------------------------------------------------------------------------
    @property
    def cursor(self) -> str | None:
        return self.stored.get("cursor")

    @property
    def offset(self) -> int:
        return int(self.stored.get("offset") or 0)

    @property
    def complete(self) -> bool:
        return bool(self.stored.get("complete", True))

    @property
    def cursorless(self) -> bool:
        return bool(self.stored.get("cursorless"))

    @property
    def mode(self) -> str:
        """How the object is read: `incremental` (by `_updated_at`) or `cursorless` (in full, mirrored)."""
        return "cursorless" if self.cursorless else "incremental"

    @property
    def mode_since(self) -> str | None:
        return self.stored.get("mode_since")

    @property
    def unstarted(self) -> bool:
        """No walk has committed anything: no cursor, no position, not known to lack a cursor."""
        return self.cursor is None and self.offset == 0 and not self.cursorless and self.complete

    @property
    def last_run_at(self) -> str | None:
        return self.stored.get("last_run_at")

    @property
    def last_reconcile_at(self) -> str | None:
        return self.stored.get("last_reconcile_at")

    @property
    def window(self) -> dict[str, Any] | None:
        window = self.stored.get("window")
        return window if isinstance(window, dict) else None

    @property
    def inferred(self) -> dict[str, Any]:
        """Learned field types; the converter adds to this dict in place."""
        return self.stored.setdefault("inferred", {})  # type: ignore[no-any-return]

    def start(self, *, since: Any = None, lag_seconds: float = 0.0) -> Position:
        """Where this walk begins.

        An unfinished walk (chunked load, or a crash after a chunk committed) continues exactly where the last
        committed load left it; a finished one restarts `lag_seconds` before the cursor to catch late commits.
        `since` (a backfill) overrides both.
        """
        if since is not None:
            return Position(parse_ts(since), 0)
        if self.cursor is None:
            return Position(None, self.offset)
        at = parse_ts(self.cursor)
        if not self.complete:
            return Position(at, self.offset)
        return Position(at - timedelta(seconds=lag_seconds), 0)

    # -- changes --------------------------------------------------------------------------------------------
    def begin_walk(self, start: Position) -> None:
        """A first walk from the beginning: nothing can be stale yet, so finishing it is a reconcile too."""
        if start.after is None and self.cursor is None:
            self.stored["full_walk"] = True

    def save_position(self, position: Position, rewind_to: datetime | None) -> None:
        """Where an unfinished walk resumes (committed with the load; overwritten when the walk finishes)."""
        self.stored["cursor"] = format_state_ts(position.after) if position.after is not None else None
        self.stored["offset"] = position.offset
        self.stored["complete"] = False
        if rewind_to is not None:
            earlier = _opt_ts(self.stored.get("rewind_to"))
            self.stored["rewind_to"] = format_state_ts(min(rewind_to, earlier) if earlier else rewind_to)

    def finish_walk(self, max_seen: datetime | None, rewind_to: datetime | None, now: datetime) -> None:
        """A walk reached the end of the listing: the cursor moves up to what it saw (see `next_cursor`)."""
        rewind = [t for t in (rewind_to, _opt_ts(self.stored.pop("rewind_to", None))) if t is not None]
        self.stored["cursor"] = self.next_cursor(max_seen, min(rewind) if rewind else None)
        self.stored["offset"] = 0
        self.stored["complete"] = True
        self.stored["last_run_at"] = format_state_ts(now)
        self.stored.setdefault("mode_since", self.stored["last_run_at"])
        if self.stored.pop("full_walk", False):
            self.stored.setdefault("last_reconcile_at", self.stored["last_run_at"])

    def next_cursor(self, max_seen: datetime | None, rewind_to: datetime | None) -> str | None:
        """The cursor after a finished walk: the newest `_updated_at` seen (never moving back because of the lag
        window), but not past a newer version that the walk had to skip (the next run re-reads from there)."""
        cursor = self.cursor
        candidates = [parse_ts(cursor)] if cursor and self.complete else []
        if max_seen is not None:
            candidates.append(max_seen)
        if not candidates:
            return cursor
        newest = max(candidates)
        if rewind_to is not None and rewind_to < newest:
            newest = rewind_to
        return format_state_ts(newest)

    def set_window(self, window: dict[str, Any] | None) -> None:
        if window is None:
            self.stored.pop("window", None)
        else:
            self.stored["window"] = window

    def mark_cursorless(self, now: datetime) -> None:
        self.stored.update(cursorless=True, mode_since=format_state_ts(now))

    def mark_incremental(self, now: datetime) -> None:
        """A cursorless object's listing walked cleanly by `_updated_at` again: back to incremental reads (the
        caller then finishes the walk, which sets the cursor)."""
        self.stored.pop("cursorless", None)
        self.stored["mode_since"] = format_state_ts(now)

    def finish_mirror(self, now: datetime, *, reconciled: bool = True) -> None:
        """A full read of a cursorless object finished: with its deletions applied an exact copy, so also a
        reconcile."""
        at = format_state_ts(now)
        self.stored.update(cursor=None, offset=0, complete=True, last_run_at=at)
        self.stored.setdefault("mode_since", at)
        if reconciled:
            self.stored["last_reconcile_at"] = at
        for stale in ("window", "full_walk", "rewind_to"):  # left by the cursor walk this one replaced
            self.stored.pop(stale, None)

    def mark_reconciled(self, now: datetime) -> None:
        self.stored["last_reconcile_at"] = format_state_ts(now)


def start_position(state: ObjectState | dict[str, Any], *, since: Any = None, lag_seconds: float = 0.0) -> Position:
    """`ObjectState.start` for a stored state dict."""
    return ObjectState.of(state).start(since=since, lag_seconds=lag_seconds)


def object_states(pipeline_state: Mapping[str, Any]) -> dict[str, ObjectState]:
    """Every object's committed state, from a pipeline's state (`dlt.Pipeline.state`), by object name."""
    resources = pipeline_state.get("sources", {}).get(SOURCE_NAME, {}).get("resources", {})
    return {obj: ObjectState(stored) for obj, stored in resources.items()}


def adopt_states(pipeline_state: dict[str, Any], states: Mapping[str, dict[str, Any]]) -> None:
    """Put stored object states into a pipeline's state (inside `dlt.Pipeline.managed_state`), replacing its own."""
    resources = pipeline_state.setdefault("sources", {}).setdefault(SOURCE_NAME, {}).setdefault("resources", {})
    resources.update(states)


def _opt_ts(value: Any) -> datetime | None:
    return parse_ts(value) if value else None
