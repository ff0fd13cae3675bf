"""The obvious alternative for Clarify time series, as pyclarify's docs suggest it: `Client.data_frame` per
window → `DataFrame.to_pandas()` → dlt into DuckDB, merged on (item_id, time) like ours.

    python -m bench.baseline_pyclarify --credentials F --duckdb-path P --since ISO --until ISO --items a,b,...

Run as its own process by bench/timeseries.py, so its CPU and memory are measured alone. One call of
pyclarify per window of 40 days (the API's raw-data limit, which pyclarify documents): the SDK pages the items
50 at a time inside it; a window's answer is held in memory, never the whole year.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import dlt
from pyclarify import Client, query

WINDOW = timedelta(days=40)


def frames(client: Client, ids: list[str], since: datetime, until: datetime) -> Iterator[Any]:
    """One long pandas frame (time, item_id, value) per window."""
    lo = since
    while lo < until:
        hi = min(until, lo + WINDOW)
        response = client.data_frame(
            filter=query.Filter(fields={"id": query.In(value=ids)}), limit=len(ids), gte=lo, lt=hi
        )
        if response.error is not None:
            raise SystemExit(f"clarify.dataFrame failed: {response.error}")
        wide = response.result.data.to_pandas()
        long = wide.melt(ignore_index=False, var_name="item_id", value_name="value").dropna(subset=["value"])
        long.index.name = "time"
        yield long.reset_index()
        lo = hi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_pyclarify")
    parser.add_argument("--credentials", required=True)
    parser.add_argument("--duckdb-path", required=True)
    parser.add_argument("--since", required=True, type=datetime.fromisoformat)
    parser.add_argument("--until", required=True, type=datetime.fromisoformat)
    parser.add_argument("--items", required=True, help="comma-separated item ids")
    args = parser.parse_args(argv)
    client = Client(args.credentials)
    pipeline = dlt.pipeline(
        "pyclarify_baseline", destination=dlt.destinations.duckdb(args.duckdb_path), dataset_name="clarify"
    )
    points = dlt.resource(
        frames(client, args.items.split(","), args.since, args.until),
        name="data_points",
        write_disposition="merge",
        primary_key=("item_id", "time"),
    )
    pipeline.run(points)
    print(json.dumps({"loaded": True}))


if __name__ == "__main__":
    main()
