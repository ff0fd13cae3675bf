"""The push's done-when list, against the emulator over HTTP, on DuckDB and on Postgres (in every push dialect
where parametrized; more in test_push_dialects.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.push import run_push
from tests.push.conftest import DIALECTS

Warehouse = Any  # tests/push/conftest.py: Warehouse

PEOPLE = """CREATE TABLE {t} AS SELECT
    'u' || i || '@x.com' AS email_addresses,
    (i % 100) / 4.0 AS lead_score,
    'Title ' || i AS title,
    CASE WHEN i % 3 = 0 THEN 'Gold' ELSE 'Silver' END AS tier,
    ARRAY['vip', 'customer'] AS tags,
    DATE '2000-01-01' + CAST(i % 1000 AS INTEGER) AS birthday
FROM {series}"""


def make_people(wh: Warehouse, n: int, table: str = "scores") -> None:
    wh.execute(PEOPLE.format(t=wh.t(table), series=wh.series(n)))


def by_email(emu: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for rec in emu.store.records("person"):
        attrs = rec["attributes"]
        for email in attrs["email_addresses"]["items"]:
            assert email not in out, f"duplicate person for {email}"
            out[email] = attrs
    return out


def test_push_10k_then_nothing(emu, conn, writes, warehouse: Warehouse) -> None:
    make_people(warehouse, 10_000)
    seen: list[tuple[int, int]] = []
    report = run_push(
        conn,
        warehouse.options,
        object="person",
        from_table="scores",
        progress=lambda rows, batches: seen.append((rows, batches)),
    )
    assert (report.new, report.changed, report.unchanged, report.sent, report.rejected) == (10_000, 0, 0, 10_000, 0)
    assert seen[-1] == (10_000, 100) and seen == sorted(seen)  # rows and batches of 100, both only growing

    people = by_email(emu)
    rows = warehouse.query(f"SELECT email_addresses, lead_score, title, tier, birthday FROM {warehouse.t('scores')}")
    assert len(people) == len(rows) == 10_000
    for email, score, title, tier, birthday in rows:
        p = people[email]
        assert (p["lead_score"], p["title"], p["tier"], p["birthday"], p["tags"]) == (
            float(score),
            title,
            tier,
            birthday.isoformat(),
            ["vip", "customer"],
        )

    before = writes(emu)
    again = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert writes(emu) == before
    assert (again.unchanged, again.new, again.changed, again.sent) == (10_000, 0, 0, 0)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_invalid_rows_isolated_then_retried(emu, conn, warehouse: Warehouse) -> None:
    """3 rows the API refuses (unknown company) among 100: 97 land, 3 wait in rejects; fixed, they land."""
    make_people(warehouse, 100)
    warehouse.execute(f"ALTER TABLE {warehouse.t('scores')} ADD COLUMN company_id TEXT")
    bad = ["u5@x.com", "u50@x.com", "u77@x.com"]
    warehouse.execute(
        f"UPDATE {warehouse.t('scores')} SET company_id = 'com_missing' WHERE email_addresses IN ("
        + ", ".join(f"'{e}'" for e in bad)
        + ")"
    )
    report = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert (report.sent, report.rejected) == (97, 3)
    assert len(by_email(emu)) == 97
    rejects = warehouse.query(
        f"SELECT key, pointer, status, attempts, detail FROM {warehouse.t('_clarify_push_rejects')} ORDER BY key"
    )
    assert [(k, p, s, a) for k, p, s, a, _ in rejects] == [
        (e, "/data/attributes/company_id", "422", 1) for e in sorted(bad)
    ]
    assert all("com_missing" in d for *_, d in rejects)

    again = run_push(conn, warehouse.options, object="person", from_table="scores")  # still bad: tried again
    assert (again.new, again.unchanged, again.rejected, again.sent) == (3, 97, 3, 0)
    assert {
        a
        for *_, a, _ in [
            r[:5]
            for r in warehouse.query(
                f"SELECT key, pointer, status, attempts, detail FROM {warehouse.t('_clarify_push_rejects')}"
            )
        ]
    } == {2}

    warehouse.execute(f"UPDATE {warehouse.t('scores')} SET company_id = NULL")
    fixed = run_push(conn, warehouse.options, object="person", from_table="scores")
    assert (fixed.new, fixed.sent, fixed.rejected) == (3, 3, 0)
    assert warehouse.query(f"SELECT count(*) FROM {warehouse.t('_clarify_push_rejects')}") == [(0,)]
    assert set(by_email(emu)) == {f"u{i}@x.com" for i in range(100)}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_dry_run_writes_nothing(emu, conn, writes, warehouse: Warehouse) -> None:
    make_people(warehouse, 200)
    warehouse.execute(f"UPDATE {warehouse.t('scores')} SET tier = 'gold' WHERE email_addresses = 'u3@x.com'")
    tables = warehouse.snapshot()
    report = run_push(conn, warehouse.options, object="person", from_table="scores", dry_run=True)
    assert (report.new, report.changed, report.unchanged, report.invalid, report.sent) == (200, 0, 0, 1, 0)
    assert report.samples and any(s["change"] == "invalid" and s["key"] == "u3@x.com" for s in report.samples)
    assert writes(emu) == 0 and warehouse.snapshot() == tables  # no state table either

    run_push(conn, warehouse.options, object="person", from_table="scores")
    warehouse.execute(
        f"UPDATE {warehouse.t('scores')} SET title = 'changed' WHERE email_addresses IN ('u1@x.com', 'u2@x.com')"
    )
    tables, before = warehouse.snapshot(), writes(emu)
    report = run_push(conn, warehouse.options, object="person", from_table="scores", dry_run=True)
    assert (report.new, report.changed, report.unchanged) == (1, 2, 197)  # the invalid row is still "new"
    assert writes(emu) == before and warehouse.snapshot() == tables
