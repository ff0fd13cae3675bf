"""The page size: 1,000 asked for, a smaller cap the API names in a refusal adopted (never fatal) and remembered,
so later runs send no refused request (`sources/clarify/page_size.py`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import ApiError
from core.http import parse_error_body
from pipelines import noop_probe
from pipelines.sync import run_sync
from sources.clarify.page_size import RECHECK, PageSize, named_size
from sources.clarify.settings import PAGE_LIMIT
from tests.sync.conftest import WAREHOUSES, assert_synced, connection_for


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("page.limit must not be greater than 100", 100),  # class-validator (NestJS), an independent server
        ("page[limit] must be between 1 and 500, not 1000", 500),
        ("limit must be less than or equal to 500", 500),
        ("page[limit] must be less than 501", 500),
        ("Page size cannot exceed 250.", 250),
        ("page[limit]: 1000 exceeds the maximum of 200", 200),
        ("page[limit] is too large", None),
    ],
)
def test_the_size_a_refusal_names(text: str, size: int | None) -> None:
    assert named_size(text, 1000) == size


def _refusal(body: bytes, status: int = 400) -> ApiError:
    """The ApiError the client raises for this answer (both error body shapes parse to `errors`)."""
    return ApiError("refused", status=status, errors=parse_error_body(body)[1])


def _server(answers: list[ApiError | None], asked: list[int], params: dict[str, Any]) -> Callable[[], str]:
    def send() -> str:
        asked.append(params["page[limit]"])
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        return "page"

    return send


@pytest.mark.parametrize(
    ("body", "sizes"),
    [
        (
            b'{"statusCode":400,"message":["page.limit must not be greater than 100"],"error":"Bad Request"}',
            [1000, 100],
        ),
        (
            b'{"errors":[{"status":400,"title":"Bad Request","detail":"max 250",'
            b'"source":{"parameter":"page[limit]"}}]}',  # the parameter named only in `source`
            [1000, 250],
        ),
        (b'{"errors":[{"status":"400","title":"Bad Request","detail":"page size too large"}]}', [1000, 500]),
        (b"Bad Request", [1000, 500]),  # no JSON at all: the fallbacks
    ],
)
def test_a_refusal_in_either_shape_is_learnt_and_the_page_asked_again(body: bytes, sizes: list[int]) -> None:
    pages = PageSize()
    params: dict[str, Any] = {"page[limit]": 1000}
    asked: list[int] = []
    assert pages.fetch(params, _server([_refusal(body), None], asked, params)) == "page"
    assert asked == sizes and params["page[limit]"] == pages.cap == sizes[-1]
    other: dict[str, Any] = {"page[limit]": 1000}
    pages.fit(other)
    assert other["page[limit]"] == sizes[-1]  # every later page of the run, any thread


def test_other_refusals_are_raised_and_the_fallbacks_end_at_25() -> None:
    pages = PageSize()
    params: dict[str, Any] = {"page[limit]": 1000, "filter[x][Nope]": "1"}
    operator = _refusal(b'{"errors":[{"status":"400","title":"Bad Request","detail":"unknown operator Nope"}]}')
    with pytest.raises(ApiError, match="refused"):
        pages.fetch(params, _server([operator], [], params))
    with pytest.raises(ApiError):
        pages.fetch(params, _server([_refusal(b"", status=404)], [], params))
    assert pages.cap is None
    asked: list[int] = []
    unnamed = [_refusal(b'{"errors":[{"status":"400","detail":"page[limit] is too large"}]}') for _ in range(4)]
    with pytest.raises(ApiError):
        pages.fetch(params, _server(unnamed, asked, params))
    assert asked == [1000, 500, 100, 25] and pages.cap == 25


def test_a_remembered_size_is_trusted_for_a_day_by_the_sync_and_always_by_the_probe() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    stored = {"limit": 100, "learnt_at": (now - RECHECK - timedelta(hours=1)).isoformat()}
    stale = PageSize()
    stale.adopt(stored, max_age=RECHECK, now=now)
    assert stale.cap is None  # asks for the full size again: the API may have raised its cap
    probe = PageSize()
    probe.adopt(stored)
    assert probe.cap == 100 and probe.stored() == {"limit": 100, "learnt_at": "2026-11-29T23:00:00.000000Z"}
    for junk in (None, [], {"limit": "x"}, {"limit": 0, "learnt_at": stored["learnt_at"]}):
        fresh = PageSize()
        fresh.adopt(junk)
        assert fresh.cap is None


def _statuses(emu: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for (_method, _route, status), n in emu.stats.snapshot().items():
        counts[status] = counts.get(status, 0) + n
    return counts


@pytest.mark.parametrize(
    ("variant", "refused"),
    [
        ({}, 1),  # a JSON:API 400 naming the cap: the first page request goes alone, so one refusal in all
        ({"faults": {"nest_error_shape": True}}, 1),  # `page.limit must not be greater than 100`
        ({"over_page_cap": "refuse-unnamed"}, 2),  # 1,000 then 500 refused, 100 answered
        ({"over_page_cap": "clamp"}, 0),  # served at 100 with `meta.limit`: nothing to learn
    ],
    ids=["named", "nest", "unnamed", "clamp"],
)
def test_a_page_cap_below_ours_is_adopted_and_remembered(
    make_emu: Any, make_warehouse: Any, variant: dict[str, Any], refused: int
) -> None:
    emu = make_emu(records=1200, page_cap=100, **{k: v for k, v in variant.items() if k != "faults"})
    emu.faults.set(**variant.get("faults", {}))
    wh = make_warehouse("duckdb")
    emu.stats.reset()
    first = run_sync(connection_for(emu), wh)
    assert _statuses(emu).get(400, 0) == refused
    assert first.objects["person"].pages >= len(emu.store.records("person")) // 100  # pages of 100, not 1,000
    emu.faults.clear()
    assert_synced(emu, wh)
    _a_later_run_is_refused_nothing(emu, wh)


def _a_later_run_is_refused_nothing(emu: Any, wh: Any) -> None:
    """A change, then a sync: it asks for the learnt size straight away (no 400) and ends exact."""
    emu.clock.advance(3600)
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "after the first run"})
    emu.stats.reset()
    run_sync(connection_for(emu), wh)
    assert _statuses(emu).get(400, 0) == 0
    assert_synced(emu, wh)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_the_learnt_size_is_restored_with_the_state_from_the_warehouse(
    make_emu: Any, make_warehouse: Any, kind: str
) -> None:
    emu = make_emu(page_cap=100)
    wh = make_warehouse(kind)
    run_sync(connection_for(emu), wh)
    shutil.rmtree(Path(wh.pipelines_dir))  # a new machine: dlt restores its state from the warehouse
    _a_later_run_is_refused_nothing(emu, wh)


def test_the_nothing_changed_probe_and_the_small_change_load_ask_for_the_learnt_size(
    make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.small_changes import load_small_changes

    emu = make_emu(page_cap=100)
    wh = make_warehouse("duckdb")
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    settings = noop_probe.settings(base_url=None, workspace=None, objects=None, lag_seconds=300, page_limit=PAGE_LIMIT)
    run_sync(connection_for(emu), wh, probe_settings=settings)
    emu.clock.advance(3600)
    emu.stats.reset()
    assert noop_probe.probe(wh, run_settings=settings).report is not None
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "changed"})
    found = noop_probe.probe(wh, run_settings=settings)
    assert found.changed == ["person"] and load_small_changes(wh, found) is not None
    assert found.api is not None
    found.api.close()
    assert _statuses(emu).get(400, 0) == 0
    assert_synced(emu, wh)
