"""Round trip: sync the emulator into the warehouse, compute a column in SQL, push it, sync again.

The pushed column changed in Clarify and in the synced table; nothing else moved: every other attribute of
every record is as before, and only the pushed records' `_updated_at` (and `_updated_by`, the writer) moved.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.warehouse.options import WarehouseOptions
from pipelines.push import run_push
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection
from tests.sync.conftest import WAREHOUSES, query

PUSHED = 40
WRITER_FIELDS = {"_updated_at", "_updated_by"}
SCORES = """CREATE TABLE {ds}.scores AS
SELECT p.id, CAST(1000 + 10 * count(e.value) + length(coalesce(p.name__full_name, '')) AS DOUBLE PRECISION)
       AS lead_score
FROM {ds}.person AS p LEFT JOIN {ds}.person__email_addresses AS e ON e.person_id = p.id
WHERE p.id IN (SELECT id FROM {ds}.person ORDER BY id LIMIT {n})
GROUP BY p.id, p.name__full_name"""


def _execute(wh: WarehouseOptions, sql: str) -> None:
    sql = sql.replace("{ds}", wh.dataset)
    if wh.destination == "duckdb":
        import duckdb

        with duckdb.connect(wh.duckdb_path) as con:
            con.execute(sql)
        return
    import psycopg2

    con = psycopg2.connect(wh.postgres_dsn)
    try:
        with con, con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()


def _records(emu: Any) -> dict[str, dict[str, dict[str, Any]]]:
    objects = ("person", "company", "deal", "meeting", "task")
    return {o: {str(r["id"]): dict(r["attributes"]) for r in emu.store.records(o)} for o in objects}


def _tables(wh: WarehouseOptions) -> dict[str, dict[str, dict[str, Any]]]:
    """Every synced table (not dlt's, not the push's, not ours), rows by a stable identity, dlt columns dropped."""
    names = [
        r["table_name"]
        for r in query(wh, "SELECT table_name FROM information_schema.tables WHERE table_schema = '{ds}'")
        if not r["table_name"].startswith("_") and r["table_name"] != "scores"
    ]
    out = {}
    for name in names:
        rows = query(wh, f'SELECT * FROM {{ds}}."{name}"')
        keyed = {}
        for row in rows:
            clean = {k: v for k, v in row.items() if not k.startswith("_dlt")}
            identity = sorted((k, repr(v)) for k, v in clean.items() if k not in WRITER_FIELDS | {"lead_score"})
            keyed[repr(identity)] = clean
        out[name] = keyed
    return out


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_sync_push_sync_moves_only_the_pushed_column(emulator_factory: Any, make_warehouse: Any, kind: str) -> None:
    emu = emulator_factory(records=300, rate_limit=None)
    conn = ClarifyConnection(emu.base_url, emu.workspace, emu.api_key)
    wh = make_warehouse(kind)
    run_sync(conn, wh)
    before_api, before_wh = _records(emu), _tables(wh)

    _execute(wh, SCORES.replace("{n}", str(PUSHED)))
    expected = {r["id"]: r["lead_score"] for r in query(wh, "SELECT id, lead_score FROM {ds}.scores")}
    assert len(expected) == PUSHED
    assert all(before_api["person"][rid].get("lead_score") != score for rid, score in expected.items())

    emu.clock.advance(3600)  # the push's writes fall after the sync cursor, beyond its lag window
    report = run_push(conn, wh, object="person", mode="update", sql=f"SELECT id, lead_score FROM {wh.dataset}.scores")
    assert (report.sent, report.rejected, report.invalid) == (PUSHED, 0, 0)

    # In Clarify: the pushed people have the score; nothing else moved anywhere.
    after_api = _records(emu)
    for obj, records in before_api.items():
        assert after_api[obj].keys() == records.keys()
        for rid, attrs in records.items():
            now = after_api[obj][rid]
            if obj == "person" and rid in expected:
                assert now["lead_score"] == expected[rid]
                assert now["_updated_at"] > attrs["_updated_at"]
                moved = {k for k in now if now[k] != attrs.get(k)}
                assert moved <= {"lead_score"} | WRITER_FIELDS, (rid, moved)
            else:
                assert now == attrs, (obj, rid)

    run_sync(conn, wh)
    synced = {r["id"]: r for r in query(wh, "SELECT * FROM {ds}.person")}
    for rid, score in expected.items():
        assert float(synced[rid]["lead_score"]) == score
    # Every other table and column is as the first sync left it (person rows: all but the pushed columns).
    after_wh = _tables(wh)
    assert after_wh.keys() == before_wh.keys()
    for name, rows in before_wh.items():
        assert after_wh[name].keys() == rows.keys(), name
        for key, row in rows.items():
            now = after_wh[name][key]
            if name == "person" and row["id"] in expected:
                assert now["_updated_at"] != row["_updated_at"]
                continue
            assert now == row, (name, row.get("id"))

    # And a second push finds nothing to send: no request at all.
    again = run_push(conn, wh, object="person", mode="update", sql=f"SELECT id, lead_score FROM {wh.dataset}.scores")
    assert (again.sent, again.unchanged, again.requests) == (0, PUSHED, 0)
