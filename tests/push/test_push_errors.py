"""Bad input gives a one-line ClarifySyncError naming the fix, and leaves the state table untouched."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from core.errors import ClarifySyncError
from pipelines.push import run_push
from pipelines.runs_table import RUNS_TABLE
from sources.clarify.connection import ClarifyConnection

SETUP = """CREATE TABLE {t} AS SELECT 'u' || i || '@x.com' AS email_addresses, 'T' || i AS title,
           'T' || i AS not_an_attribute FROM {series}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pushed(emu, conn, warehouse: Any) -> Any:
    """A warehouse with one successful push behind it (so there is state to keep intact)."""
    warehouse.execute(SETUP.format(t=warehouse.t("src"), series=warehouse.series(50)))
    run_push(conn, warehouse.options, object="person", sql=f"SELECT email_addresses, title FROM {warehouse.t('src')}")
    return warehouse


CASES = {
    "unknown object": (dict(object="persn", sql="SELECT email_addresses, title FROM src"), "unknown object 'persn'"),
    "unknown column": (dict(object="person", from_table="src"), "'not_an_attribute' is not an attribute of person"),
    "missing match_on": (dict(object="person", sql="SELECT title FROM src"), "upserts on 'email_addresses'"),
    "sql error": (dict(object="person", sql="SELECT email_addresses, titel FROM src"), "fix the SQL"),
    "bad mapping": (
        dict(object="person", sql="SELECT email_addresses, title FROM src", mapping={"x": "title"}),
        "mapping names column 'x'",
    ),
    "no _key for task": (dict(object="task", sql="SELECT title FROM src"), "add a '_key' column"),
    "system field": (
        dict(object="person", sql="SELECT email_addresses, title AS _updated_by FROM src"),
        "system field",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_state_untouched(emu, conn, pushed: Any, writes, case: str) -> None:
    kwargs, expected = CASES[case]
    if "sql" in kwargs:
        kwargs = {**kwargs, "sql": kwargs["sql"].replace("FROM src", f"FROM {pushed.t('src')}")}
    before, sent = pushed.snapshot(), writes(emu)
    with pytest.raises(ClarifySyncError) as err:
        run_push(conn, pushed.options, **kwargs)
    message = str(err.value)
    assert expected in message and "\n" not in message, message
    assert ":" in message  # "<what>: <fix>"
    assert _without_runs(pushed.snapshot()) == _without_runs(before) and writes(emu) == sent
    [recorded] = _failed_runs(pushed)  # the failed attempt is recorded (its first 200 characters), nothing else
    assert recorded and message.startswith(recorded)


def test_unreachable_api(duck: Any) -> None:
    duck.execute(SETUP.format(t=duck.t("src"), series=duck.series(5)))
    before = duck.snapshot()
    dead = ClarifyConnection(f"http://127.0.0.1:{_free_port()}/v1", "demo", "demo-key")
    with pytest.raises(ClarifySyncError) as err:
        run_push(dead, duck.options, object="person", sql="SELECT email_addresses FROM clarify.src")
    assert "cannot reach" in str(err.value) and "\n" not in str(err.value)
    assert _without_runs(duck.snapshot()) == _without_runs(before)
    [recorded] = _failed_runs(duck)
    assert recorded and str(err.value).startswith(recorded)


def _without_runs(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Everything but the run records (`_clarify_sync_runs`): a failed run is recorded there, on purpose."""
    return {table: rows for table, rows in snapshot.items() if table != RUNS_TABLE}


def _failed_runs(warehouse: Any) -> list[str]:
    return [row[0] for row in warehouse.query(f"SELECT error FROM {warehouse.t(RUNS_TABLE)} WHERE status = 'failed'")]


def test_wrong_key(emu, duck: Any) -> None:
    duck.execute(SETUP.format(t=duck.t("src"), series=duck.series(5)))
    with pytest.raises(ClarifySyncError) as err:
        run_push(
            ClarifyConnection(emu.base_url, emu.workspace, "wrong"),
            duck.options,
            object="person",
            sql="SELECT email_addresses FROM clarify.src",
        )
    assert "CLARIFY_API_KEY" in str(err.value)
    assert "_clarify_push__person" not in duck.tables()


def test_missing_duckdb_file(conn, tmp_path) -> None:
    from core.warehouse.options import WarehouseOptions

    with pytest.raises(ClarifySyncError, match="--duckdb-path"):
        run_push(conn, WarehouseOptions(duckdb_path=str(tmp_path / "nope.duckdb")), object="person", from_table="x")
    assert not (tmp_path / "nope.duckdb").exists()
