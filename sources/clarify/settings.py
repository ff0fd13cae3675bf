"""Constants of the CRM sync: page size, lag window, the built-in objects, table and column naming."""

from __future__ import annotations

PAGE_LIMIT = 1000  # asked for first; a smaller size the API names in a refusal is learnt (page_size.py)
DEFAULT_LAG_SECONDS = 300.0  # re-read the last 5 minutes of the cursor on every run (late commits)
DEFAULT_RECONCILE_INTERVAL_SECONDS = 24 * 3600.0
BATCH_ROWS = 2_000  # records per arrow batch handed to dlt: per-item overhead is per batch; raw records of every
# parallel object are buffered until converted (5,000 cost ~60 MB more peak RSS at 100k for no CPU gain)
MAX_PAGES_PER_LOAD = 200  # pages per object per load package: bounds memory and what a crash costs
APPEND_MAX_IDS = 400_000  # ids one appended first load's walk may hold across chunks (~120 bytes each); past it
# the object's later chunks merge, so memory is bounded by this, not by the object's size
SMALL_CHANGE_PAGES = 100  # pages per changed object a sync may load without dlt (pipelines/small_changes.py)
# Test hook: "extract" exits the process after the 2nd page, "normalize"/"load" inside a dlt load,
# "small-change" right after the small-change load's commit.
CRASH_ENV = "CLARIFY_SYNC_CRASH_AT"
CURSOR_FIELD = "_updated_at"
UPDATED_AT_FILTER = "filter[_updated_at][Is on or after]"

BUILTIN_OBJECTS = ("company", "person", "deal", "meeting", "task", "user")
SYSTEM_TIMESTAMPS = ("_created_at", "_updated_at")
SYSTEM_TEXT = ("_created_by", "_updated_by")

# Soft-delete mark (objects configured for it): when the reconcile pass found the record gone.
SOFT_DELETED_COLUMN = "_deleted_at"
# Child tables (collections, multi-selects) and link tables (to-many relationships).
CHILD_VALUE = "value"
CHILD_POSITION = "position"
SOURCE_NAME = "clarify"
# Meeting transcripts (`sync --transcripts`): read for the records of this object, stored in this table.
RECORDING_OBJECT = "meeting_recording"
TRANSCRIPT_TABLE = "meeting_transcript"
DEFAULT_TRANSCRIPT_WAIT_HOURS = 168.0  # a recording still without a transcript after a week is asked when it changes


def child_table(obj: str, field: str) -> str:
    """`person__email_addresses`, `person__companies`."""
    return f"{obj}__{field}"


def parent_column(obj: str) -> str:
    """The column in a child or link table holding the parent's id: `person_id`."""
    return f"{obj}_id"


def link_target_column(obj: str, target: str) -> str:
    """The column in a link table holding the related record's id: `company_id` (`related_person_id` if self)."""
    return f"related_{target}_id" if target == obj else f"{target}_id"
