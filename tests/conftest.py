"""Fixtures shared across the test suite; each section belongs to one part of the project."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

# --- emulator: running local Clarify APIs (used by the emulator and the sync tests) ----------------


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., object]]:
    """`make(**EmulatorConfig fields) -> emulator.RunningEmulator`; every one made is stopped at teardown.

    Each has its own port on 127.0.0.1 and its own copy of the demo data:
    `emu.base_url`, `emu.workspace`, `emu.api_key`, `emu.clock`, `emu.faults`, `emu.store`, `emu.stats`.
    """
    from emulator import EmulatorConfig, run_in_thread

    with ExitStack() as stack:

        def make(**config: object) -> object:
            return stack.enter_context(run_in_thread(EmulatorConfig(**config)))  # type: ignore[arg-type]

        yield make


# --- crashes: a client process the emulator kills at a chosen moment (push, OAuth refresh) -----------------


def killed_once_committed(emu: Any, child: subprocess.Popen[str], path: str, kill_on: int = 1) -> str:
    """Arm the emulator to SIGKILL `child` (waiting for a line on its stdin) once its `kill_on`-th request to `path`
    has been committed, before the answer leaves; let it go, check it died so, and return its stderr."""
    try:
        emu.faults.set(kill_on_commit=kill_on, kill_pid=child.pid, only_paths=[path])
        _, err = child.communicate("go\n", timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -9, err[-2000:]
    emu.faults.clear()
    return err
