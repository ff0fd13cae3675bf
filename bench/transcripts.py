"""The transcripts scenario: `clarify-sync sync --transcripts` reading the transcripts of BENCH_RECORDINGS (default
1,000) recordings, then the same command again with nothing changed (which must ask for none).

The emulator makes the recordings (transcribed, on its first meetings) once; each repeat starts from a warehouse that
holds every object but no transcript (an unmeasured `sync`), so the measured run is the transcripts step plus one
first-page request per object. Requests are counted by the emulator: artifacts calls and storage downloads apart.
"""

from __future__ import annotations

import os
from typing import Any

from bench.harness import run_measured

SCENARIO = "transcripts"
DEFAULT_RECORDINGS = 1_000
VARIANT = "ours_transcripts"
BATCH = 250
ARTIFACTS = "POST /meetings/{meeting}/recordings/{id}/artifacts"
DOWNLOADS = "GET storage:/recordings/{meeting}/{id}/{file}"


def scenario_transcripts(bench: Any) -> None:
    """`bench` is the running `bench.scenarios.Bench`."""
    if bench.ours_note:
        bench.skip(SCENARIO, "ours", bench.ours_note)
        return
    count = int(os.environ.get("BENCH_RECORDINGS", DEFAULT_RECORDINGS))
    # Made over time, as recordings are: a batch a page long, then past the lag window. (A single instant shared by
    # more recordings than a page is re-read by every run, as any such tie group: not what this scenario measures.)
    for start in range(0, count, BATCH):
        bench.emu.http.post("/_emulator/recordings", json={"create": min(BATCH, count - start)}).raise_for_status()
        bench.emu.http.post("/_emulator/clock", json={"advance": 600}).raise_for_status()
    command = [*bench.ours_command(VARIANT), "--transcripts"]
    for _ in range(bench.repeats):
        bench.reset(VARIANT)
        setup = run_measured(
            "setup-transcripts",
            bench.ours_command(VARIANT),
            env=bench.env(VARIANT),
            log_dir=bench.out / "logs",
            timeout_s=bench.timeout_s,
        )
        if not setup.ok:
            bench.skip(SCENARIO, "ours", "the sync before the transcripts failed")
            return
        for scenario, records in ((SCENARIO, count), (f"{SCENARIO}-unchanged", 0)):
            row, _ = bench.measure(scenario, "ours", command, records, env_variant=VARIANT)
            _calls(row)
    for row in bench.rows:
        if row.scenario == SCENARIO:
            row.note = f"{count:,} recordings: one artifacts call and one download each, the video never"


def _calls(row: Any) -> None:
    """Artifacts calls and downloads of the last run, beside its request total."""
    by_endpoint = row.extra.get("requests_by_endpoint", {})
    runs = row.extra.setdefault("calls_per_run", [])
    runs.append({"artifacts": by_endpoint.get(ARTIFACTS, 0), "downloads": by_endpoint.get(DOWNLOADS, 0)})
