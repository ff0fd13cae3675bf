"""The push in every upsert dialect (emulator/writes.py), on DuckDB and on Postgres.

`match_on`: bulk creates take a top-level `match_on`; `upsert`: they refuse it (400 `property match_on should
not exist`) and upsert by themselves; `strict`: they refuse it and a duplicate unique value fails the batch (422
"Duplicate record found for email: ..."). Rows of known records are PATCHed by id (the push state, or the synced
copy of the object); a refused property is learnt once per workspace and never becomes a reject.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.push import run_push
from tests.push.conftest import DIALECTS
from tests.push.test_push_core import by_email, make_people

EVERY_DIALECT = pytest.mark.parametrize("dialect", DIALECTS)

Warehouse = Any  # tests/push/conftest.py: Warehouse
CREATE = ("POST", "/objects/{object}/records/bulk")
PATCH = ("PATCH", "/objects/{object}/records")


def _count(emu: Any, route: tuple[str, str], statuses: range = range(200, 300)) -> int:
    return sum(n for (m, r, s), n in emu.stats.snapshot().items() if (m, r) == route and s in statuses)


def _refused(emu: Any) -> int:
    """Bulk creates answered 400: the refusals of `match_on` (no row of these tests is a duplicate or bad)."""
    return _count(emu, CREATE, range(400, 401))


def _existing_people(emu: Any, warehouse: Warehouse, n: int, *, synced: bool = True) -> dict[str, str]:
    """`n` people u0..u{n-1}@x.com in Clarify (email → id), and their synced copy in the warehouse, laid out as
    the sync lays it out (`person`, `person__email_addresses` with `person_id`, `value`, `position`)."""
    for i in range(n):
        emu.store.create("person", {"email_addresses": {"items": [f"U{i}@x.com"]}, "title": f"Old {i}"})
    ids = {p["email_addresses"]["items"][0].lower(): rid for rid, p in _records(emu).items()}
    if synced:
        warehouse.execute(f"CREATE TABLE {warehouse.t('person')} (id TEXT, title TEXT, _deleted_at TIMESTAMP)")
        warehouse.execute(
            f"CREATE TABLE {warehouse.t('person__email_addresses')} (person_id TEXT, value TEXT, position INTEGER)"
        )
        warehouse.execute(
            f"INSERT INTO {warehouse.t('person')} VALUES "
            + ", ".join(f"('{rid}', 'Old', NULL)" for rid in ids.values())
        )
        warehouse.execute(
            f"INSERT INTO {warehouse.t('person__email_addresses')} VALUES "
            + ", ".join(f"('{rid}', '{email.upper()}', 0)" for email, rid in ids.items())
        )
    return ids


def _records(emu: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r["attributes"] for r in emu.store.records("person")}


def _dialect_row(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.query(f"SELECT dialect FROM {warehouse.t('_clarify_push_dialects')}")


@EVERY_DIALECT
def test_150_existing_and_50_new_land_exactly(emu, conn, writes, warehouse: Warehouse, dialect: str) -> None:
    ids = _existing_people(emu, warehouse, 150)
    make_people(warehouse, 200)
    report = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert (report.new, report.sent, report.rejected) == (200, 200, 0)

    people = by_email(emu)  # asserts one person per email
    assert len(_records(emu)) == 200 and set(people) == {f"u{i}@x.com" for i in range(200)}
    records = _records(emu)
    assert all(records[ids[f"u{i}@x.com"]]["title"] == f"Title {i}" for i in range(150))  # updated in place
    assert _count(emu, PATCH) == 2  # the 150 synced people: PATCHed by id, 100 + 50, each once
    assert _count(emu, CREATE) == 1  # the 50 new ones: one bulk create
    assert _refused(emu) == (0 if dialect == "match_on" else 1)  # learnt with one refusal, never a reject
    assert warehouse.query(f"SELECT count(*) FROM {warehouse.t('_clarify_push_rejects')}") == [(0,)]

    before = writes(emu)
    again = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert (again.unchanged, again.sent, again.requests) == (200, 0, 0) and writes(emu) == before


@EVERY_DIALECT
def test_37_changed_rows_in_one_or_two_requests(emu, conn, writes, warehouse: Warehouse) -> None:
    make_people(warehouse, 1_000)
    run_push(conn, warehouse.options, object="person", from_table="scores")
    changed = {f"u{i}@x.com" for i in range(7, 1000, 27)[:37]}
    warehouse.execute(
        f"UPDATE {warehouse.t('scores')} SET lead_score = lead_score + 1000 "
        "WHERE email_addresses IN (" + ", ".join(f"'{e}'" for e in sorted(changed)) + ")"
    )
    before = writes(emu)
    report = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert (report.changed, report.new, report.sent, report.unchanged) == (37, 0, 37, 963)
    assert 1 <= writes(emu) - before <= 2 and report.requests <= 3  # GET /schemas, then the PATCH
    people = by_email(emu)
    assert {e for e, p in people.items() if p["lead_score"] >= 1000} == changed and len(people) == 1_000


@EVERY_DIALECT
def test_refused_property_is_learnt_once_and_never_a_reject(emu, conn, warehouse: Warehouse, dialect: str) -> None:
    make_people(warehouse, 100)
    first = run_push(conn, warehouse.options, object="person", from_table="scores", batch_size=25, concurrency=4)
    assert first.ok and first.sent == 100 and len(_records(emu)) == 100
    learnt = "match_on" if dialect == "match_on" else "plain"
    assert _refused(emu) == (learnt == "plain") and _dialect_row(warehouse) == [(learnt,)]

    make_people(warehouse, 250, table="more")  # the rest are new: creates again, in the known dialect
    second = run_push(conn, warehouse.options, object="person", from_table="more", batch_size=25, concurrency=4)
    assert second.ok and (second.new, second.unchanged, second.sent) == (150, 100, 150)
    assert _refused(emu) == (learnt == "plain")  # no refusal once known
    assert len(by_email(emu)) == 250


@EVERY_DIALECT
def test_duplicate_create_is_looked_up_and_updated(emu, conn, warehouse: Warehouse, dialect: str) -> None:
    """People made in Clarify since the last sync (no synced copy, no push state): their creates are duplicates
    where creates do not upsert; each is found by its email and updated, none is a reject or a twin."""
    ids = _existing_people(emu, warehouse, 30, synced=False)
    make_people(warehouse, 60)
    report = run_push(conn, warehouse.options, object="person", from_table="scores", batch_size=25)
    assert report.ok and report.sent == 60
    records = _records(emu)
    assert len(records) == 60 and len(by_email(emu)) == 60
    assert all(records[ids[f"u{i}@x.com"]]["title"] == f"Title {i}" for i in range(30))
    state = dict(warehouse.query(f"SELECT key, clarify_id FROM {warehouse.t('_clarify_push__person')}"))
    assert all(state[f"u{i}@x.com"] == ids[f"u{i}@x.com"] for i in range(30))


@EVERY_DIALECT
def test_record_gone_since_is_created_again(emu, conn, warehouse: Warehouse) -> None:
    make_people(warehouse, 20)
    run_push(conn, warehouse.options, object="person", from_table="scores")
    gone = by_email(emu)["u4@x.com"]
    emu.store.delete("person", next(rid for rid, a in _records(emu).items() if a == gone))
    warehouse.execute(f"UPDATE {warehouse.t('scores')} SET title = 'again'")
    report = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert report.ok and report.sent == 20
    assert len(_records(emu)) == 20 and {p["title"] for p in by_email(emu).values()} == {"again"}


@EVERY_DIALECT
def test_429s_and_502s_are_survived(emu, conn, warehouse: Warehouse) -> None:
    """429s on creates and PATCHes are waited out; a 502 after a create committed is resent: upserted again, or
    refused as duplicates that are looked up and updated. Every row lands once."""
    ids = _existing_people(emu, warehouse, 50)
    make_people(warehouse, 150)
    writes = ["/objects/person/records"]  # bulk creates and bulk PATCHes
    emu.faults.set(burst_429=4, retry_after_seconds=7, commit_then_5xx=2, error_status=502, only_paths=writes)
    slept: list[float] = []
    report = run_push(conn, warehouse.options, object="person", from_table="scores", batch_size=50, sleep=slept.append)
    assert report.ok and report.sent == 150
    assert emu.faults.current().burst_429 == 0 and emu.faults.current().commit_then_5xx == 0
    assert sum(slept) >= 4 * 7 - 1
    records = _records(emu)
    assert len(records) == 150 and len(by_email(emu)) == 150
    assert all(records[ids[f"u{i}@x.com"]]["title"] == f"Title {i}" for i in range(50))


@EVERY_DIALECT
def test_lost_answers_make_no_twin(emu, conn, warehouse: Warehouse) -> None:
    make_people(warehouse, 120)
    emu.faults.set(commit_then_drop=2, only_paths=["/objects/person/records/bulk"])
    report = run_push(conn, warehouse.options, object="person", from_table="scores", batch_size=50, concurrency=1)
    assert report.ok and report.sent == 120 and emu.faults.current().commit_then_drop == 0
    assert len(_records(emu)) == 120 and len(by_email(emu)) == 120


@pytest.mark.parametrize("dialect", ["strict"])
def test_synced_copy_from_the_sync_is_matched(emu, conn, duck: Warehouse, tmp_path) -> None:
    """The synced copy as `clarify-sync sync` loads it (not one made by hand): its people are PATCHed, not sent as
    creates the strict dialect would refuse as duplicates."""
    from dataclasses import replace

    from pipelines.sync import run_sync

    ids = _existing_people(emu, duck, 40, synced=False)
    run_sync(conn, replace(duck.options, pipelines_dir=str(tmp_path / "pipelines")), objects=["person"])
    make_people(duck, 60)
    report = run_push(conn, duck.options, object="person", from_table="scores")
    assert report.ok and report.sent == 60
    assert _count(emu, PATCH) == 1 and _count(emu, CREATE, range(422, 423)) == 0  # no duplicate refused
    records = _records(emu)
    assert len(records) == 60 and all(records[ids[f"u{i}@x.com"]]["title"] == f"Title {i}" for i in range(40))


@pytest.mark.parametrize("dialect", ["strict"])
def test_duplicate_deal_name_is_found_whatever_its_characters(emu, conn, duck: Warehouse) -> None:
    """A scalar unique field is looked up with `filter[name]=<value>`, or `[Is]` where the bare value would read as
    a shorthand (`a,b` is one-of, `>v` greater than): a deal named "Acme, Inc." is found, not created twice."""
    names = ["Acme, Inc.", ">5 seats", "Plain deal"]
    ids = {n: emu.store.create("deal", {"name": n})["id"] for n in names}
    duck.execute(
        f"CREATE TABLE {duck.t('deals')} AS SELECT * FROM (VALUES ('Acme, Inc.', 5.0), ('>5 seats', 6.0), "
        "('Plain deal', 7.0), ('New deal', 8.0)) AS t(name, amount)"
    )
    report = run_push(conn, duck.options, object="deal", from_table="deals")
    assert report.ok and report.sent == 4
    deals = {r["attributes"]["name"]: r for r in emu.store.records("deal")}
    assert len(deals) == 4 and all(deals[n]["id"] == ids[n] for n in names)
    assert [deals[n]["attributes"]["amount"] for n in [*names, "New deal"]] == [5.0, 6.0, 7.0, 8.0]


@EVERY_DIALECT
def test_sigkill_after_commit_then_rerun(emu, conn, warehouse: Warehouse) -> None:
    """Killed (SIGKILL) once the 2nd bulk create is committed, before its answer is read: the rerun sends that
    batch again, which upserts or is refused as duplicates that are looked up and updated. No twin."""
    from tests.push.test_push_exactly_once import _killed_child

    make_people(warehouse, 300)
    warehouse.execute(f"ALTER TABLE {warehouse.t('scores')} RENAME TO src")
    _killed_child(emu, warehouse, "person", 2)
    recorded = warehouse.query(f"SELECT count(*) FROM {warehouse.t('_clarify_push__person')}")[0][0]
    assert recorded < 200 <= len(_records(emu))  # the killed batch (and any in flight) landed unrecorded
    report = run_push(conn, warehouse.options, object="person", from_table="src", batch_size=100)
    assert report.ok and report.new == report.sent == 300 - recorded
    assert len(_records(emu)) == 300 and len(by_email(emu)) == 300
