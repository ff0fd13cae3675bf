"""Results: the rich table (medians, spreads, ours/baseline ratios), and `bench/results.json` (one entry per size).

Each cell is the median of a row's runs with its spread (min–max) below; ratios divide the medians of the same
invocation, so both variants were measured under the same machine load. Every run is kept in the JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.scenarios import Row

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
RATIO_METRICS = ("wall_s", "cpu_s", "peak_rss_mb", "requests", "records_per_s")


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "dlt": _version("dlt"),
        "duckdb": _version("duckdb"),
        "clarify_sync": _version("clarify-sync"),
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ratios(rows: list[Row]) -> dict[str, dict[str, float | None]]:
    """Per scenario where both variants succeeded: ours / baseline for each metric."""
    by_key = {(r.scenario, r.variant): r for r in rows if r.status == "ok"}
    result: dict[str, dict[str, float | None]] = {}
    for scenario in dict.fromkeys(r.scenario for r in rows):
        ours, base = by_key.get((scenario, "ours")), by_key.get((scenario, "baseline"))
        if not ours or not base:
            continue
        result[scenario] = {metric: _ratio(getattr(ours, metric), getattr(base, metric)) for metric in RATIO_METRICS}
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def build_entry(
    records: int,
    destination: str,
    seed: int,
    scenarios: list[str],
    repeats: int,
    rows: list[Row],
    checks: dict[str, Any],
    discovery: dict[str, Any],
) -> dict[str, Any]:
    return {
        "records": records,
        "destination": destination,
        "seed": seed,
        "scenarios": scenarios,
        "repeats": repeats,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "emulator": discovery,
        "results": [r.as_dict() for r in rows],
        "ratios_ours_over_baseline": ratios(rows),
        "checks": checks,
    }


def save(entry: dict[str, Any], path: Path = RESULTS_PATH) -> Path:
    """Replace the entry for this size and warehouse or append it; entries stay sorted by warehouse and size."""
    data: dict[str, Any] = {"entries": []}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict) and isinstance(loaded.get("entries"), list):
                data = loaded
        except json.JSONDecodeError:
            pass
    entries = [e for e in data["entries"] if _key(e) != _key(entry)]
    entries.append(entry)
    entries.sort(key=_key)
    data["entries"] = entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def _key(entry: dict[str, Any]) -> tuple[str, int]:
    return entry.get("destination", "duckdb"), entry.get("records", 0)


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def render(entry: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(
        title=f"clarify-sync vs dlt rest_api — {entry['records']:,} records into {entry.get('destination', 'duckdb')} "
        f"({entry['machine']['cores']} cores, {entry['machine']['cpu_model']}); "
        f"median of {entry.get('repeats', 1)} run(s), (min–max) below"
    )
    for name, justify in (
        ("scenario", "left"),
        ("variant", "left"),
        ("status", "left"),
        ("wall s", "right"),
        ("CPU s", "right"),
        ("peak RSS MB", "right"),
        ("requests", "right"),
        ("429s", "right"),
        ("records", "right"),
        ("records/s", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    ratio_by_scenario = entry["ratios_ours_over_baseline"]
    last_scenario = None
    for r in entry["results"]:
        if last_scenario is not None and r["scenario"] != last_scenario:
            _ratio_row(table, last_scenario, ratio_by_scenario)
            table.add_section()
        last_scenario = r["scenario"]
        style = {"failed": "red", "skipped": "dim"}.get(r["status"], "")
        spread = r.get("spread", {})
        table.add_row(
            r["scenario"],
            r["variant"],
            r["status"] + (f" ×{len(r['runs'])}" if r.get("runs") else ""),
            _cell(r["wall_s"], spread.get("wall_s")),
            _cell(r["cpu_s"], spread.get("cpu_s")),
            _cell(r["peak_rss_mb"], spread.get("peak_rss_mb"), 0),
            _cell(r["requests"], spread.get("requests"), 0),
            _fmt(r["requests_by_status"].get("429")) if r["requests"] is not None else "—",
            _fmt(r["records"]),
            _cell(r["records_per_s"], spread.get("records_per_s"), 0),
            style=style,
        )
    if last_scenario is not None:
        _ratio_row(table, last_scenario, ratio_by_scenario)
    console.print(table)
    for r in entry["results"]:
        if r["note"]:
            console.print(f"[bold]{r['scenario']}/{r['variant']}[/bold]: {r['note']}")
    for scenario, check in entry["checks"].items():
        mark = "[green]same ids[/green]" if check["same_ids"] else "[red]ids differ[/red]"
        detail = ", ".join(f"{t}: {c['ours']}/{c['baseline']}" for t, c in check["tables"].items())
        console.print(f"{scenario}: {mark} (ours/baseline rows: {detail})")


def _cell(median: float | int | None, spread: list[float] | None, digits: int = 2) -> str:
    """The median, and on a second line the spread when the runs differ."""
    text = _fmt(median, digits)
    if median is None or not spread or spread[0] == spread[1]:
        return text
    return f"{text}\n({spread[0]:,.{digits}f}–{spread[1]:,.{digits}f})"


def _ratio_row(table: Table, scenario: str, ratio_by_scenario: dict[str, dict[str, float | None]]) -> None:
    ratio = ratio_by_scenario.get(scenario)
    if not ratio:
        return
    table.add_row(
        "",
        "ours/baseline",
        "",
        _x(ratio["wall_s"]),
        _x(ratio["cpu_s"]),
        _x(ratio["peak_rss_mb"]),
        _x(ratio["requests"]),
        "",
        "",
        _x(ratio["records_per_s"]),
        style="bold cyan",
    )


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"
