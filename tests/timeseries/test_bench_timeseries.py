"""`make bench`'s time-series scenario end to end at a tiny size: structure and agreement only, never a timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main


@pytest.mark.timeout(300)  # a hang guard on a machine that may be loaded
def test_timeseries_scenario_agrees_with_the_pyclarify_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_TS_ITEMS", "6")
    monkeypatch.setenv("BENCH_TS_DAYS", "3")
    results = tmp_path / "results.json"
    out = ["--out", str(tmp_path / "out"), "--results", str(results), "--timeout", "240"]
    assert main(["--records", "50", "--scenarios", "timeseries", *out]) == 0
    (entry,) = json.loads(results.read_text())["entries"]
    rows = {r["variant"]: r for r in entry["results"] if r["scenario"] == "timeseries"}
    assert set(rows) == {"baseline", "ours"}
    for row in rows.values():
        assert row["status"] == "ok", row["note"]
        assert row["records"] > 0 and row["requests"] > 0 and row["extra"]["items"] == 6
    assert rows["ours"]["records"] == rows["baseline"]["records"]
    assert entry["checks"]["timeseries"]["same_ids"]
