"""Update by id, relationship sets, custom objects, batch-size adaptation and bisecting without pointers."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.push import run_push
from sources.clarify.connection import ClarifyConnection
from tests.push.conftest import DIALECTS


def test_update_mode_patches_by_id(emu, conn, warehouse: Any) -> None:
    ids = [
        emu.store.create("person", {"email_addresses": {"items": [f"p{i}@x.com"]}, "title": "old"})["id"]
        for i in range(30)
    ]
    warehouse.execute(f"CREATE TABLE {warehouse.t('owners')} (id TEXT, job TEXT)")
    warehouse.execute(
        f"INSERT INTO {warehouse.t('owners')} VALUES " + ", ".join(f"('{rid}', 'new {i}')" for i, rid in enumerate(ids))
    )
    report = run_push(
        conn, warehouse.options, object="person", from_table="owners", mode="update", mapping={"job": "title"}
    )
    assert (report.new, report.sent, report.rejected) == (30, 30, 0)
    assert sorted(r["attributes"]["title"] for r in emu.store.records("person")) == sorted(
        f"new {i}" for i in range(30)
    )
    snap = emu.stats.snapshot()
    assert snap.get(("PATCH", "/objects/{object}/records", 200)) == 1
    assert (
        run_push(
            conn, warehouse.options, object="person", from_table="owners", mode="update", mapping={"job": "title"}
        ).sent
        == 0
    )


def test_update_unknown_id_is_rejected_alone(emu, conn, duck: Any) -> None:
    good = emu.store.create("person", {"email_addresses": {"items": ["a@x.com"]}})["id"]
    duck.execute(
        f"CREATE TABLE {duck.t('u')} AS SELECT * FROM (VALUES ('{good}', 'ok'), ('per_nope', 'x')) AS v(id, title)"
    )
    report = run_push(conn, duck.options, object="person", from_table="u", mode="update")
    assert (report.sent, report.rejected) == (1, 1)
    assert duck.query("SELECT key, status FROM clarify._clarify_push_rejects") == [("per_nope", "404")]


def test_relationship_sets(emu, conn, duck: Any) -> None:
    deal = emu.store.create("deal", {"name": "Big deal"})["id"]
    people = [emu.store.create("person", {"email_addresses": {"items": [f"r{i}@x.com"]}})["id"] for i in range(3)]
    companies = [emu.store.create("company", {"domains": {"items": [f"c{i}.com"]}})["id"] for i in range(2)]
    duck.execute(f"CREATE TABLE {duck.t('links')} (deal TEXT, company TEXT)")
    duck.execute(f"INSERT INTO {duck.t('links')} VALUES ('{deal}', '{companies[0]}'), ('{deal}', '{companies[1]}')")
    sql = f"SELECT deal AS id, company AS target_id FROM {duck.t('links')}"
    report = run_push(conn, duck.options, object="deal", sql=sql, relationship="companies")
    assert (report.new, report.sent) == (1, 1)
    assert sorted(t for _, t in emu.store.links("deal", "companies")) == sorted(companies)
    assert run_push(conn, duck.options, object="deal", sql=sql, relationship="companies").sent == 0
    duck.execute(f"DELETE FROM {duck.t('links')} WHERE company = '{companies[1]}'")
    assert run_push(conn, duck.options, object="deal", sql=sql, relationship="companies").changed == 1
    assert [t for _, t in emu.store.links("deal", "companies")] == [companies[0]]  # many-to-many: replaced
    assert people  # (people exist for a richer emulator state)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_custom_object_upserts_on_its_unique_field(make_emulator, duck: Any, dialect: str) -> None:
    emu = make_emulator(records=0, rate_limit=None, schemas_shape="docs", push_dialect=dialect)
    conn = ClarifyConnection(emu.base_url, emu.workspace, emu.api_key)
    duck.execute(
        f"CREATE TABLE {duck.t('orders')} AS SELECT 'SO-' || i AS order_number, i * 10.5 AS amount, "
        "DATE '2024-01-01' AS order_date FROM range(40) t(i)"
    )
    assert run_push(conn, duck.options, object="c_sales_order", from_table="orders").sent == 40
    duck.execute(f"UPDATE {duck.t('orders')} SET amount = amount + 1 WHERE order_number = 'SO-3'")
    report = run_push(conn, duck.options, object="c_sales_order", from_table="orders", full=True)
    assert (report.changed, report.unchanged, report.sent) == (1, 39, 40)  # full resends everything
    records = emu.store.records("c_sales_order")
    assert len(records) == 40
    assert {r["attributes"]["order_number"]: r["attributes"]["amount"] for r in records}["SO-3"] == 32.5


@pytest.mark.parametrize("dialect", DIALECTS)
def test_batch_size_shrinks_when_refused(make_emulator, duck: Any, dialect: str) -> None:
    emu = make_emulator(records=0, rate_limit=None, bulk_max=25, push_dialect=dialect)
    conn = ClarifyConnection(emu.base_url, emu.workspace, emu.api_key)
    duck.execute(f"CREATE TABLE {duck.t('s')} AS SELECT 'b' || i || '@x.com' AS email_addresses FROM range(300) t(i)")
    report = run_push(conn, duck.options, object="person", from_table="s", batch_size=100)
    assert (report.sent, report.rejected, report.batch_size) == (300, 0, 25)
    assert len(emu.store.records("person")) == 300


def test_bisects_when_errors_name_no_row(emu, conn, duck: Any) -> None:
    """Under the other framework's error shape (no pointers) the batch is bisected down to the bad rows."""
    emu.faults.set(nest_error_shape=True)
    duck.execute(
        f"CREATE TABLE {duck.t('s')} AS SELECT 'n' || i || '@x.com' AS email_addresses, "
        "CASE WHEN i IN (10, 11, 90) THEN 'com_missing' END AS company_id FROM range(100) t(i)"
    )
    report = run_push(conn, duck.options, object="person", from_table="s")
    assert (report.sent, report.rejected) == (97, 3)
    assert sorted(k for (k,) in duck.query("SELECT key FROM clarify._clarify_push_rejects")) == [
        "n10@x.com",
        "n11@x.com",
        "n90@x.com",
    ]
    assert report.requests < 40  # log2-bounded, not one request per row


def test_cli_dry_run_prints_counts_and_a_few_samples(emu, duck: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`push --dry-run` through the CLI: the counts table and a compact table of samples, not a dict per row."""
    from typer.testing import CliRunner

    from pipelines.cli.app import app

    duck.execute(
        f"CREATE TABLE {duck.t('src')} AS SELECT 'task-' || i AS _key, 'Do thing ' || i AS title, "
        "CASE WHEN i = 3 THEN 'todo' ELSE 'Todo' END AS status FROM range(50) AS t(i)"
    )
    for name, value in (("BASE_URL", emu.base_url), ("WORKSPACE", emu.workspace), ("API_KEY", emu.api_key)):
        monkeypatch.setenv(f"CLARIFY_{name}", value)
    argv = ["push", "--object", "task", "--from-table", "src", "--dry-run", "--duckdb-path", duck.options.duckdb_path]
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "samples (first rows only)" in out and "{'key'" not in out
    assert "'todo' is not one of" in out  # the invalid row, with its reason
    assert out.count("task-") <= 5  # the invalid one and four to be sent, not fifty
