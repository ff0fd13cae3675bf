"""Seeded combinations of the emulator's answer variants and faults, all at once (issue 19): schema shapes, bare
objects, page caps and ignored page sizes, links and `meta` variants, uuid ids, unknown field types, real rate limits
with and without headers, transcripts variants, odd pages, 429s, 5xx, dropped connections, records written while a
sync pages, and a sync killed -9 at a page. After a clean rerun the warehouse must equal the emulator exactly.

A failure names its seed: `CLARIFY_COMBO_SEEDS=<seed> .venv/bin/pytest tests/combo -n 0` replays it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.http import RetryPolicy
from pipelines.sync import run_sync
from tests.combo.draws import Combo, draw
from tests.sync.conftest import assert_synced, connection_for, expected_segments, stored_segments

ROOT = Path(__file__).resolve().parents[2]


def test_a_combination_converges_exactly(make_emu: Any, make_warehouse: Any, combo_seed: int) -> None:
    combo = draw(combo_seed)
    step = "setup"
    try:
        emu = make_emu(**combo.config)
        emu.recordings.create(combo.untranscribed, transcribed=False)
        wh = make_warehouse(combo.warehouse)
        if combo.prior_sync:
            step = "prior sync"
            _sync(emu, wh, combo)
            emu.emulator.mutate("person", update_share=0.1, create=2, delete=2)
        emu.faults.set(**combo.faults)
        step = "killed sync"
        _killed_sync(emu, wh, combo)
        step = "disturbed rerun"
        _sync(emu, wh, combo, reconcile=combo.rerun_reconcile)
        emu.faults.clear()
        step = "clean rerun"
        _sync(emu, wh, combo, reconcile=True)
        step = "comparison"
        assert_synced(emu, wh)
        if combo.transcripts:
            assert stored_segments(wh) == expected_segments(emu), "transcripts differ"
    except Exception as exc:
        raise AssertionError(
            f"combination failed at the {step} ({type(exc).__name__}: {exc}); {combo.describe()}; "
            f"replay: CLARIFY_COMBO_SEEDS={combo.seed} .venv/bin/pytest tests/combo -n 0"
        ) from exc


def _sync(emu: Any, wh: Any, combo: Combo, reconcile: bool | None = None) -> None:
    run_sync(
        connection_for(emu),
        wh,
        page_limit=combo.page_limit,
        reconcile=reconcile,
        retry=RetryPolicy(**combo.retry),
        transcripts=combo.transcripts,
    )


def _killed_sync(emu: Any, wh: Any, combo: Combo) -> int:
    """A sync in a child process, killed -9 by the emulator once it has answered `kill_on_page` pages (a walk of
    fewer pages finishes: exit 0); returns its exit status."""
    args = {
        "base_url": emu.base_url,
        "workspace": emu.workspace,
        "api_key": emu.api_key,
        "warehouse": dataclasses.asdict(wh),
        "page_limit": combo.page_limit,
        "parallel": True,
        "reconcile": combo.rerun_reconcile,
        "retry": combo.retry,
        "transcripts": combo.transcripts,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sync._child", json.dumps(args)],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if combo.kill_on_page is not None:
            emu.faults.set(kill_on_page=combo.kill_on_page, kill_pid=child.pid)
        out, err = child.communicate(timeout=180)
    finally:
        if child.poll() is None:
            child.kill()
    emu.faults.set(kill_on_page=0, kill_pid=0)
    assert child.returncode in (0, -9), f"the child sync exited {child.returncode}: {(out + err)[-1500:]}"
    return child.returncode
