"""Fixtures shared across the test suite; each section belongs to one part of the project."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

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
