"""`python -m bench.floor`: the machine's floor for a first load, to print beside `clarify-sync`'s own figure.

The least work a first load of the emulator's records can do on this machine: the pages are already in memory
(read over HTTP before the clock starts), then orjson parses them, a plain loop flattens each record into one
dict (attributes at the top, an object attribute one level down as `<name>__<part>`, lists and relationships as
JSON text), `pa.Table.from_pylist` makes one table per object and one `CREATE TABLE AS` puts it into a DuckDB
file. No child tables, no type coercion, no state, no HTTP: what `clarify-sync sync` does on top of this is the
price of an exact, resumable, typed load. CPU is this process's own (DuckDB's threads included, the emulator's
not); the figure is records per CPU-second of the timed part.

    python -m bench.floor                       (100,000 records, seed 7: the bench's data)
    python -m bench.floor --records 1000000 --repeats 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from bench.emulator_proc import EmulatorProcess
from bench.scenarios import discover

PAGE_LIMIT = 500  # the emulator's largest page, as the sync reads it


@dataclass
class FloorRun:
    records: int
    cpu_s: float
    wall_s: float

    @property
    def per_cpu_s(self) -> float:
        return self.records / self.cpu_s if self.cpu_s > 0 else 0.0


def read_pages(emu: EmulatorProcess) -> dict[str, list[bytes]]:
    """Every object's list pages as the raw bytes the API sent (untimed)."""
    pages: dict[str, list[bytes]] = {}
    for slug, path in discover(emu).objects.items():
        offset, bodies = 0, []
        while True:
            response = emu.api_get(path, **{"page[limit]": PAGE_LIMIT, "page[offset]": offset})
            response.raise_for_status()
            bodies.append(response.content)
            count = len(orjson.loads(response.content).get("data") or [])
            offset += count
            if count < PAGE_LIMIT:
                break
        pages[slug] = bodies
    return pages


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One row per record: no child tables, no typing beyond what JSON gave."""
    row: dict[str, Any] = {"id": record.get("id")}
    for name, value in (record.get("attributes") or {}).items():
        if isinstance(value, dict):
            for part, inner in value.items():
                row[f"{name}__{part}"] = inner if not isinstance(inner, dict | list) else orjson.dumps(inner).decode()
        elif isinstance(value, list):
            row[name] = orjson.dumps(value).decode()
        else:
            row[name] = value
    relationships = record.get("relationships")
    if relationships:
        row["relationships"] = orjson.dumps(relationships).decode()
    return row


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """`from_pylist`; a column whose values arrow cannot put in one type (a word among numbers) becomes text."""
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = list(dict.fromkeys(k for row in rows for k in row))
        columns = {}
        for name in names:
            values = [row.get(name) for row in rows]
            try:
                columns[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                columns[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        return pa.table(columns)


def load_once(pages: dict[str, list[bytes]], db_path: Path) -> FloorRun:
    """The timed part: parse, flatten, one arrow table and one `CREATE TABLE AS` per object."""
    cpu, wall = time.process_time(), time.perf_counter()
    records = 0
    with duckdb.connect(str(db_path)) as con:
        for slug, bodies in pages.items():
            rows = [flatten(r) for body in bodies for r in orjson.loads(body).get("data") or []]
            if not rows:
                continue
            table = to_table(rows)
            records += len(rows)
            con.register("page_table", table)
            con.execute(f'CREATE TABLE "{slug}" AS SELECT * FROM page_table')
            con.unregister("page_table")
    return FloorRun(records, time.process_time() - cpu, time.perf_counter() - wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records the emulator generates")
    parser.add_argument("--seed", type=int, default=7, help="the emulator's seed (the bench's default: 7)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is the figure")
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeats < 1:
        parser.error("--records and --repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="clarify-floor-") as work:
        with EmulatorProcess(args.records, args.seed, Path(work) / "logs") as emu:
            pages = read_pages(emu)
        runs = []
        for i in range(args.repeats):
            run = load_once(pages, Path(work) / f"floor-{i}.duckdb")
            runs.append(run)
            print(f"run {i + 1}: {run.records:,} records, CPU {run.cpu_s:.2f} s, wall {run.wall_s:.2f} s")
    per_cpu = statistics.median(r.per_cpu_s for r in runs)
    print(f"floor: {per_cpu:,.0f} records per CPU-second (median of {len(runs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
