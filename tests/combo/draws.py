"""One combination of the emulator's answer variants and faults, drawn from a seed (the same seed, the same draw)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tests.sync.conftest import PG_OK

BARE_CANDIDATES = ("user", "meeting", "task", "deal", "company")
CHURNED = ("person", "company", "deal", "task", "c_sales_order", "user", "meeting")


@dataclass
class Combo:
    seed: int
    config: dict[str, Any] = field(default_factory=dict)  # EmulatorConfig fields
    faults: dict[str, Any] = field(default_factory=dict)  # FaultSettings fields, while the sync runs are disturbed
    retry: dict[str, Any] = field(default_factory=dict)  # RetryPolicy fields
    kill_on_page: int | None = None  # the first disturbed run is killed -9 once this page is answered
    warehouse: str = "duckdb"
    page_limit: int = 500
    prior_sync: bool = False  # a clean sync (then changes) before the disturbed runs
    rerun_reconcile: bool | None = None
    transcripts: bool = False
    untranscribed: int = 0  # recordings created without a transcript yet

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in vars(self).items() if k != "seed"]
        return f"seed {self.seed}: " + ", ".join(parts)


def draw(seed: int) -> Combo:
    rng = random.Random(seed)
    combo = Combo(seed)
    combo.transcripts = rng.random() < 0.3
    combo.config = _config(rng, combo.transcripts)
    combo.faults = _faults(rng, combo.transcripts)
    combo.retry = {"backoff_base": 0.005, "backoff_max": 0.02, "retry_after_max": 1.0, "max_attempts": 10}
    if combo.config.get("rate_limit") is not None and combo.config.get("rate_window") == 1.0:
        combo.retry["rate_window"] = 1.0
    combo.kill_on_page = rng.randint(1, 14) if rng.random() < 0.8 else None
    combo.warehouse = "postgres" if PG_OK and rng.random() < 0.25 else "duckdb"
    combo.page_limit = rng.choice((10, 25, 60, 500))
    combo.prior_sync = rng.random() < 0.5
    combo.rerun_reconcile = rng.choice((None, True, False))
    combo.untranscribed = rng.randint(0, 2) if combo.transcripts else 0
    return combo


def _config(rng: random.Random, transcripts: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "records": rng.choice((40, 80, 150)),  # small workspaces: fifty combinations run in `make test`
        "seed": rng.randrange(1000),
        "bare_objects": frozenset(rng.sample(BARE_CANDIDATES, rng.randint(0, 3))),
        "schemas_shape": rng.choice(("entities", "docs", "keyed")),
        # Not below 25: every source's smallest default page; a refusal naming no size is tried down to 25 only.
        "page_cap": rng.choice((25, 50, 500)),
        "over_page_cap": rng.choice(("refuse", "refuse-unnamed", "clamp")),
        "ignore_page_limit": rng.random() < 0.15,
        "links": rng.choice(("full", "null", "absent")),
        "meta": rng.random() < 0.8,
        "uuid_ids": not transcripts and rng.random() < 0.2,  # artifacts are asked by stored ids
        "unknown_field_types": rng.random() < 0.2,
    }
    limit = rng.choice(("default", "bare", "headers"))
    if limit != "default":  # a small real limit per second, with or without rate-limit headers
        config.update(
            rate_limit=rng.choice((40, 80)),
            rate_window=1.0,
            rate_limit_headers=limit == "headers",
            rate_limit_scope=rng.choice(("endpoint", "workspace")),
        )
    if transcripts:
        config.update(
            recordings=rng.randint(1, 4),
            artifact_keys=rng.choice(("camel", "snake")),
            transcript_format=rng.choice(("vtt", "json", "mixed")),
            not_transcribed=rng.choice(("404", "null")),
            recording_meeting=rng.choice(("attribute", "relationship")),
        )
        if rng.random() < 0.3:
            config["bare_objects"] = config["bare_objects"] | {"meeting_recording"}
    return config


def _faults(rng: random.Random, transcripts: bool) -> dict[str, Any]:
    churned = [o for o in CHURNED if not (transcripts and o == "meeting")]  # recordings hang on meetings
    return {
        "seed": rng.randrange(1000),
        "odd_page": rng.randint(0, 2),
        "ignore_cursor_filter": rng.random() < 0.1,  # until the clean rerun: cursorless, then incremental again
        "ignore_sort": rng.random() < 0.1,
        "burst_429": rng.randint(0, 2),
        "burst_retry_after": rng.random() < 0.5,
        "retry_after_seconds": 0,
        "error_rate": rng.choice((0.0, 0.0, 0.03)),
        "error_status": rng.choice((500, 502, 503)),
        "html_errors": rng.random() < 0.5,
        "drop_connection": rng.randint(0, 2),
        "stray_next_on_last_page": rng.random() < 0.3,
        "next_on_empty_page": rng.random() < 0.3,
        "http_next_links": rng.random() < 0.3,
        "churn_every": rng.choice((0, 1, 2, 4)),
        "churn_objects": rng.sample(churned, rng.randint(2, 5)),
    }
