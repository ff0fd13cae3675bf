"""Noop detection: a run skips dlt for an object only when its first page holds exactly what was loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sources.clarify.cursor import format_state_ts
from sources.clarify.freshness import remember_window, up_to_date

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _record(rid: str, ts: datetime) -> dict[str, Any]:
    return {"id": rid, "attributes": {"_updated_at": ts.isoformat().replace("+00:00", "Z")}}


def _state(emitted: dict[str, datetime], lag: float = 300.0) -> dict[str, Any]:
    state: dict[str, Any] = {"cursor": format_state_ts(max(emitted.values())), "complete": True}
    remember_window(state, emitted.items(), lag)
    return state


def _fetch(records: list[dict[str, Any]], calls: list[dict[str, Any]]) -> Any:
    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"data": records, "meta": {"limit": params["page[limit]"]}}

    return fetch


def test_same_window_is_up_to_date_with_one_request() -> None:
    emitted = {"old": T0 - timedelta(hours=1), "a": T0 - timedelta(seconds=10), "b": T0}
    calls: list[dict[str, Any]] = []
    page = [_record("a", emitted["a"]), _record("b", T0)]
    assert up_to_date(_state(emitted), _fetch(page, calls), lag_seconds=300.0, page_limit=500)
    assert len(calls) == 1


def test_new_updated_or_late_records_are_not_up_to_date() -> None:
    emitted = {"a": T0 - timedelta(seconds=10), "b": T0}
    state = _state(emitted)
    base = [_record("a", emitted["a"]), _record("b", T0)]
    for page in (
        [*base, _record("c", T0 + timedelta(seconds=1))],  # new record
        [_record("a", emitted["a"]), _record("b", T0 + timedelta(seconds=1))],  # updated record
        [_record("late", T0 - timedelta(seconds=60)), *base],  # committed late, inside the lag window
    ):
        assert not up_to_date(state, _fetch(page, []), lag_seconds=300.0, page_limit=500)


def test_other_lag_unfinished_walk_or_full_page_is_not_up_to_date() -> None:
    emitted = {"a": T0 - timedelta(seconds=10), "b": T0}
    page = [_record("a", emitted["a"]), _record("b", T0)]
    assert not up_to_date(_state(emitted), _fetch(page, []), lag_seconds=60.0, page_limit=500)
    unfinished = {**_state(emitted), "complete": False}
    assert not up_to_date(unfinished, _fetch(page, []), lag_seconds=300.0, page_limit=500)
    assert not up_to_date(_state(emitted), _fetch(page, []), lag_seconds=300.0, page_limit=2)
    assert not up_to_date({}, _fetch(page, []), lag_seconds=300.0, page_limit=500)
