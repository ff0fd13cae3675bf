"""The page walk against an in-memory listing that changes while it is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sources.clarify.cursor import Position, format_filter_ts, parse_ts
from sources.clarify.pagination import UpdatedAtWalk
from sources.clarify.state import start_position

T0 = datetime(2030, 1, 1, tzinfo=UTC)


class Listing:
    """Records {id: ts}; answers like the API (ascending ts, then id; `Is on or after`; offset; limit)."""

    def __init__(self, stamps: dict[str, datetime], cap: int = 500) -> None:
        self.stamps = dict(stamps)
        self.cap = cap
        self.calls = 0
        self.on_call: Any = None

    def fetch(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.on_call:
            self.on_call(self)
        after = params.get("filter[_updated_at][Is on or after]")
        rows = sorted((ts, rid) for rid, ts in self.stamps.items() if after is None or ts >= parse_ts(after))
        limit = min(int(params["page[limit]"]), self.cap)
        offset = int(params.get("page[offset]", 0))
        page = rows[offset : offset + limit]
        return {
            "data": [{"id": rid, "attributes": {"_updated_at": ts.isoformat()}} for ts, rid in page],
            "meta": {"limit": limit},
            "links": {"next": "http://stray"},
        }


def walk_all(listing: Listing, limit: int = 10) -> set[str]:
    walk = UpdatedAtWalk(listing.fetch, Position(), limit=limit)
    return {r["id"] for page in walk for r in page.records}


def test_tie_group_larger_than_a_page_arrives_without_looping() -> None:
    listing = Listing({f"r{i:04d}": T0 for i in range(95)} | {"late": T0 + timedelta(seconds=1)})
    assert walk_all(listing) == set(listing.stamps)
    assert listing.calls < 20


def test_server_cap_below_our_limit_is_not_mistaken_for_the_end() -> None:
    listing = Listing({f"r{i}": T0 + timedelta(seconds=i) for i in range(60)}, cap=25)
    assert walk_all(listing, limit=500) == set(listing.stamps)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=120), st.integers(1, 4), st.integers(0, 6))
def test_nothing_that_existed_throughout_is_missed(offsets: list[int], move_every: int, moves: int) -> None:
    stamps = {f"r{i:03d}": T0 + timedelta(seconds=o) for i, o in enumerate(offsets)}
    listing = Listing(stamps)
    survivors = set(stamps)

    def churn(lst: Listing) -> None:
        if lst.calls % move_every == 0 and moves:
            victim = sorted(lst.stamps)[lst.calls % len(lst.stamps)]
            lst.stamps[victim] = T0 + timedelta(seconds=100 + lst.calls)  # updated: leaves its tie group

    listing.on_call = churn
    assert survivors <= walk_all(listing, limit=7)


def test_start_position_lag_resume_and_since() -> None:
    assert start_position({}).after is None
    state = {"cursor": "2030-01-01T00:10:00Z", "complete": True}
    assert start_position(state, lag_seconds=300).after == T0 + timedelta(minutes=5)
    state = {"cursor": "2030-01-01T00:10:00.000000Z", "complete": False, "offset": 450}
    pos = start_position(state, lag_seconds=300)
    assert (pos.after, pos.offset) == (T0 + timedelta(minutes=10), 450)
    assert start_position(state, since="2029-12-31").after == T0 - timedelta(days=1)
    assert parse_ts("2030-01-01T00:00:00Z") == parse_ts("2030-01-01T00:00:00+00:00")
    assert format_filter_ts(T0 + timedelta(microseconds=1999)) == "2030-01-01T00:00:00.001Z"


def reference_walk(pages: list[list[dict[str, Any]]]) -> tuple[list[str], dict[str, datetime], datetime | None]:
    """The de-duplication spelled out with a timestamp kept per emitted id: emit order, emitted versions and
    the oldest newer version met again (`rewind_to`)."""
    emitted: dict[str, datetime] = {}
    order: list[str] = []
    rewind: datetime | None = None
    for data in pages:
        for record in data:
            rid, ts = record["id"], parse_ts(record["attributes"]["_updated_at"])
            seen = emitted.get(rid)
            if seen is None:
                emitted[rid] = ts
                order.append(rid)
            elif ts > seen and (rewind is None or ts < rewind):
                rewind = ts
    return order, emitted, rewind


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0, 300, 999, 1000])), min_size=1, max_size=80),
    st.integers(1, 4),
    st.integers(0, 6),
    st.integers(2, 9),
)
def test_walk_keeps_only_what_it_needs_and_decides_as_with_every_timestamp(
    stamps_spec: list[tuple[int, int]], move_every: int, moves: int, limit: int
) -> None:
    # Sub-millisecond stamps: the API's filter is floored to milliseconds, so records just below the
    # filter are read again unchanged and must not count as newer versions.
    stamps = {f"r{i:03d}": T0 + timedelta(seconds=s, microseconds=us) for i, (s, us) in enumerate(stamps_spec)}
    listing = Listing(stamps)
    fetched: list[list[dict[str, Any]]] = []

    def churn(lst: Listing) -> None:
        if lst.calls % move_every == 0 and lst.calls // move_every <= moves:
            victim = sorted(lst.stamps)[lst.calls % len(lst.stamps)]
            lst.stamps[victim] = T0 + timedelta(seconds=100 + lst.calls)

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        body = listing.fetch(params)
        fetched.append(body["data"])
        return body

    listing.on_call = churn
    walk = UpdatedAtWalk(fetch, Position(), limit=limit, recent_seconds=30.0)
    emitted_order = [r["id"] for page in walk for r in page.records]
    order, versions, rewind = reference_walk(fetched)
    assert emitted_order == order
    assert walk.emitted == set(order)
    assert walk.rewind_to == rewind
    newest = max(versions.values())
    recent = set(walk.recent())
    assert recent <= set(versions.items())  # only emitted versions
    assert {(rid, ts) for rid, ts in versions.items() if ts >= newest - timedelta(seconds=30)} <= recent


class IgnoresFilter(Listing):
    """A server that ignores the `_updated_at` filter (and, with `sort=False`, the sort as well)."""

    def __init__(self, stamps: dict[str, datetime], sort: bool = True) -> None:
        super().__init__(stamps)
        self.sort = sort

    def fetch(self, params: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if not k.startswith("filter")}
        body = super().fetch(params)
        if not self.sort:
            body["data"].reverse()
        return body


def test_a_listing_that_ignores_the_filter_or_the_sort_is_found_cursorless() -> None:
    stamps = {f"r{i:03d}": T0 + timedelta(seconds=i) for i in range(120)}
    for listing in (IgnoresFilter(stamps), IgnoresFilter(stamps, sort=False)):
        walk = UpdatedAtWalk(listing.fetch, Position(), limit=50)
        pages = list(walk)
        assert walk.cursorless and not walk.done
        assert walk.emitted == {r["id"] for p in pages for r in p.records}  # what it handed out, nothing more


def test_records_without_updated_at_are_emitted_and_do_not_move_the_cursor() -> None:
    listing = Listing({f"r{i:03d}": T0 + timedelta(seconds=i) for i in range(30)})
    plain = listing.fetch

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        body = plain(params)
        for record in body["data"]:
            if record["id"] in ("r000", "r029"):
                del record["attributes"]["_updated_at"]
        return body

    walk = UpdatedAtWalk(fetch, Position(), limit=10)
    ids = [r["id"] for page in walk for r in page.records]
    assert sorted(ids) == sorted(listing.stamps) and len(ids) == len(set(ids))
    assert walk.done and not walk.cursorless and walk.max_seen == T0 + timedelta(seconds=28)


def test_without_meta_a_short_page_of_a_server_default_size_does_not_end_the_walk() -> None:
    listing = Listing({f"r{i:03d}": T0 + timedelta(seconds=i) for i in range(60)}, cap=25)
    plain = listing.fetch

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        body = plain(params)
        del body["meta"]
        return body

    walk = UpdatedAtWalk(fetch, Position(), limit=100)
    assert sorted(r["id"] for page in walk for r in page.records) == sorted(listing.stamps)


def test_without_meta_records_written_before_every_answer_do_not_keep_the_walk_going() -> None:
    """Each answer brings a record created just before it, so no page is without something new: the walk ends on
    a page shorter than the longest it met (the server's page size is at least that)."""
    listing = Listing({f"r{i:03d}": T0 + timedelta(seconds=i) for i in range(30)})
    plain = listing.fetch

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        listing.stamps[f"new{listing.calls:03d}"] = T0 + timedelta(hours=1, seconds=listing.calls)
        body = plain(params)
        del body["meta"]
        return body

    walk = UpdatedAtWalk(fetch, Position(), limit=100, max_pages=50)
    ids = {r["id"] for page in walk for r in page.records}
    assert walk.done and listing.calls == 2 and {f"r{i:03d}" for i in range(30)} <= ids
