"""Shared emulator fixtures: one read-mostly server per session, fresh ones for tests that write."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from emulator import EmulatorConfig, RunningEmulator, run_in_thread

WORKSPACE = "acme"
API_KEY = "test-key"


def client_for(emu: RunningEmulator, **kwargs: object) -> httpx.Client:
    return httpx.Client(
        base_url=f"{emu.base_url}/workspaces/{emu.workspace}",
        headers={"Authorization": f"api-key {emu.api_key}"},
        timeout=30,
        **kwargs,
    )  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("emulator-cache"))


@pytest.fixture(scope="session")
def shared(cache_dir: str) -> Iterator[RunningEmulator]:
    """Read-only tests share this one; never write to it."""
    cfg = EmulatorConfig(
        workspace=WORKSPACE, api_key=API_KEY, records=400, seed=7, cache_dir=cache_dir, rate_limit=None
    )
    with run_in_thread(cfg) as emu:
        yield emu


@pytest.fixture(scope="session")
def client(shared: RunningEmulator) -> Iterator[httpx.Client]:
    with client_for(shared) as c:
        yield c


@pytest.fixture
def fresh(emulator_factory: Callable[..., RunningEmulator], cache_dir: str) -> RunningEmulator:
    """A private small workspace for tests that write, inject faults or change settings."""
    return emulator_factory(workspace=WORKSPACE, api_key=API_KEY, records=60, seed=3, cache_dir=cache_dir)


@pytest.fixture
def api(fresh: RunningEmulator) -> Iterator[httpx.Client]:
    with client_for(fresh) as c:
        yield c
