"""`python -m bench.floor`: what it flattens, and one tiny run end to end (structure only, never a timing)."""

from __future__ import annotations

import re

import pytest

from bench.floor import flatten, main, to_table


def test_flatten_puts_each_record_in_one_row() -> None:
    record = {
        "id": "p1",
        "attributes": {
            "title": "CTO",
            "name": {"first_name": "Ada", "last_name": "L"},
            "tags": ["vip"],
            "location": {"city": "Oslo", "geo": {"lat": 1}},
        },
        "relationships": {"companies": {"data": [{"type": "company", "id": "c1"}]}},
    }
    assert flatten(record) == {
        "id": "p1",
        "title": "CTO",
        "name__first_name": "Ada",
        "name__last_name": "L",
        "tags": '["vip"]',
        "location__city": "Oslo",
        "location__geo": '{"lat":1}',
        "relationships": '{"companies":{"data":[{"type":"company","id":"c1"}]}}',
    }


def test_a_column_arrow_cannot_type_becomes_text() -> None:
    table = to_table([{"id": "a", "amount": 1.5}, {"id": "b", "amount": "lots"}])
    assert table.column("amount").to_pylist() == ["1.5", "lots"]
    assert table.column("id").to_pylist() == ["a", "b"]


@pytest.mark.timeout(300)  # a hang guard: the emulator starts on a machine that may be loaded
def test_floor_runs_on_the_emulators_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--records", "300", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^run 1: 300 records, CPU [0-9.]+ s, wall [0-9.]+ s$", out, re.M), out
    assert re.search(r"^floor: [0-9,]+ records per CPU-second \(median of 1\)$", out, re.M), out
