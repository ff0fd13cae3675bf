"""The benchmark scenarios, run against one emulator per size: each measured run is its own child process."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import push, verify
from bench.emulator_proc import EmulatorProcess, summarize_requests
from bench.harness import Measurement, clarify_sync, cli_ok, python_command, remove, run_measured
from bench.warehouse import BenchWarehouse

# Canonical order: the push scenarios create records in the emulator, so they run after every sync scenario
# (`transcripts` adds recordings, which no other scenario reads);
# the time-series scenario reads the emulator's other API and runs last.
ALL_SCENARIOS = (
    "full",
    "noop",
    "changed",
    "ratelimit",
    "bare429",
    "transcripts",
    "push",
    "diff",
    "creates",
    "lost",
    "first",
    "timeseries",
    "ts_reconcile",
)
DEFAULT_SCENARIOS = ALL_SCENARIOS[:-1]  # ts_reconcile: on request (a year of 300 items is minutes to load first)
# The sync scenarios run against either warehouse; the others read and write DuckDB files.
POSTGRES_SCENARIOS = ("full", "noop", "changed", "ratelimit", "bare429")
CHANGED_SHARE = 0.01
RATE_LIMIT = 60  # requests per endpoint per minute in the rate-limited scenario (the live API: 3000)
# Scaled down so the budget binds at bench sizes: 10 per rolling 10 s window per endpoint, so a sync of
# 500-record pages spans many windows (100k records: ~78 pages for person) and every object is paced.
RATE_WINDOW_S = 10.0
# The bare-429 scenario: an independent server's limit (and the reference site's advice), 100 requests a minute for
# the whole workspace, refused with 429s that carry no Retry-After and no X-RateLimit-* (none on any answer).
BARE_LIMIT = 100
BARE_WINDOW_S = 60.0
DEFAULT_REPEATS = 3
# Summarised over a row's runs: the median is the figure, (min, max) the spread.
RUN_METRICS = ("wall_s", "cpu_s", "cpu_user_s", "cpu_sys_s", "peak_rss_mb", "requests", "records_per_s")


@dataclass
class Row:
    """A scenario run by one variant (`baseline` or `ours`), summarised over its repeated runs.

    Every run is kept in `runs`; the metric fields hold the medians of the successful runs and `spread` their
    (min, max): one run per figure is not enough on a shared machine."""

    scenario: str
    variant: str
    status: str  # ok | failed | skipped
    note: str = ""
    wall_s: float | None = None
    cpu_s: float | None = None
    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    peak_rss_mb: float | None = None
    requests: int | None = None
    requests_by_status: dict[str, int] = field(default_factory=dict)
    records: int | None = None
    records_per_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    spread: dict[str, list[float]] = field(default_factory=dict)

    def add_run(self, m: Measurement, requests: int | None, by_status: dict[str, int], records: int | None) -> None:
        self.runs.append(
            {
                "exit_code": m.exit_code,
                "wall_s": m.wall_s,
                "cpu_s": m.cpu_s,
                "cpu_user_s": m.cpu_user_s,
                "cpu_sys_s": m.cpu_sys_s,
                "peak_rss_mb": m.peak_rss_mb,
                "requests": requests,
                "requests_by_status": by_status,
                "records": records,
                "records_per_s": (records / m.wall_s) if records and m.wall_s > 0 else None,
            }
        )
        self.summarize()

    def summarize(self) -> None:
        """Medians and spreads over the successful runs (after a run was added or edited)."""
        ok = [r for r in self.runs if r["exit_code"] == 0]
        self.status = "ok" if ok and len(ok) == len(self.runs) else "failed"
        last = (ok or self.runs)[-1]
        self.records, self.requests_by_status = last["records"], last["requests_by_status"]
        for metric in RUN_METRICS:
            values = [r[metric] for r in ok if r[metric] is not None]
            median = statistics.median(values) if values else None
            setattr(self, metric, round(median) if metric == "requests" and median is not None else median)
            if values:
                self.spread[metric] = [min(values), max(values)]
            else:
                self.spread.pop(metric, None)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("wall_s", "cpu_s", "cpu_user_s", "cpu_sys_s", "peak_rss_mb", "records_per_s"):
            if data[key] is not None:
                data[key] = round(data[key], 3)
        data["spread"] = {k: [round(v, 3) for v in pair] for k, pair in self.spread.items()}
        data["runs"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in self.runs]
        return data


@dataclass
class Discovery:
    """What the bench learns about the emulator's data before measuring anything."""

    objects: dict[str, str]  # slug -> list path (relative to the workspace)
    totals: dict[str, int]  # slug -> meta.total_records
    cursor_path: str

    @property
    def total_records(self) -> int:
        return sum(self.totals.values())


def discover(emu: EmulatorProcess) -> Discovery:
    """Objects from `GET /schemas` (either shape), each one's list path and count, and the cursor path."""
    slugs = _schema_slugs(emu.api_get("schemas").json())
    objects: dict[str, str] = {}
    totals: dict[str, int] = {}
    cursor_path = "_updated_at"
    for slug in slugs:
        for path in (f"objects/{slug}/resources", *(["users"] if slug == "user" else [])):
            response = emu.api_get(path, **{"page[limit]": 1})
            if response.status_code == 200:
                body = response.json()
                objects[slug] = path
                totals[slug] = int((body.get("meta") or {}).get("total_records") or 0)
                for record in body.get("data") or []:
                    if "_updated_at" not in record and "_updated_at" in (record.get("attributes") or {}):
                        cursor_path = "attributes._updated_at"
                break
    return Discovery(objects=objects, totals=totals, cursor_path=cursor_path)


def _schema_slugs(body: Any) -> list[str]:
    entries = body.get("data", []) if isinstance(body, dict) else body
    slugs: list[str] = []
    for entry in entries or []:
        ident = str(entry.get("$id") or entry.get("id") or "")
        attrs = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
        if isinstance(body, dict):  # "docs" shape: every entry is an object, slug in attributes
            slug = attrs.get("slug")
        else:  # "entities" shape: only entities/* are objects, slug is the title
            slug = entry.get("title") if ident.startswith("entities/") else None
        if slug and slug not in slugs:
            slugs.append(str(slug))
    return slugs


class Bench:
    """Runs the selected scenarios for one size and collects `Row`s."""

    def __init__(
        self,
        emu: EmulatorProcess,
        out_dir: Path,
        records: int,
        *,
        timeout_s: float | None = None,
        log: Callable[[str], None] = print,
        only: str | None = None,
        repeats: int = DEFAULT_REPEATS,
        warehouse: BenchWarehouse | None = None,
        push_dialect: str = "match_on",
    ) -> None:
        self.emu = emu
        self.push_dialect = push_dialect  # the emulator's, set by `python -m bench --push-dialect`
        self.warehouse = warehouse or BenchWarehouse("duckdb", out_dir)
        self.only = only
        self.repeats = max(1, repeats)
        self.out = out_dir
        self.records = records
        self.timeout_s = timeout_s
        self.log = log
        self.rows: list[Row] = []
        self.checks: dict[str, Any] = {}
        self.discovery = discover(emu)
        self.synced: set[str] = set()
        self.primed: set[str] = set()
        self.ours_note = ours_unavailable_reason()

    # -- paths and commands ----------------------------------------------------------------------
    def dlt_dir(self, variant: str) -> Path:
        return self.out / f"dlt-{variant}"

    def reset(self, variant: str) -> None:
        """The variant starts from nothing: no warehouse, no local dlt state."""
        self.warehouse.reset(variant)
        remove(self.dlt_dir(variant))

    def env(self, variant: str) -> dict[str, str]:
        # Each variant keeps its pipeline state in its own dlt data dir, away from the user's ~/.dlt.
        return {**self.emu.env(), "DLT_DATA_DIR": str(self.dlt_dir(variant))}

    def baseline_command(self) -> list[str]:
        objects = ",".join(f"{slug}:{path}" for slug, path in self.discovery.objects.items())
        return python_command(
            "-m",
            "bench.baseline_rest_api",
            *self.warehouse.flags("baseline"),
            "--objects",
            objects,
            "--cursor-path",
            self.discovery.cursor_path,
        )

    def ours_command(self, variant: str = "ours") -> list[str]:
        return [*clarify_sync(), "sync", *self.warehouse.flags(variant)]

    def command(self, variant: str) -> list[str]:
        return self.baseline_command() if variant == "baseline" else self.ours_command(variant)

    # -- measuring ---------------------------------------------------------------------------------
    def measure(
        self,
        scenario: str,
        variant: str,
        command: list[str],
        records: int | None,
        env_variant: str | None = None,
    ) -> tuple[Row, Measurement]:
        """One run of `command`, added to the row of (scenario, variant): call it once per repeat."""
        row = next((r for r in self.rows if (r.scenario, r.variant) == (scenario, variant)), None)
        if row is None:
            row = Row(scenario=scenario, variant=variant, status="ok")
            self.rows.append(row)
        self.emu.reset_stats()
        n = len(row.runs) + 1
        self.log(f"  {scenario:<10} {variant:<9} run {n}/{self.repeats} ...")
        m = run_measured(
            f"{scenario}-{variant}-{n}",
            command,
            env=self.env(env_variant or variant),
            log_dir=self.out / "logs",
            timeout_s=self.timeout_s,
        )
        reqs = summarize_requests(self.emu.stats())
        row.add_run(m, reqs["total"], reqs["by_status"], records)
        row.extra["requests_by_endpoint"] = reqs["by_endpoint"]
        if not m.ok:
            row.note = f"run {n}: exit {m.exit_code}: " + (m.tail(3).replace("\n", " | ")[-400:])
        self.log(
            f"  {scenario:<10} {variant:<9} run {n}: {'ok' if m.ok else 'failed'} wall {m.wall_s:.2f}s "
            f"cpu {m.cpu_s:.2f}s rss {m.peak_rss_mb:.0f}MB requests {reqs['total']}"
        )
        return row, m

    def skip(self, scenario: str, variant: str, note: str) -> None:
        self.log(f"  {scenario:<10} {variant:<9} skipped: {note}")
        self.rows.append(Row(scenario=scenario, variant=variant, status="skipped", note=note))

    def variants(self) -> list[str]:
        return [self.only] if self.only else ["baseline", "ours"]

    def ensure_synced(self, variant: str) -> bool:
        """Scenarios after `full` need a synced file; when `full` was not selected, sync unmeasured first."""
        if variant in self.synced:
            return True
        if variant != "baseline" and self.ours_note:
            return False
        m = run_measured(
            f"setup-{variant}",
            self.command(variant),
            env=self.env(variant),
            log_dir=self.out / "logs",
            timeout_s=self.timeout_s,
        )
        if m.ok:
            self.synced.add(variant)
        return m.ok

    # -- scenarios ---------------------------------------------------------------------------------
    def run(self, scenarios: list[str]) -> None:
        for name in scenarios:
            if self.warehouse.destination != "duckdb" and name not in POSTGRES_SCENARIOS:
                for variant in self.variants():
                    self.skip(name, variant, "measured on DuckDB only")
                continue
            getattr(self, f"scenario_{name}")()

    def scenario_full(self) -> None:
        total = self.discovery.total_records
        variants = self.variants()
        if "ours" in variants and self.ours_note:
            self.skip("full", "ours", self.ours_note)
            variants.remove("ours")
        for _ in range(self.repeats):  # variants alternate, so both see the same machine load
            for variant in variants:
                self.reset(variant)
                self.synced.discard(variant)
                row, m = self.measure("full", variant, self.command(variant), total)
                if m.ok:
                    self.synced.add(variant)
                    row.extra["rows"] = verify.row_counts(self.warehouse, variant)
        self.check_same_ids("full")

    def scenario_noop(self) -> None:
        ready = []
        for variant in self.variants():
            if self.ensure_synced(variant):
                ready.append(variant)
            else:
                self.skip("noop", variant, self.ours_note or "the initial sync failed")
        for _ in range(self.repeats):
            for variant in ready:
                self.measure("noop", variant, self.command(variant), 0)
        self.check_same_ids("noop")

    def scenario_changed(self) -> None:
        ready = [v for v in self.variants() if self.ensure_synced(v)]
        for variant in self.variants():
            if variant not in ready:
                self.skip("changed", variant, self.ours_note or "the initial sync failed")
        for _ in range(self.repeats):  # each repeat changes another 1%, then both variants read it
            changed = 0
            for slug in self.discovery.objects:
                result = self.emu.mutate(slug, CHANGED_SHARE)
                changed += _changed_count(result, self.discovery.totals.get(slug, 0))
            # Let the clock move past the mutation so neither side races the writes.
            time.sleep(0.05)
            for variant in ready:
                row, _ = self.measure("changed", variant, self.command(variant), changed)
                row.extra["mutated"] = changed
        self.check_same_ids("changed")

    def scenario_ratelimit(self) -> None:
        if self.ours_note:
            self.skip("ratelimit", "ours", self.ours_note)
            return
        variant = "ours_ratelimit"
        total = discover(self.emu).total_records  # a fresh sync of whatever the emulator holds now
        per_window = max(1, round(RATE_LIMIT * RATE_WINDOW_S / 60))
        before = self.emu.configure()
        usages = []
        for _ in range(self.repeats):
            self.reset(variant)
            self.emu.configure(rate_limit=per_window, rate_window=RATE_WINDOW_S)
            try:
                row, m = self.measure("ratelimit", "ours", self.ours_command(variant), total, env_variant=variant)
                stats = self.emu.stats()
            finally:
                self.emu.configure(rate_limit=None, rate_window=before.get("rate_window", 60.0))
            usages.append(rate_limit_usage(stats, per_window, RATE_WINDOW_S))
        # The figures of the median run by share of the budget used; every run's share is kept.
        usage = sorted(usages, key=lambda u: u["share_used"])[len(usages) // 2]
        row.extra["share_used_per_run"] = [u["share_used"] for u in usages]
        row.extra.update(usage)
        bound = usage["binding_endpoints"]
        row.note = (row.note + " " if row.note else "") + (
            f"{per_window} requests per {RATE_WINDOW_S:g}s window per endpoint (= {RATE_LIMIT}/min), "
            f"{len(bound)} endpoints bound by the budget used "
            f"{usage['min_share_used']:.0%}-{usage['max_share_used']:.0%} of it "
            f"(all {usage['share_used']:.0%}); {usage['responses_429']} x 429 "
            f"({usage['share_429']:.2%} of {usage['requests']} requests)"
        )

    def scenario_bare429(self) -> None:
        """A fresh sync against `BARE_LIMIT` requests a minute for the whole workspace, refused with bare 429s:
        the share refused and the wall time against the time the limit allows (accepted requests at the limit's
        rate; a client may go faster by using a first window's whole budget at once)."""
        if self.ours_note:
            self.skip("bare429", "ours", self.ours_note)
            return
        variant = "ours_bare429"
        found = discover(self.emu)
        total = found.total_records
        before = self.emu.configure()
        limited = {"rate_limit": BARE_LIMIT, "rate_window": BARE_WINDOW_S}
        usages = []
        for _ in range(self.repeats):
            self.reset(variant)
            self.emu.configure(**limited, rate_limit_scope="workspace", rate_limit_headers=False)
            try:
                row, m = self.measure("bare429", "ours", self.ours_command(variant), total, env_variant=variant)
            finally:
                self.emu.configure(
                    rate_limit=None,
                    rate_window=before.get("rate_window", 60.0),
                    rate_limit_scope=before.get("rate_limit_scope", "endpoint"),
                    rate_limit_headers=before.get("rate_limit_headers", True),
                )
            usage = bare_429_usage(row.runs[-1]["requests_by_status"], m.wall_s)
            usage["exact"] = m.ok and verify.row_counts(self.warehouse, variant) == found.totals  # every record, once
            usages.append(usage)
        row.extra["per_run"] = usages
        usage = sorted(usages, key=lambda u: u["share_429"])[len(usages) // 2]
        shares = ", ".join(f"{u['share_429']:.1%}" for u in usages)
        times = ", ".join(f"{u['wall_over_allowed']:.2f}x" for u in usages)
        row.note = (row.note + " " if row.note else "") + (
            f"{BARE_LIMIT} requests per {BARE_WINDOW_S:g}s for the whole workspace, bare 429s; "
            f"row counts equal the emulator's in {sum(u['exact'] for u in usages)} of {len(usages)} runs: "
            f"{usage['responses_429']} x 429 ({usage['share_429']:.1%} of {usage['requests']} requests; each run "
            f"{shares}); wall time / time the limit allows ({usage['accepted']} accepted at {BARE_LIMIT}/min = "
            f"{usage['allowed_s']:.0f}s): {times}"
        )

    def scenario_transcripts(self) -> None:
        from bench import transcripts

        transcripts.scenario_transcripts(self)

    def scenario_push(self) -> None:
        push.scenario_push(self)

    def scenario_diff(self) -> None:
        push.scenario_diff(self)

    def scenario_creates(self) -> None:
        push.scenario_creates(self)

    def scenario_lost(self) -> None:
        push.scenario_lost(self)

    def scenario_first(self) -> None:
        push.scenario_first(self)

    def scenario_timeseries(self) -> None:
        from bench import timeseries

        timeseries.scenario_timeseries(self)

    def scenario_ts_reconcile(self) -> None:
        from bench import timeseries

        timeseries.scenario_ts_reconcile(self)

    # -- checks ------------------------------------------------------------------------------------
    def check_same_ids(self, scenario: str) -> None:
        if not {"baseline", "ours"} <= self.synced:
            return
        result = verify.compare_ids(self.warehouse)
        self.checks[scenario] = result
        self.log(f"  {scenario:<10} ids in both warehouses equal: {result['same_ids']}")


def rate_limit_usage(stats: Any, limit: int, window_s: float) -> dict[str, Any]:
    """Per endpoint (the emulator's budget key, e.g. `GET /objects/person/resources`): the share of the
    allowed rate used, and the 429s.

    Every rolling window holds at most `limit` requests, so over the complete windows an endpoint was busy
    (from its first request; the last, partial window is when it ran out of work, not budget) it can send
    at most `limit` per window: share = requests in those windows / (limit x windows). An endpoint busy for
    less than two windows never had to wait for its budget and is reported but not counted as binding.
    """
    rows = stats.get("endpoints", []) if isinstance(stats, dict) else []
    per_endpoint: dict[str, dict[str, Any]] = {}
    total = total_429 = used = allowed = 0
    for row in rows:
        ticks = {int(k): int(v) for k, v in (row.get("ticks") or {}).items()}
        by_status = {str(k): int(v) for k, v in (row.get("by_status") or {}).items()}
        n = sum(by_status.values())
        n_429 = by_status.get("429", 0)
        total += n
        total_429 += n_429
        if not ticks:
            continue
        tick = float(row.get("tick_s", 0.1))
        first, last = min(ticks), max(ticks)
        span = (last - first + 1) * tick
        windows = int(span // window_s)
        entry: dict[str, Any] = {
            "requests": n,
            "responses_429": n_429,
            "share_429": round(n_429 / n, 4) if n else 0.0,
            "busy_s": round(span, 1),
            "requests_per_minute": round(n / span * 60, 1) if span > 0 else None,
        }
        if windows >= 2:
            in_windows = sum(c for t, c in ticks.items() if (t - first) * tick < windows * window_s)
            accepted = in_windows * (1 - (n_429 / n if n else 0))  # a 429 does not use the budget
            entry["complete_windows"] = windows
            entry["share_used"] = round(accepted / (limit * windows), 3)
            used += round(accepted)
            allowed += limit * windows
        per_endpoint[str(row.get("endpoint"))] = entry
    bound = {ep: e["share_used"] for ep, e in per_endpoint.items() if "share_used" in e}
    return {
        "rate_limit_per_minute": round(limit * 60 / window_s),
        "rate_limit": limit,
        "rate_window_s": window_s,
        "per_endpoint": per_endpoint,
        "binding_endpoints": sorted(bound),
        "share_used": round(used / allowed, 3) if allowed else 0.0,
        "min_share_used": min(bound.values(), default=0.0),
        "max_share_used": max(bound.values(), default=0.0),
        "requests": total,
        "responses_429": total_429,
        "share_429": round(total_429 / total, 4) if total else 0.0,
    }


def bare_429_usage(by_status: dict[str, int], wall_s: float) -> dict[str, Any]:
    """One run of the bare-429 scenario: requests, 429s and their share, and the wall time against the time the
    limit allows for the requests it accepted (`BARE_LIMIT` per `BARE_WINDOW_S`)."""
    requests = sum(by_status.values())
    refused = by_status.get("429", 0)
    accepted = requests - refused
    allowed = accepted * BARE_WINDOW_S / BARE_LIMIT
    return {
        "requests": requests,
        "responses_429": refused,
        "share_429": round(refused / requests, 4) if requests else 0.0,
        "accepted": accepted,
        "allowed_s": round(allowed, 1),
        "wall_s": round(wall_s, 1),
        "wall_over_allowed": round(wall_s / allowed, 3) if allowed else None,
    }


def _changed_count(result: Any, total: int) -> int:
    if isinstance(result, dict):
        for key in ("updated", "changed", "count", "mutated"):
            value = result.get(key)
            if isinstance(value, int):
                return value
            if isinstance(value, list):
                return len(value)
    return round(total * CHANGED_SHARE)


def ours_unavailable_reason() -> str:
    """Empty when `clarify-sync sync` can run (the bench then skips ours and says why), else why not."""
    if not cli_ok("sync", "--help"):
        return "clarify-sync sync --help fails"
    return ""


def dump(rows: list[Row]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2)
