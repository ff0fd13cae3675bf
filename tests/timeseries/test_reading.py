"""One odd clarify.dataFrame answer does not end a sync: its items are reported and keep their cursors.

The emulator never answers with a malformed frame, so the answers here come from a FrameReader whose `read`
is replaced; everything after it (conversion, cursors, report) is the real code.
"""

from __future__ import annotations

from typing import Any

from core.timefmt import DAY_US
from core.timefmt import iso_us as iso
from sources.clarify_timeseries.reading import DataWindow, FrameReader, ItemMarks, data_tables
from sources.clarify_timeseries.report import TimeseriesReport


class OddAnswers(FrameReader):
    def read(self, ids: list[str], lo: int, hi: int) -> dict[str, Any]:
        if "odd" in ids:
            return {"times": ["yesterday-ish"], "series": {"odd": [1.0]}}
        return {"times": [iso(lo)], "series": {i: [2.0] for i in ids}}


def test_an_unreadable_answer_fails_only_its_items() -> None:
    ids = [f"a{n:02d}" for n in range(50)] + ["odd"]  # two calls: 50 items, then "odd" alone
    report = TimeseriesReport()
    reader = OddAnswers(rpc=None, rollup=None, report=report)  # type: ignore[arg-type]
    marks = ItemMarks.of({"cursors_us": {"odd": 5}})
    window = DataWindow(since=0, now=DAY_US, lag=0)
    tables = list(data_tables(reader, [{"id": i} for i in ids], marks, window, "data_points", lambda *_: None))
    assert sum(t.num_rows for t in tables) == 50
    assert marks.latest == {"odd": 5} | {i: 0 for i in ids[:50]}  # the odd item keeps its marks
    assert report.read_to == {i: DAY_US for i in ids[:50]}  # this sync read them to its end
    assert (
        len(report.failures) == 1 and report.failures[0].startswith("odd [") and "cannot be read" in report.failures[0]
    )
