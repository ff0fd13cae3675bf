"""Rate limits are waited out, not failed: a 429 waits as long as its Retry-After asks, within a deadline.

The bursts are counted in requests (the emulator's `burst_429`), and the client's sleep is one that only adds
up the seconds asked for: the test is exact and instant, and still proves the push waited 10 s per 429.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ApiError
from core.http import RetryPolicy
from pipelines.push import run_push

N = 250


def _source(warehouse: Any) -> None:
    warehouse.execute(
        f"CREATE TABLE {warehouse.t('src')} AS SELECT 'task-' || i AS _key, 'Do thing ' || i AS title "
        f"FROM {warehouse.series(N)}"
    )


def test_bursts_of_ten_seconds_are_waited_out(emu, conn, warehouse: Any) -> None:
    _source(warehouse)
    emu.faults.set(burst_429=12, retry_after_seconds=10, only_paths=["/objects/task/records"])
    slept: list[float] = []
    report = run_push(conn, warehouse.options, object="task", from_table="src", batch_size=100, sleep=slept.append)
    assert report.ok and report.sent == N and report.adopted == 0
    assert len(emu.store.records("task")) == N
    assert emu.faults.current().burst_429 == 0
    assert sum(slept) >= 12 * 10 - 1  # each 429 waited (about) the 10 s it asked for, none given up on


def test_rate_limit_past_the_deadline_says_so(emu, conn, duck: Any) -> None:
    _source(duck)
    emu.faults.set(burst_429=1000, retry_after_seconds=10, only_paths=["/objects/task/records"])
    slept: list[float] = []
    policy = RetryPolicy(rate_limit_deadline=60)
    with pytest.raises(ApiError, match="rate limit") as caught:
        run_push(conn, duck.options, object="task", from_table="src", retry=policy, sleep=slept.append)
    assert "CLARIFY_BASE_URL" not in str(caught.value)
    assert 59 <= sum(slept) <= 80  # six 10 s waits (the clock ticks a little between them), then the error
    assert len(emu.store.records("task")) == 0
