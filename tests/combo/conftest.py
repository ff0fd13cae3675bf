"""The combination test's seeds, and the sync tests' fixtures (emulators, warehouses, an isolated dlt).

Seeds: `CLARIFY_COMBO_SEEDS=7,19` replays those; `CLARIFY_COMBO_COUNT=N` draws N fresh random seeds (`make soak`);
else the fixed seeds below run (`make test`). Each seed is in its test's id and in any failure message."""

from __future__ import annotations

import os
import random

import pytest

from tests.sync.conftest import _isolated_dlt, emulator_cache, make_emu, make_warehouse  # noqa: F401 (fixtures)

FIXED_SEEDS = tuple(range(1, 51))  # the issue asks for at least 50 combinations in `make test`


def combo_seeds() -> list[int]:
    if os.environ.get("CLARIFY_COMBO_SEEDS"):
        return [int(s) for s in os.environ["CLARIFY_COMBO_SEEDS"].split(",")]
    if os.environ.get("CLARIFY_COMBO_COUNT"):
        # Every xdist worker must collect the same seeds: drawn from the run's shared id (else a fresh draw).
        shared = os.environ.get("PYTEST_XDIST_TESTRUNUID")
        draw = random.Random(shared) if shared else random.SystemRandom()
        return [draw.randrange(1_000_000_000) for _ in range(int(os.environ["CLARIFY_COMBO_COUNT"]))]
    return list(FIXED_SEEDS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "combo_seed" in metafunc.fixturenames:
        seeds = combo_seeds()
        metafunc.parametrize("combo_seed", seeds, ids=[f"seed{s}" for s in seeds])
