"""`clarify-sync demo`: the whole loop on a fresh machine with no credentials.

Starts the emulator with deterministic demo data on a free loopback port, syncs it into a DuckDB file and
shows one analyst query, so a new user sees real tables in one command.
"""

from __future__ import annotations

import duckdb

from pipelines.warehouse import WarehouseOptions

# An analyst's first question: whose open pipeline is largest?
EXAMPLE_QUERY = """
select u.name as owner, count(*) as open_deals, round(sum(d.amount), 2) as open_pipeline
from {dataset}.deal d join {dataset}."user" u on u.id = d.owner_id
where d.stage not in ('Won', 'Lost')
group by 1 order by open_pipeline desc nulls last limit 5
"""


def example_query(warehouse: WarehouseOptions) -> tuple[list[str], list[tuple[object, ...]]]:
    query = EXAMPLE_QUERY.format(dataset=warehouse.dataset)
    with duckdb.connect(warehouse.duckdb_path, read_only=True) as connection:
        cursor = connection.execute(query)
        return [column[0] for column in cursor.description], cursor.fetchall()
