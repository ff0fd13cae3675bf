"""The alternative a user would reach for: dlt's generic `rest_api` source, configured as its docs suggest.

Offset pagination on `page[limit]`/`page[offset]` at 500 with the total from `meta.total_records`,
an incremental cursor on `_updated_at` bound to `filter[_updated_at][Is on or after]`, sorted by
`_updated_at`, merge on `id`, the `api-key` header, and otherwise dlt's default settings
(insert-values loader, default nesting, no parallelism). One resource per object.

Run as its own process so the benchmark measures only it:

    CLARIFY_BASE_URL=... CLARIFY_WORKSPACE=... CLARIFY_API_KEY=... \\
        python -m bench.baseline_rest_api --duckdb-path base.duckdb --objects person:objects/person/resources
    ... python -m bench.baseline_rest_api --destination postgres --postgres-dsn postgresql://u:pw@host/db \\
        --dataset bench_baseline --objects ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

PAGE_SIZE = 500
INITIAL_CURSOR = "1970-01-01T00:00:00.000Z"
PIPELINE_NAME = "bench_rest_api_baseline"
DATASET = "clarify"


def resource_path(object_slug: str) -> str:
    """Where an object's records are listed (users may live at `/users`; the bench probes and passes it)."""
    return f"objects/{object_slug}/resources"


def rest_api_config(
    base_url: str, workspace: str, api_key: str, objects: dict[str, str], cursor_path: str
) -> dict[str, Any]:
    """The `RESTAPIConfig` for `rest_api_source`; `objects` maps a resource name to its path."""
    return {
        "client": {
            "base_url": f"{base_url.rstrip('/')}/workspaces/{workspace}/",
            "auth": {
                "type": "api_key",
                "name": "Authorization",
                "api_key": f"api-key {api_key}",
                "location": "header",
            },
            "paginator": {
                "type": "offset",
                "limit": PAGE_SIZE,
                "offset_param": "page[offset]",
                "limit_param": "page[limit]",
                "total_path": "meta.total_records",
            },
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {
                "data_selector": "data",
                "params": {
                    "sortOrder[column]": "_updated_at",
                    "sortOrder[dir]": "ASC",
                    "filter[_updated_at][Is on or after]": {
                        "type": "incremental",
                        "cursor_path": cursor_path,
                        "initial_value": INITIAL_CURSOR,
                    },
                },
            },
        },
        "resources": [{"name": name, "endpoint": {"path": path}} for name, path in objects.items()],
    }


def destination(args: argparse.Namespace) -> Any:
    """dlt's DuckDB or Postgres destination, with its default settings (Postgres: insert-values)."""
    import dlt

    if args.destination == "postgres":
        return dlt.destinations.postgres(credentials=args.postgres_dsn)
    return dlt.destinations.duckdb(args.duckdb_path)


def run(target: Any, dataset: str, objects: dict[str, str], cursor_path: str) -> dict[str, Any]:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    config = rest_api_config(
        os.environ["CLARIFY_BASE_URL"],
        os.environ["CLARIFY_WORKSPACE"],
        os.environ["CLARIFY_API_KEY"],
        objects,
        cursor_path,
    )
    pipeline = dlt.pipeline(pipeline_name=PIPELINE_NAME, destination=target, dataset_name=dataset)
    load_info = pipeline.run(rest_api_source(config, name="clarify_rest_api"))
    trace = pipeline.last_trace
    rows = dict(trace.last_normalize_info.row_counts) if trace and trace.last_normalize_info else {}
    return {"loads": len(load_info.loads_ids), "row_counts": rows}


def parse_objects(spec: str) -> dict[str, str]:
    """`person,company` or `person:objects/person/resources,user:users` -> {name: path}."""
    objects: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, path = part.partition(":")
        objects[name] = path or resource_path(name)
    return objects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_rest_api", description=__doc__.splitlines()[0])
    parser.add_argument("--destination", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--duckdb-path", default="baseline.duckdb")
    parser.add_argument("--postgres-dsn", help="with a password, which dlt insists on (an empty one is fine: u:@host)")
    parser.add_argument("--dataset", default=DATASET)
    parser.add_argument("--objects", required=True, help="name[:path],... (path default objects/<name>/resources)")
    parser.add_argument(
        "--cursor-path",
        default="_updated_at",
        help="JSON path of `_updated_at` in a record (e.g. attributes._updated_at)",
    )
    args = parser.parse_args(argv)
    summary = run(destination(args), args.dataset, parse_objects(args.objects), args.cursor_path)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
