"""The lists step of a sync run: read every list and its members, load them only when something changed.

It runs after the objects' loads, independently of them: membership is re-read in full on every run (it has no
cursor), so it is right whether the objects were synced incrementally, skipped as unchanged, or not selected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dlt

from sources.clarify.api import ClarifyApi
from sources.clarify.lists import TAG, lists_source, read_lists, unchanged
from sources.clarify.settings import PAGE_LIMIT, SOURCE_NAME

LISTS_OBJECT = "lists"  # its name in `--objects`: lists are synced by default and when named there


@dataclass
class ListsReport:
    lists: int = 0
    members: int = 0
    requests: int = 0
    loaded: bool = False  # False when nothing changed since the last run (or the workspace has no lists API)
    available: bool = True  # False when `GET /lists` answered 404


def split_objects(objects: Sequence[str] | None) -> tuple[bool, list[str] | None]:
    """(sync lists?, the object slugs without `lists`); None still means every object."""
    if objects is None:
        return True, None
    return LISTS_OBJECT in objects, [o for o in objects if o != LISTS_OBJECT]


def sync_lists(
    api: ClarifyApi,
    pipeline: dlt.Pipeline,
    objects: list[str],
    load: Callable[[Any], None],
    *,
    merge: dict[str, str] | None = None,
    force: bool = False,
    page_limit: int = PAGE_LIMIT,
) -> ListsReport:
    """Read all lists; `load(source)` them when their digest differs from the committed one (or `force`)."""
    before = api.http.stats.by_tag.get(TAG, 0)
    snapshot = read_lists(api, objects, page_limit)
    report = ListsReport(requests=api.http.stats.by_tag.get(TAG, 0) - before)
    if snapshot is None:
        report.available = False
        return report
    report.lists, report.members = len(snapshot.lists), len(snapshot.members)
    state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    if force or not unchanged(state, snapshot):
        load(lists_source(snapshot, merge))
        report.loaded = True
    return report
