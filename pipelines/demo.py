"""`clarify-sync demo`: the whole loop on a fresh machine with no credentials.

Starts the emulator (CRM and time series) with deterministic demo data on a free loopback port, syncs both
into a DuckDB file and answers one analyst question from each, so a new user sees real tables in one command.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson
import pendulum

from core.warehouse.options import WarehouseOptions
from pipelines.sync import SyncReport, run_sync
from pipelines.timeseries_sync import TimeseriesReport, run_timeseries_sync
from sources.clarify.connection import ClarifyConnection
from sources.clarify_timeseries.credentials import parse_credentials_file
from sources.clarify_timeseries.rpc import RpcClient

DEMO_SEED = 42
# A week of samples keeps the demo to seconds; `clarify-sync timeseries sync` defaults to a year.
TIMESERIES_DAYS = 7

QUERIES = {
    "open pipeline by owner": """
        select u.name as owner, count(*) as open_deals, sum(d.amount)::decimal(18, 2) as open_pipeline
        from {dataset}.deal d join {dataset}."user" u on u.id = d.owner_id
        where d.stage not in ('Won', 'Lost')
        group by u.name order by open_pipeline desc limit 5
    """,
    "hourly average per item, last 6 hours": """
        select i.name as item, date_trunc('hour', p.time) as hour, avg(p.value)::decimal(18, 3) as avg_value,
               count(*) as samples
        from {dataset}.data_points p join {dataset}.items i on i.id = p.item_id
        where p.time >= (select max(time) from {dataset}.data_points) - interval '6 hours'
        group by 1, 2 order by 1, 2 limit 12
    """,
}


@dataclass
class DemoResult:
    crm: SyncReport
    timeseries: TimeseriesReport
    answers: dict[str, tuple[list[str], list[tuple[object, ...]]]] = field(default_factory=dict)


def run_demo(
    records: int,
    warehouse: WarehouseOptions,
    *,
    announce: Callable[[str], None],
    progress: Callable[..., None] | None = None,
) -> DemoResult:
    from emulator import EmulatorConfig, run_in_thread
    from emulator.timeseries import credentials_file

    with (
        run_in_thread(EmulatorConfig(records=records, seed=DEMO_SEED, timeseries=True)) as emu,
        tempfile.TemporaryDirectory(prefix="clarify-demo-") as tmp,
    ):
        announce(
            f"emulator serving {records:,} CRM records and {emu.timeseries.config.items} time series "
            f"at {emu.base_url} (workspace {emu.workspace})"
        )
        crm = run_sync(ClarifyConnection(emu.base_url, emu.workspace, emu.api_key), warehouse, progress=progress)
        credentials = Path(tmp, "credentials.json")
        credentials.write_bytes(orjson.dumps(credentials_file(emu.timeseries, emu.origin)))
        since = pendulum.now("UTC").subtract(days=TIMESERIES_DAYS).to_iso8601_string()
        with RpcClient(parse_credentials_file(credentials)) as client:
            timeseries = run_timeseries_sync(client, warehouse, since=since, progress=progress)
    result = DemoResult(crm, timeseries)
    with duckdb.connect(warehouse.duckdb_path, read_only=True) as connection:
        for title, sql in QUERIES.items():
            cursor = connection.execute(sql.format(dataset=warehouse.dataset))
            result.answers[title] = ([column[0] for column in cursor.description], cursor.fetchall())
    return result
