"""Shapes from the schema, and rejects kept under the row's identity.

Plain warehouse types become the API's shapes before sending (a VARCHAR or VARCHAR[] for a collection, a
timestamp for a date); what cannot be converted is refused locally and costs no request. A reject is kept
under the key as the API compares it, so fixing the row clears it however the key's text changed.
"""

from __future__ import annotations

from typing import Any

from pipelines.push import run_push

WRITES = ("POST", "PATCH", "DELETE")


def _writes(emu: Any) -> int:
    return sum(n for (method, _route, _status), n in emu.stats.snapshot().items() if method in WRITES)


def _statuses(emu: Any) -> set[int]:
    return {status for (method, _route, status) in emu.stats.snapshot() if method in WRITES}


def test_varchar_email_and_varchar_list_domains_land(emu, conn, warehouse: Any) -> None:
    array = (
        "['d' || i || '.com', 'D' || i || '.org']"
        if warehouse.kind == "duckdb"
        else ("ARRAY['d' || i || '.com', 'D' || i || '.org']")
    )
    warehouse.execute(
        f"CREATE TABLE {warehouse.t('people')} AS SELECT CAST('P' || i || '@X.com' AS VARCHAR) AS email_addresses, "
        f"TIMESTAMP '1990-05-17 13:45:00' AS birthday FROM {warehouse.series(20)}"
    )
    warehouse.execute(
        f"CREATE TABLE {warehouse.t('companies')} AS SELECT {array} AS domains, 'Co ' || i AS name "
        f"FROM {warehouse.series(20)}"
    )
    people = run_push(conn, warehouse.options, object="person", from_table="people")
    companies = run_push(conn, warehouse.options, object="company", from_table="companies")
    assert people.ok and companies.ok and people.sent == companies.sent == 20
    assert _statuses(emu) == {200}  # not one 422
    person = next(iter(emu.store.records("person")))["attributes"]
    assert person["birthday"] == "1990-05-17"
    domains = sorted(d for r in emu.store.records("company") for d in r["attributes"]["domains"]["items"])
    assert len(domains) == 40 and "d3.com" in domains


def test_out_of_range_number_costs_no_request(emu, conn, warehouse: Any) -> None:
    warehouse.execute(
        f"CREATE TABLE {warehouse.t('people')} AS SELECT 'u' || i || '@x.com' AS email_addresses, "
        f"CAST(1e13 AS DOUBLE PRECISION) AS lead_score FROM {warehouse.series(3)}"
    )
    report = run_push(conn, warehouse.options, object="person", from_table="people")
    assert (report.invalid, report.rejected, report.sent) == (3, 3, 0)
    assert _writes(emu) == 0 and report.requests == 1  # the schema only
    details = warehouse.query(f"SELECT detail FROM {warehouse.t('_clarify_push_rejects')}")
    assert len(details) == 3 and all("DECIMAL(16,4)" in d for (d,) in details)


def test_fixed_reject_clears_whatever_its_key_text(emu, conn, warehouse: Any) -> None:
    warehouse.execute(
        f"CREATE TABLE {warehouse.t('people')} AS SELECT 'U' || i || '@X.com' AS email_addresses, "
        f"CASE WHEN i < 2 THEN 1e13 ELSE 1 END AS lead_score FROM {warehouse.series(5)}"
    )
    first = run_push(conn, warehouse.options, object="person", from_table="people")
    assert (first.sent, first.rejected) == (3, 2)
    rejects = f"SELECT key FROM {warehouse.t('_clarify_push_rejects')} ORDER BY key"
    assert warehouse.query(rejects) == [("u0@x.com",), ("u1@x.com",)]  # the identity, not the text

    # Row 0 fixed, its key now a JSON list in lower case; row 1 deleted from the source.
    warehouse.execute(
        f"""UPDATE {warehouse.t("people")} SET lead_score = 2, email_addresses = '["u0@x.com"]'
            WHERE email_addresses = 'U0@X.com'"""
    )
    warehouse.execute(f"DELETE FROM {warehouse.t('people')} WHERE email_addresses = 'U1@X.com'")
    fixed = run_push(conn, warehouse.options, object="person", from_table="people")
    assert (fixed.sent, fixed.rejected, fixed.rejects_gone) == (1, 0, 1)
    assert warehouse.query(rejects) == []
