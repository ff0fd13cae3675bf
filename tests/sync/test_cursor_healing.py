"""A cursor that heals (issue 19, item 2): one odd page does not make an object cursorless (the page is asked again);
a listing that really ignores the `_updated_at` filter does, and the reconcile pass returns the object to incremental
reads once the listing behaves. `status` shows each object's mode and since when."""

from __future__ import annotations

from typing import Any

from pipelines.sync import run_sync, sync_status
from tests.sync.conftest import assert_synced, connection_for

PERSON = ["person"]
LISTING = "/objects/person/resources"


def _mode(wh: Any) -> tuple[str, str | None]:
    row = {r.object: r for r in sync_status(wh)}["person"]
    return row.mode, row.mode_since


def _change(emu: Any) -> None:
    people = emu.store.records("person")
    emu.store.update("person", people[3]["id"], {"title": "Changed"})
    emu.store.delete("person", people[4]["id"])


def test_one_odd_page_leaves_the_object_incremental(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh, objects=PERSON, page_limit=40)
    _change(emu)
    emu.faults.set(odd_page=1, only_paths=[LISTING])
    notices: list[str] = []

    run_sync(conn, wh, objects=PERSON, page_limit=40, reconcile=True, notice=notices.append)

    assert emu.faults.current().odd_page == 0  # the glitch was served
    assert notices == [] and _mode(wh)[0] == "incremental"
    assert_synced(emu, wh, PERSON)


def test_a_listing_ignoring_the_filter_goes_cursorless_and_back(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh, objects=PERSON, page_limit=40)
    notices: list[str] = []

    emu.faults.set(ignore_cursor_filter=True, only_paths=[LISTING])
    _change(emu)
    run_sync(conn, wh, objects=PERSON, page_limit=40, notice=notices.append)
    assert_synced(emu, wh, PERSON)  # the deletion included, though the object turned cursorless mid-run
    mode, since = _mode(wh)
    assert mode == "cursorless" and since is not None and len(notices) == 1 and "read in full" in notices[0]

    run_sync(conn, wh, objects=PERSON, page_limit=40, reconcile=True, notice=notices.append)
    assert _mode(wh) == (mode, since) and "still" in notices[-1] and len(notices) == 2

    emu.faults.set(ignore_cursor_filter=False)
    _change(emu)
    run_sync(conn, wh, objects=PERSON, page_limit=40, reconcile=True, notice=notices.append)
    assert_synced(emu, wh, PERSON)
    assert _mode(wh)[0] == "incremental" and _mode(wh)[1] > since
    assert len(notices) == 3 and "back to incremental" in notices[-1]

    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "Later"})
    report = run_sync(conn, wh, objects=PERSON, page_limit=40, reconcile=False, notice=notices.append)
    assert_synced(emu, wh, PERSON)
    assert report.objects["person"].requests <= 2 and len(notices) == 3  # read from the cursor again


def test_a_listing_ignoring_the_sort_is_read_in_full_and_stays_exact(make_emu: Any, make_warehouse: Any) -> None:
    """A server that answers in its own order whatever the sort asks: the walk meets stamps out of order on every
    answer (asked twice), so the object is read in full, deletions included."""
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    emu.faults.set(ignore_sort=True, only_paths=[LISTING])
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "Newest"})  # first id, newest stamp
    notices: list[str] = []

    run_sync(conn, wh, objects=PERSON, page_limit=40, notice=notices.append)
    _change(emu)
    run_sync(conn, wh, objects=PERSON, page_limit=40, notice=notices.append)

    assert_synced(emu, wh, PERSON)
    assert _mode(wh)[0] == "cursorless" and len(notices) == 1 and "read in full" in notices[0]
