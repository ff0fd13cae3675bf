"""`make bench` end to end at a tiny size: structure and agreement only, never a timing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.scenarios import ours_unavailable_reason
from tests.sync.conftest import PG_DSN, PG_OK

REPO_ROOT = Path(__file__).resolve().parents[2]

needs_emulator = pytest.mark.skipif(
    not (REPO_ROOT / "emulator" / "__main__.py").exists(), reason="the emulator cannot be started yet"
)

MACHINE_KEYS = {"cores", "ram_gb", "cpu_model", "python", "dlt", "duckdb"}
ROW_KEYS = {
    "scenario",
    "variant",
    "status",
    "wall_s",
    "cpu_s",
    "peak_rss_mb",
    "requests",
    "records",
    "records_per_s",
}


@needs_emulator
@pytest.mark.timeout(300)  # a hang guard: two variants, two runs each, on a machine that may be loaded
def test_bench_smoke(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    main(
        [
            "--records",
            "300",
            "--scenarios",
            "full,noop",
            "--out",
            str(tmp_path / "out"),
            "--results",
            str(results),
            "--timeout",
            "60",
            "--repeats",
            "2",
        ]
    )

    data = json.loads(results.read_text())
    (entry,) = data["entries"]
    assert entry["records"] == 300
    assert entry["repeats"] == 2
    assert MACHINE_KEYS <= set(entry["machine"])
    rows = {(r["scenario"], r["variant"]): r for r in entry["results"]}
    assert set(rows) == {("full", "baseline"), ("full", "ours"), ("noop", "baseline"), ("noop", "ours")}
    for row in rows.values():
        assert ROW_KEYS <= set(row)
        if row["status"] != "skipped":  # every run kept; the figure is their median, inside their spread
            assert len(row["runs"]) == 2
            low, high = row["spread"]["wall_s"]
            assert low <= row["wall_s"] <= high
            assert sorted(r["wall_s"] for r in row["runs"]) == [low, high]

    for scenario in ("full", "noop"):
        base = rows[(scenario, "baseline")]
        assert base["status"] == "ok", base["note"]
        assert base["requests"] > 0 and base["cpu_s"] > 0 and base["peak_rss_mb"] > 0
    assert rows[("full", "baseline")]["records"] == sum(entry["emulator"]["totals"].values())

    reason = ours_unavailable_reason()
    if reason:
        assert rows[("full", "ours")]["status"] == "skipped"
        pytest.skip(f"ours not measured: {reason}")
    for scenario in ("full", "noop"):
        ours = rows[(scenario, "ours")]
        assert ours["status"] == "ok", ours["note"]
        check = entry["checks"][scenario]
        assert check["same_ids"], check
    assert entry["ratios_ours_over_baseline"]["full"]["wall_s"] is not None


@needs_emulator
@pytest.mark.skipif(not PG_OK, reason="no Postgres")
@pytest.mark.timeout(300)
def test_bench_smoke_on_postgres(tmp_path: Path) -> None:
    """Both variants into Postgres, each in its own schema; the other scenarios say they need DuckDB."""
    import psycopg2

    prefix = f"bench_t_{uuid.uuid4().hex[:8]}"
    results = tmp_path / "results.json"
    args = ["--records", "300", "--scenarios", "full,noop,push", "--out", str(tmp_path / "out")]
    dsn = PG_DSN.replace("postgres@", "postgres:@")  # dlt's postgres destination insists on a password
    try:
        main(
            [
                *args,
                "--results",
                str(results),
                "--repeats",
                "1",
                "--destination",
                "postgres",
                "--postgres-dsn",
                dsn,
                "--postgres-prefix",
                prefix,
            ]
        )
    finally:
        con = psycopg2.connect(PG_DSN)
        con.autocommit = True
        with con.cursor() as cur:
            for schema in ("baseline", "ours", "baseline_staging", "ours_staging"):
                cur.execute(f'DROP SCHEMA IF EXISTS "{prefix}_{schema}" CASCADE')
        con.close()
    (entry,) = json.loads(results.read_text())["entries"]
    assert entry["destination"] == "postgres"
    rows = {(r["scenario"], r["variant"]): r for r in entry["results"]}
    for key in [("full", "baseline"), ("full", "ours"), ("noop", "baseline"), ("noop", "ours")]:
        assert rows[key]["status"] == "ok", rows[key]["note"]
    assert rows[("push", "ours")]["status"] == "skipped"
    assert entry["checks"]["full"]["same_ids"] and entry["checks"]["noop"]["same_ids"]


def test_row_summarizes_runs_as_median_and_spread() -> None:
    from bench.harness import Measurement
    from bench.scenarios import Row

    row = Row(scenario="noop", variant="ours", status="ok")
    for wall, rss in ((3.0, 100.0), (1.0, 300.0), (2.0, 200.0)):
        m = Measurement("x", [], 0, wall, wall / 2, 0.0, rss, "", "")
        row.add_run(m, requests=8, by_status={"200": 8}, records=1000)
    assert (row.wall_s, row.peak_rss_mb, row.requests) == (2.0, 200.0, 8)
    assert row.spread["wall_s"] == [1.0, 3.0] and row.records_per_s == 500.0
    row.add_run(Measurement("x", [], 1, 9.0, 9.0, 0.0, 900.0, "", ""), None, {}, 1000)
    assert row.status == "failed" and row.wall_s == 2.0  # a failed run is kept but never becomes a figure


def test_results_entry_is_replaced_per_size(tmp_path: Path) -> None:
    from bench import report

    path = tmp_path / "results.json"
    report.save({"records": 300, "run": 1}, path)  # entries from before the destination was recorded: DuckDB
    report.save({"records": 100, "destination": "duckdb", "run": 1}, path)
    report.save({"records": 300, "destination": "postgres", "run": 1}, path)
    report.save({"records": 300, "destination": "duckdb", "run": 2}, path)
    entries = json.loads(path.read_text())["entries"]
    assert [(e["records"], e.get("destination"), e["run"]) for e in entries] == [
        (100, "duckdb", 1),
        (300, "duckdb", 2),
        (300, "postgres", 1),
    ]
