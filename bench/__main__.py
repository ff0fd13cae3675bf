"""`make bench` / `python -m bench`: dlt's rest_api source vs `clarify-sync` on the same emulator data.

Sizes and scenarios come from flags or the environment:
    BENCH_RECORDS=1000000 make bench
    BENCH_SCENARIOS=full,noop make bench
    make bench ARGS='--records 20000 --scenarios full,noop,changed'
    BENCH_REPEATS=5 make bench        (every measured scenario runs this many times; default 3)
    BENCH_ONLY=ours make bench        (skip the baseline)
    BENCH_DESTINATION=postgres make bench   (both variants into Postgres, each its own schema; full, noop,
                                             changed and ratelimit; BENCH_POSTGRES_DSN, default the local server)
    BENCH_PUSH_DIALECT=strict make bench    (the emulator's push dialect: match_on, upsert or strict)
Scenarios: full, noop, changed, ratelimit, bare429, transcripts, push, diff, creates, lost, first, timeseries (default:
all, run in that order), and ts_reconcile on request (what `timeseries sync --reconcile` costs when nothing
changed). The time-series scenarios' size: BENCH_TS_ITEMS (default 300) items x BENCH_TS_DAYS (default 365) days;
the transcripts scenario's: BENCH_RECORDINGS (default 1000) recordings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from rich.console import Console

from bench import report
from bench.emulator_proc import EmulatorProcess
from bench.scenarios import ALL_SCENARIOS, DEFAULT_REPEATS, DEFAULT_SCENARIOS, Bench
from bench.warehouse import DEFAULT_POSTGRES_DSN, DESTINATIONS, BenchWarehouse

DEFAULT_RECORDS = 100_000
DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records",
        type=int,
        default=int(os.environ.get("BENCH_RECORDS", DEFAULT_RECORDS)),
        help="records the emulator generates [env: BENCH_RECORDS; default 100000]",
    )
    parser.add_argument(
        "--scenarios",
        default=os.environ.get("BENCH_SCENARIOS", ",".join(DEFAULT_SCENARIOS)),
        help=f"comma-separated, from {','.join(ALL_SCENARIOS)} [env: BENCH_SCENARIOS]",
    )
    parser.add_argument(
        "--only",
        choices=("baseline", "ours"),
        default=os.environ.get("BENCH_ONLY") or None,
        help="run one variant only (the baseline takes minutes at 100k) [env: BENCH_ONLY]",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=int(os.environ.get("BENCH_REPEATS", DEFAULT_REPEATS)),
        help="runs per scenario and variant; the table shows medians and (min-max) "
        f"[env: BENCH_REPEATS; default {DEFAULT_REPEATS}]",
    )
    _warehouse_options(parser)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED", "7")))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("BENCH_OUT", DEFAULT_OUT)),
        help="working folder for DuckDB files, dlt state and logs (wiped per size)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path(os.environ.get("BENCH_RESULTS", report.RESULTS_PATH)),
        help="results file; the entry for this size is replaced",
    )
    parser.add_argument("--timeout", type=float, default=None, help="kill a measured run after this many seconds")
    parser.add_argument(
        "--push-dialect",
        choices=("match_on", "upsert", "strict"),
        default=os.environ.get("BENCH_PUSH_DIALECT", "match_on"),
        help="what the emulator's bulk creates accept: match_on, or refused with creates that upsert (upsert) or "
        "fail on a duplicate (strict) [env: BENCH_PUSH_DIALECT; default match_on]",
    )
    args = parser.parse_args(argv)
    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenario_list if s not in ALL_SCENARIOS]
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(ALL_SCENARIOS)}")
    # Run in the canonical order whatever order they were given in: later ones build on earlier ones.
    args.scenario_list = [s for s in ALL_SCENARIOS if s in args.scenario_list]
    return args


def _warehouse_options(parser: argparse.ArgumentParser) -> None:
    """Where both variants load: DuckDB files, or a Postgres schema each."""
    parser.add_argument(
        "--destination",
        choices=DESTINATIONS,
        default=os.environ.get("BENCH_DESTINATION", "duckdb"),
        help="where both variants load (Postgres: a schema each) [env: BENCH_DESTINATION; default duckdb]",
    )
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get("BENCH_POSTGRES_DSN", DEFAULT_POSTGRES_DSN),
        help="with a password, which dlt insists on (an empty one is fine) [env: BENCH_POSTGRES_DSN]",
    )
    parser.add_argument(
        "--postgres-prefix",
        default=os.environ.get("BENCH_POSTGRES_PREFIX", "bench"),
        help="the variants' Postgres schemas are <prefix>_baseline and <prefix>_ours [env: BENCH_POSTGRES_PREFIX]",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    size_dir = args.out / f"records-{args.records}-{args.destination}"
    if size_dir.exists():
        shutil.rmtree(size_dir)
    size_dir.mkdir(parents=True)
    console.print(
        f"[bold]bench[/bold]: {args.records:,} records into {args.destination}, "
        f"scenarios {','.join(args.scenario_list)}, {args.repeats} run(s) each; "
        f"working folder {size_dir}"
    )
    with EmulatorProcess(args.records, args.seed, size_dir / "logs") as emu:
        console.print(f"emulator at {emu.base_url}, push dialect {args.push_dialect}")
        emu.configure(push_dialect=args.push_dialect)
        bench = Bench(
            emu,
            size_dir,
            args.records,
            timeout_s=args.timeout,
            log=console.print,
            only=args.only,
            repeats=args.repeats,
            warehouse=BenchWarehouse(args.destination, size_dir, args.postgres_dsn, args.postgres_prefix),
            push_dialect=args.push_dialect,
        )
        if bench.ours_note:
            console.print(f"[yellow]ours skipped[/yellow]: {bench.ours_note}")
        console.print(f"objects: {', '.join(f'{k}={v:,}' for k, v in bench.discovery.totals.items())}")
        bench.run(args.scenario_list)
    entry = report.build_entry(
        args.records,
        args.destination,
        args.seed,
        args.scenario_list,
        args.repeats,
        bench.rows,
        bench.checks,
        {
            "objects": bench.discovery.objects,
            "totals": bench.discovery.totals,
            "cursor_path": bench.discovery.cursor_path,
        },
    )
    report.render(entry, console)
    path = report.save(entry, args.results)
    console.print(f"results saved to {path}")
    failed = [r for r in bench.rows if r.status == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
