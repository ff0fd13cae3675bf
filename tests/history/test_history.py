"""History mode: every version of a deal in `deal_history`, exact through incremental runs, deletions retired,
and the README's "how long did deals sit in each stage" query answers from it (DuckDB and Postgres)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.sync import run_sync
from sources.clarify.controls import load_controls
from tests.sync.conftest import WAREHOUSES, connection_for, query

README = Path(__file__).resolve().parents[2] / "README.md"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = 86400


def readme_query(title: str) -> str:
    section = README.read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)[0]


def _ts(value: Any) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_history_keeps_versions_and_the_readme_query_measures_stages(
    make_emu: Any, make_warehouse: Any, kind: str
) -> None:
    controls = load_controls(history=["deal"])
    emu, wh = make_emu(), make_warehouse(kind)

    def sync(**options: Any) -> None:
        run_sync(connection_for(emu), wh, controls=controls, **options)

    deals = emu.store.records("deal")
    moved, gone = deals[0]["id"], deals[1]["id"]

    emu.clock.freeze(T0.isoformat())
    emu.store.update("deal", moved, {"stage": "Lead"})
    sync()
    first = {r["id"]: r for r in query(wh, "SELECT * FROM {ds}.deal_history")}
    assert set(first) == {d["id"] for d in deals}  # one version per deal, all active
    assert all(r["_dlt_valid_to"] is None for r in first.values())

    emu.clock.advance(2 * DAY)
    emu.store.update("deal", moved, {"stage": "Qualified"})
    sync(reconcile=False)
    emu.clock.advance(1 * DAY)
    emu.store.update("deal", moved, {"amount": 1234.5})  # a new version, same stage
    sync(reconcile=False)
    emu.clock.advance(3 * DAY)
    emu.store.update("deal", moved, {"stage": "Proposal"})
    sync(reconcile=False)
    # Re-reading the lag window (the last change is inside it) adds no version.
    sync(reconcile=False, since=T0.isoformat())
    emu.store.delete("deal", gone)
    sync(reconcile=True)

    versions = query(wh, "SELECT * FROM {ds}.deal_history WHERE id = '" + moved + "' ORDER BY _updated_at")
    # The first sync saw the deal as it was at T0: history starts there.
    assert [v["stage"] for v in versions] == ["Lead", "Qualified", "Qualified", "Proposal"]
    assert [v["_dlt_valid_to"] is None for v in versions] == [False] * 3 + [True]
    assert len({v["_version"] for v in versions}) == 4
    # Each version carries its link items (the relationship) as a JSON list.
    linked = sorted(b for a, b in emu.store.links("deal", "companies") if a == moved)
    assert sorted(json.loads(versions[-1]["companies"])) == linked
    # Untouched deals still have exactly one, active, version; the deleted one is retired, not removed.
    counts = query(wh, "SELECT id, count(*) AS n, count(_dlt_valid_to) AS retired FROM {ds}.deal_history GROUP BY id")
    by_id = {r["id"]: (r["n"], r["retired"]) for r in counts}
    assert by_id[gone] == (1, 1)
    assert all(v == (1, 0) for k, v in by_id.items() if k not in (moved, gone))
    # The current-state table is unchanged by history mode.
    assert query(wh, "SELECT count(*) AS n FROM {ds}.deal")[0]["n"] == len(deals) - 1

    stints = query(wh, readme_query("History mode").replace("clarify.", "{ds}."))
    mine = [
        (s["stage"], _ts(s["entered_at"]), s["left_at"] and _ts(s["left_at"]), s["days"])
        for s in stints
        if s["deal_id"] == moved
    ]
    assert mine == [
        ("Lead", T0, T0 + timedelta(days=2), Decimal("2.00")),
        ("Qualified", T0 + timedelta(days=2), T0 + timedelta(days=6), Decimal("4.00")),
        ("Proposal", T0 + timedelta(days=6), None, None),
    ]
    (deleted,) = [s for s in stints if s["deal_id"] == gone]
    assert deleted["left_at"] is not None  # its stint ended when the reconcile pass found it gone
