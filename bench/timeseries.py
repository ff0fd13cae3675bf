"""The time-series scenario: a year of samples for a few hundred items, `clarify-sync timeseries sync` against
the obvious alternative (pyclarify's `data_frame` per window → pandas → dlt, `bench/baseline_pyclarify.py`).

Both read the same items and the same window from the same emulator, each as its own measured process, into
their own DuckDB file, through a request-counting proxy (`request_counter.py`). The emulator's clock is frozen
for the scenario, so both see the same samples; the two files are compared point by point afterwards.
Sizes: BENCH_TS_ITEMS (default 300, the emulator's demo items) and BENCH_TS_DAYS (default 365).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson

from bench.harness import clarify_sync, python_command, remove, run_measured
from bench.request_counter import RequestCounter
from sources.clarify_timeseries.credentials import parse_credentials_file
from sources.clarify_timeseries.resources import select_all
from sources.clarify_timeseries.rpc import RpcClient

SCENARIO = "timeseries"
DEFAULT_ITEMS = 300
DEFAULT_DAYS = 365


def _item_ids(credentials: str, count: int) -> list[str]:
    with RpcClient(parse_credentials_file(credentials)) as rpc:
        ids = sorted(view["id"] for page in select_all(rpc, "clarify.selectItems", {}, None) for view in page)
    return ids[:count]


def _points(path: Path) -> int | None:
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        return int(con.execute("select count(*) from clarify.data_points").fetchone()[0])


def compare_points(ours: Path, baseline: Path) -> dict[str, Any]:
    """Whether both files hold the same (item_id, time, value) rows, in the shape of the CRM id checks."""
    counts = {"ours": _points(ours), "baseline": _points(baseline)}
    same = False
    if None not in counts.values():
        with duckdb.connect() as con:
            con.execute(f"attach '{ours}' as o (read_only)")
            con.execute(f"attach '{baseline}' as b (read_only)")
            rows = "select item_id, time, value from {}.clarify.data_points"
            differ = con.execute(
                f"select count(*) from (({rows.format('o')} except {rows.format('b')}) "
                f"union all ({rows.format('b')} except {rows.format('o')}))"
            ).fetchone()[0]
            same = differ == 0 and counts["ours"] == counts["baseline"]
    return {"same_ids": same, "tables": {"data_points": counts}}


def _proxied(credentials: str, origin: str, path: Path) -> str:
    """A copy of the credentials file whose apiUrl is the counting proxy."""
    doc = orjson.loads(Path(credentials).read_bytes())
    doc["apiUrl"] = f"{origin}/v1/"
    path.write_bytes(orjson.dumps(doc))
    path.chmod(0o600)
    return str(path)


def scenario_timeseries(bench: Any) -> None:
    """Measure both sides; rows and the point-by-point check go into the bench's results."""
    emu = bench.emu
    with RequestCounter(emu.origin) as proxy:
        _measure(bench, proxy, _proxied(emu.settings["CLARIFY_TS_CREDENTIALS"], proxy.origin, bench.out / "ts.json"))


def _measure(bench: Any, proxy: RequestCounter, credentials: str) -> None:
    emu = bench.emu
    items = int(os.environ.get("BENCH_TS_ITEMS", DEFAULT_ITEMS))
    days = int(os.environ.get("BENCH_TS_DAYS", DEFAULT_DAYS))
    now = datetime.now(UTC).replace(microsecond=0)
    emu.http.post("/_emulator/clock", json={"freeze": now.isoformat().replace("+00:00", "Z")})
    try:
        ids = _item_ids(emu.settings["CLARIFY_TS_CREDENTIALS"], items)
        since, until = (now - timedelta(days=days)).isoformat(), (now + timedelta(seconds=1)).isoformat()
        files = {variant: bench.out / f"ts-{variant}.duckdb" for variant in ("ours", "baseline")}
        commands = {
            "ours": [
                *clarify_sync(), "timeseries", "sync", "--credentials", credentials,
                *("--duckdb-path", str(files["ours"])),
                *("--since", since, "--until", until, "--no-signals"),
                *("--items", orjson.dumps({"id": {"$in": ids}}).decode()),
            ],
            "baseline": python_command(
                "-m", "bench.baseline_pyclarify", "--credentials", credentials, "--duckdb-path",
                str(files["baseline"]), "--since", since, "--until", until,
                "--items", ",".join(ids),
            ),
        }  # fmt: skip
        bench.log(f"  {SCENARIO}: {len(ids)} items x {days} days")
        for _ in range(bench.repeats):
            for variant in bench.variants():
                row = _measure_once(bench, proxy, variant, commands[variant], files[variant])
                per_cpu_s = round(row.records / row.cpu_s) if row.records and row.cpu_s else None
                row.extra = {"items": len(ids), "days": days, "points_per_cpu_s": per_cpu_s}
        if {"ours", "baseline"} <= set(bench.variants()):
            bench.checks[SCENARIO] = compare_points(files["ours"], files["baseline"])
    finally:
        emu.http.post("/_emulator/clock", json={"resume": True})


def _measure_once(bench: Any, proxy: RequestCounter, variant: str, command: list[str], file: Path) -> Any:
    """One run from an empty file and fresh dlt state; points and requests come from the file and the proxy."""
    env_variant = f"ts-{variant}"
    for stale in (file, bench.dlt_dir(env_variant)):
        remove(stale)
    before = proxy.total
    row, m = bench.measure(SCENARIO, variant, command, None, env_variant=env_variant)
    run = row.runs[-1]
    run["records"] = _points(file) if m.ok else None
    run["records_per_s"] = run["records"] / m.wall_s if run["records"] and m.wall_s > 0 else None
    run["requests"], run["requests_by_status"] = proxy.total - before, {}
    run["points_per_cpu_s"] = round(run["records"] / m.cpu_s) if run["records"] and m.cpu_s > 0 else None
    row.summarize()
    return row


RECONCILE_SCENARIO = "ts_reconcile"


def scenario_ts_reconcile(bench: Any) -> None:
    """What a reconcile pass costs when nothing changed: one full sync (not measured), then alternately a sync
    without the pass (`baseline`: `--no-reconcile`) and one with it (`ours`: `--reconcile`), each nothing-changed.
    Their difference is the pass: an item listing, the day rollups, the warehouse's day counts, a state load."""
    emu = bench.emu
    with RequestCounter(emu.origin) as proxy:
        credentials = _proxied(emu.settings["CLARIFY_TS_CREDENTIALS"], proxy.origin, bench.out / "ts-r.json")
        now = datetime.now(UTC).replace(microsecond=0)
        emu.http.post("/_emulator/clock", json={"freeze": now.isoformat().replace("+00:00", "Z")})
        try:
            _measure_reconcile(bench, proxy, credentials, now)
        finally:
            emu.http.post("/_emulator/clock", json={"resume": True})


def _measure_reconcile(bench: Any, proxy: RequestCounter, credentials: str, now: datetime) -> None:
    items = int(os.environ.get("BENCH_TS_ITEMS", DEFAULT_ITEMS))
    days = int(os.environ.get("BENCH_TS_DAYS", DEFAULT_DAYS))
    ids = _item_ids(bench.emu.settings["CLARIFY_TS_CREDENTIALS"], items)
    file = bench.out / "ts-reconcile.duckdb"
    sync = [
        *clarify_sync(), "timeseries", "sync", "--credentials", credentials, "--duckdb-path", str(file),
        *("--since", (now - timedelta(days=days)).isoformat(), "--until", (now + timedelta(seconds=1)).isoformat()),
        "--no-signals", "--items", orjson.dumps({"id": {"$in": ids}}).decode(),
    ]  # fmt: skip
    bench.log(f"  {RECONCILE_SCENARIO}: {len(ids)} items x {days} days, first sync (not measured) ...")
    for stale in (file, bench.dlt_dir(RECONCILE_SCENARIO)):
        remove(stale)
    setup = run_measured("ts_reconcile-setup", sync, env=bench.env(RECONCILE_SCENARIO), log_dir=bench.out / "logs")
    if not setup.ok:
        bench.skip(RECONCILE_SCENARIO, "ours", f"the first sync failed: {setup.tail(3)}")
        return
    commands = {"baseline": [*sync, "--no-reconcile"], "ours": [*sync, "--reconcile"]}
    for _ in range(bench.repeats):
        for variant in ("baseline", "ours"):
            before = proxy.total
            row, m = bench.measure(RECONCILE_SCENARIO, variant, commands[variant], 0, env_variant=RECONCILE_SCENARIO)
            row.runs[-1]["requests"], row.runs[-1]["requests_by_status"] = proxy.total - before, {}
            row.summarize()
            row.extra = {"items": len(ids), "days": days, "points": _points(file)}
            if variant == "ours" and m.ok:
                row.note = _reconcile_line(Path(m.stdout_path))


def _reconcile_line(stdout: Path) -> str:
    """The run's own account of the pass (`reconcile: N items x D days compared in C calls; ...`)."""
    text = " ".join(stdout.read_text(errors="replace").split())
    start = text.find("reconcile:")
    return text[start:] if start >= 0 else "no reconcile line in the output"
