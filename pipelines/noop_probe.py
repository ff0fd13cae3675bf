"""The everyday cron run where nothing changed, answered without dlt.

A run that finds nothing new needs little: each object's cursor and nothing-changed fingerprint, one first
page per object (`sources.clarify.freshness.up_to_date`), and whether a deletion check is due. dlt's import
and pipeline setup (~1 s of CPU) are most of such a run, so the last completed sync of a DuckDB or Postgres
warehouse leaves a note (`core/warehouse/sync_note.py`: a file beside the DuckDB file, a row in the Postgres
dataset): the state it committed (the same dlt keeps in the warehouse), the settings it ran with (and its
request cap), and the page size the API accepts (so the probe sends no refused request). A later run may trust
the note only while all of these hold, and otherwise runs the full sync:
- the note exists: a sync deletes it as soon as it holds the lock and writes it again only after its last
  load, so a crashed or failed run (whose pending loads must be finished) never leaves one behind;
- nobody wrote the warehouse since (the note's stamp: the DuckDB file's size, mtime and WAL; the newest dlt
  load of the Postgres dataset), so the warehouse still is what the note describes;
- the settings are the same: objects, lag, page size, the CLARIFY_* flags and variables, and what dlt reads
  its configuration from (`SOURCES__*` variables, the `.dlt/*.toml` files' stamps);
- the API key is in `CLARIFY_API_KEY` (a key in `.dlt/secrets.toml` needs dlt to read it), or the note's sync
  used the stored login and no `CLARIFY_ACCESS_TOKEN` is set (with the settings unchanged, dlt's config would
  resolve the same credential); on Postgres the DSN is in `--postgres-dsn` or `CLARIFY_POSTGRES_DSN`;
- `GET /schemas` and the lists answer as they did, no deletion check is due, and every object's first page
  matches;
- when the note's sync read transcripts (`--transcripts`), it left no recording to ask again (one not transcribed
  yet, or refused): those are asked by the full sync. A recording new or changed since shows in its first page.
Then the run has cost `GET /schemas`, `GET /lists` and one request per object, as the full sync would, and
changed nothing. When only some first pages differ, the probe hands the trusted note and those objects to the
small-change load (`small_changes.py`), which replaces the note with the cursors it moved; a dlt sync adopts a
trusted note's states (`take`), newer than dlt's own after such loads.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from core.http import RetryPolicy
from core.warehouse.options import WarehouseOptions
from core.warehouse.sync_note import SyncNote, file_stamp, sync_note
from pipelines.sync_report import SyncReport
from sources.clarify.api import ClarifyApi
from sources.clarify.connection import ClarifyConnection
from sources.clarify.freshness import reconcile_due, up_to_date
from sources.clarify.list_reading import UNAVAILABLE, read_lists, split_objects
from sources.clarify.login_store import login_path
from sources.clarify.schema import parse_schemas
from sources.clarify.settings import SOURCE_NAME
from sources.clarify.state import ObjectState

_VERSION = 2  # 2: the stamp is the store's (`sync_note.py`), Postgres too
_CONNECTION_ENV = ("CLARIFY_BASE_URL", "CLARIFY_WORKSPACE")


def note_store(warehouse: WarehouseOptions, dsn: str | None = None) -> SyncNote | None:
    """Where this warehouse keeps the note (None: nowhere, so no run is answered without dlt). `dsn`: a
    Postgres DSN a run that imports dlt resolved from dlt's secrets."""
    return sync_note(warehouse, SOURCE_NAME, dsn)


def settings(
    *,
    base_url: str | None,
    workspace: str | None,
    objects: Sequence[str] | None,
    lag_seconds: float,
    page_limit: int,
    controls: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a run was asked to do, from flags and environment (never a secret: `config` is a digest).
    `controls`: the flags that change what a sync writes (history, soft deletes, the schema contract)."""
    config = {
        "flags": [base_url, workspace],
        "env": {k: v for k, v in os.environ.items() if k in _CONNECTION_ENV or k.startswith("SOURCES__")},
        "files": {str(p): file_stamp(p) for p in _dlt_config_files()},
    }
    return {
        "objects": sorted(objects) if objects else None,
        "lag": float(lag_seconds),
        "page_limit": page_limit,
        "controls": controls,
        "config": hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest(),
    }


def command_settings(
    warehouse: WarehouseOptions,
    *,
    base_url: str | None,
    workspace: str | None,
    objects: Sequence[str] | None,
    full_refresh: bool,
    since: str | None,
    lag_seconds: float,
    page_limit: int,
    controls: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """`settings` for a `clarify-sync sync` the probe may answer (and whose run leaves a note); None for the
    runs it must not: warehouses without a note (not DuckDB, not Postgres with a DSN from the flag or the
    environment), `--full-refresh` and `--since` (they load whatever changed)."""
    if note_store(warehouse) is None or full_refresh or since is not None:
        return None
    return settings(
        base_url=base_url,
        workspace=workspace,
        objects=objects,
        lag_seconds=lag_seconds,
        page_limit=page_limit,
        controls=controls,
    )


def remember(
    store: SyncNote,
    run_settings: dict[str, Any],
    api: ClarifyApi,
    schemas: Any,
    states: dict[str, dict[str, Any]],
    reconcile_interval: float,
    report: SyncReport,
    plain: bool,
) -> None:
    """After a sync's last load: the note a later run may answer from (see the module docstring). `api`: the
    sync's client (its connection, and the page size it found the API accepts); `report` says what it did with
    lists and transcripts; `plain`: the run had no controls (history, soft deletes, excluded or hashed fields),
    so a small change may skip dlt."""
    connection = api.connection
    lists, transcripts = report.lists, report.transcripts
    note = {
        "version": _VERSION,
        "settings": run_settings,
        "base_url": connection.base_url,
        "workspace": connection.workspace,
        "credential": connection.credential,  # which kind, never the secret
        "max_requests_per_minute": connection.max_requests_per_minute,
        "page_size": api.page_size.stored(),
        "schemas": _digest(schemas),
        "reconcile_interval": reconcile_interval,
        "states": states,
        "lists": lists.digest if lists is not None else None,  # None: the run did not sync lists
        # None: the run did not read transcripts; else whether recordings wait to be asked again
        "transcripts": None if transcripts is None else {"waiting": transcripts.waiting > 0},
        "plain": plain,
    }
    store.write(note)


def trusted(store: SyncNote | None) -> dict[str, Any] | None:
    """The warehouse's note while nobody else wrote the warehouse since it was written: its states then
    describe the warehouse, newer than dlt's when a small change was loaded."""
    return _of_this_version(store.read() if store is not None else None)


def take(store: SyncNote | None) -> dict[str, Any] | None:
    """`trusted`, and from now until this run writes a new note, none is: for a sync that holds the lock."""
    return _of_this_version(store.take() if store is not None else None)


def _of_this_version(note: dict[str, Any] | None) -> dict[str, Any] | None:
    return note if note is not None and note.get("version") == _VERSION else None


@dataclass
class ProbeResult:
    """What the probe found. `report`: nothing changed, the run is answered. Otherwise `api` when the API was
    asked (open, holding its answers for whichever load takes over) and, when only some objects' first pages
    differ, the trusted `note` and those `changed` objects (what the small-change load may take)."""

    report: SyncReport | None = None
    api: ClarifyApi | None = None
    note: dict[str, Any] | None = None
    changed: list[str] = field(default_factory=list)


def probe(
    warehouse: WarehouseOptions,
    *,
    run_settings: dict[str, Any],
    reconcile: bool | None = None,
    retry: RetryPolicy | None = None,
) -> ProbeResult:
    """Whether the last sync's note answers this run (see the module docstring and `ProbeResult`).
    `reconcile` as for `run_sync`: True always needs the full sync, False never runs the deletion check."""
    started = time.perf_counter()
    note = trusted(note_store(warehouse))
    if note is None or note.get("settings") != run_settings:
        return ProbeResult()
    connection = _connection(note)
    if connection is None:
        return ProbeResult()
    if (note.get("transcripts") or {}).get("waiting"):
        return ProbeResult()
    states = {obj: ObjectState(stored) for obj, stored in note["states"].items()}
    if reconcile_due(list(states), states, reconcile, float(note["reconcile_interval"])):
        return ProbeResult()
    api = ClarifyApi(connection, retry=retry)
    api.page_size.adopt(note.get("page_size"))  # no refused request for a size the sync already learnt
    try:
        same_schemas, changed = _ask(api, note, states, run_settings)
    except BaseException:
        api.close()
        raise
    if not same_schemas:
        return ProbeResult(api=api)
    if changed:
        return ProbeResult(api=api, note=note, changed=changed)
    with api:
        report = SyncReport.answered(api.http.stats, {obj: state.cursor for obj, state in states.items()})
    report.seconds = time.perf_counter() - started
    return ProbeResult(report=report)


def _connection(note: dict[str, Any]) -> ClarifyConnection | None:
    """The credential the full sync would use, known without dlt: the key in `CLARIFY_API_KEY`, or the stored
    login when the note's sync used it (its settings and dlt's config files are unchanged, so dlt's config holds
    no key or token that would outrank it) and no `CLARIFY_ACCESS_TOKEN` is set. The note's settings are this
    run's, so is the request cap it ran with."""
    base_url, workspace = note["base_url"], note["workspace"]
    cap = note.get("max_requests_per_minute")
    api_key = os.environ.get("CLARIFY_API_KEY")
    if api_key:
        return ClarifyConnection(base_url, workspace, api_key, max_requests_per_minute=cap)
    login = note.get("credential") == "stored login" and not os.environ.get("CLARIFY_ACCESS_TOKEN")
    if login and login_path(base_url, workspace).exists():
        return ClarifyConnection(base_url, workspace, stored_login=True, max_requests_per_minute=cap)
    return None


def _ask(
    api: ClarifyApi, note: dict[str, Any], states: dict[str, ObjectState], run_settings: dict[str, Any]
) -> tuple[bool, list[str]]:
    """(schemas and lists read as the note remembers them, the objects whose first page differs), asked at
    once, as the sync walks; each first page is kept for the walk that may follow."""

    def unchanged(obj: str) -> bool:
        return up_to_date(
            states[obj],
            functools.partial(api.list_page, obj, keep=True),
            lag_seconds=run_settings["lag"],
            page_limit=run_settings["page_limit"],
        )

    def same_schemas() -> bool:
        schemas = api.schemas(keep=True)
        return _digest(schemas) == note["schemas"] and _lists_unchanged(api, schemas, note.get("lists"), run_settings)

    with ThreadPoolExecutor(max_workers=len(states) + 1) as pool:
        schemas_seen = pool.submit(same_schemas)
        fresh = dict(zip(states, pool.map(unchanged, states), strict=True))
        return schemas_seen.result(), [obj for obj, ok in fresh.items() if not ok]


def restamp(warehouse: WarehouseOptions) -> None:
    """The run's own record was appended to the warehouse after the note: the note still describes it."""
    store = note_store(warehouse)
    if store is not None:
        store.restamp()


def _lists_unchanged(api: ClarifyApi, schemas: Any, digest: str | None, run_settings: dict[str, Any]) -> bool:
    """Lists have no cursor: a run that syncs them reads them all, and is a no-op only if they read the same."""
    if not split_objects(run_settings["objects"])[0]:
        return True
    snapshot = read_lists(api, list(parse_schemas(schemas, api.listable)), run_settings["page_limit"], keep=True)
    return (snapshot.digest() if snapshot is not None else UNAVAILABLE) == digest


def _dlt_config_files() -> list[Path]:
    """Where dlt looks for config and secrets files: the project's `.dlt` and the global dlt folder."""
    global_dir = Path(os.environ.get("DLT_DATA_DIR") or Path.home() / ".dlt")
    return [folder / name for folder in (Path.cwd() / ".dlt", global_dir) for name in ("config.toml", "secrets.toml")]


def _digest(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
