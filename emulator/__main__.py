"""`python -m emulator`: serve a demo workspace and print the settings a client needs."""

from __future__ import annotations

import argparse

from emulator.config import DEMO_PORT, EmulatorConfig
from emulator.server import serve


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    p = argparse.ArgumentParser(prog="python -m emulator", description="Local Clarify CRM API emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEMO_PORT, help="0 picks a free port")
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workspace", default="demo")
    p.add_argument("--api-key", default="demo-key")
    p.add_argument("--rate-limit", default="3000", help="requests per endpoint per minute, or 'off'")
    p.add_argument("--page-cap", type=int, default=500)
    p.add_argument("--bulk-max", type=int, default=100)
    p.add_argument("--schemas-shape", choices=("entities", "docs"), default="entities")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--no-timeseries", action="store_true", help="serve only the CRM API, not the JSON-RPC one")
    a = p.parse_args(argv)
    return EmulatorConfig(
        host=a.host,
        port=a.port,
        records=a.records,
        seed=a.seed,
        workspace=a.workspace,
        api_key=a.api_key,
        rate_limit=None if a.rate_limit == "off" else int(a.rate_limit),
        page_cap=a.page_cap,
        bulk_max=a.bulk_max,
        schemas_shape=a.schemas_shape,
        cache_dir=a.cache_dir,
        log_level=a.log_level,
        timeseries=not a.no_timeseries,
    )


def main(argv: list[str] | None = None) -> None:
    serve(parse_args(argv))


if __name__ == "__main__":
    main()
