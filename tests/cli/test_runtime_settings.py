"""Process-level settings of a sync: load workers from dlt config with an in-code default, and the tuned
garbage collector and the allocators restoring what they changed, and uncompressed load files for Postgres."""

from __future__ import annotations

import gc

import dlt
import pyarrow as pa
import pytest

from core.errors import ConfigError
from core.warehouse.options import WarehouseOptions
from core.warehouse.pipeline import (
    DEFAULT_LOAD_WORKERS,
    DISABLE_COMPRESSION_KEY,
    load_workers,
    uncompressed_load_files,
)
from pipelines.allocators import lean_allocators
from pipelines.gc_tuning import BULK_THRESHOLDS, tuned_gc


def test_load_workers_default_applies_without_a_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # dlt reads `.dlt/config.toml` from the working directory: a cron job elsewhere must still get one worker.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOAD__WORKERS", raising=False)
    assert load_workers() == DEFAULT_LOAD_WORKERS == 1


def test_load_workers_from_config_and_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD__WORKERS", "4")
    assert load_workers() == 4
    monkeypatch.setenv("LOAD__WORKERS", "many")
    with pytest.raises(ConfigError, match="load.workers = 'many' is not a whole number"):
        load_workers()


def test_tuned_gc_restores_thresholds_and_unfreezes() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with tuned_gc():
        assert gc.get_threshold() == BULK_THRESHOLDS
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_lean_allocators_use_the_system_pool_and_restore_the_previous_one() -> None:
    before = pa.default_memory_pool().backend_name
    with lean_allocators():
        assert pa.default_memory_pool().backend_name == "system"
        assert pa.array(["a", "b"]).to_pylist() == ["a", "b"]
    assert pa.default_memory_pool().backend_name == before


def test_postgres_load_files_are_not_gzipped_unless_config_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", raising=False)
    assert dlt.config.get(DISABLE_COMPRESSION_KEY) is None
    with uncompressed_load_files(WarehouseOptions(destination="postgres")):
        assert dlt.config.get(DISABLE_COMPRESSION_KEY) is True
    assert dlt.config.get(DISABLE_COMPRESSION_KEY) is None
    with uncompressed_load_files(WarehouseOptions(destination="duckdb")):  # parquet: nothing to gzip
        assert dlt.config.get(DISABLE_COMPRESSION_KEY) is None
    monkeypatch.setenv("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "false")  # the user's word stands
    with uncompressed_load_files(WarehouseOptions(destination="postgres")):
        assert dlt.config.get(DISABLE_COMPRESSION_KEY, bool) is False
