"""`clarify-sync emulator` (and `python -m emulator`): its options, and serving until interrupted.

A typer command like every other `clarify-sync` command; `pipelines/cli/app.py` registers it with the shared
error handling, and `emulator/__main__.py` runs the same command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import ConfigError
from emulator.config import DEMO_PORT, EmulatorConfig


def emulator(
    port: Annotated[int, typer.Option("--port", help="Port on --host; 0 picks a free one")] = DEMO_PORT,
    records: Annotated[int, typer.Option("--records", help="Demo records across all objects", min=0)] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Demo data seed (same seed, same data)")] = 0,
    rate_limit: Annotated[
        str, typer.Option("--rate-limit", help="Requests per endpoint (or workspace) per minute, or 'off'")
    ] = "3000",
    rate_limit_scope: Annotated[
        str, typer.Option("--rate-limit-scope", help="endpoint (a budget each) or workspace (one for all)")
    ] = "endpoint",
    bare_429: Annotated[
        bool, typer.Option("--bare-429", help="No X-RateLimit-* headers, and 429s without Retry-After")
    ] = False,
    page_cap: Annotated[int, typer.Option("--page-cap", help="Largest page\\[limit] served", min=1)] = 500,
    over_page_cap: Annotated[
        str,
        typer.Option(
            "--over-page-cap", help="A larger page\\[limit]: refuse (400 naming the cap), refuse-unnamed or clamp"
        ),
    ] = "refuse",
    bulk_max: Annotated[int, typer.Option("--bulk-max", help="Largest bulk write accepted", min=1)] = 100,
    push_dialect: Annotated[
        str,
        typer.Option(
            "--push-dialect",
            help="Bulk creates: match_on (accepted), upsert (refused; creates upsert) or strict (refused; "
            "a duplicate fails the batch)",
        ),
    ] = "match_on",
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace slug to serve")] = "demo",
    api_key: Annotated[str, typer.Option("--api-key", help="API key to accept")] = "demo-key",
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "127.0.0.1",
    schemas_shape: Annotated[
        str,
        typer.Option(
            "--schemas-shape",
            help="GET /schemas as 'entities' (bare array), 'docs' (JSON:API) or 'keyed' (by schema id)",
        ),
    ] = "entities",
    bare_objects: Annotated[
        str, typer.Option("--bare-objects", help="Comma-separated objects served without system fields, e.g. user")
    ] = "",
    links: Annotated[str, typer.Option("--links", help="links in list answers: full, null or absent")] = "full",
    no_meta: Annotated[bool, typer.Option("--no-meta", help="Leave meta out of list answers")] = False,
    ignore_page_limit: Annotated[
        bool, typer.Option("--ignore-page-limit", help="Ignore page\\[limit]; serve pages of 25")
    ] = False,
    uuid_ids: Annotated[bool, typer.Option("--uuid-ids", help="Serve record ids as UUIDs (read-only variant)")] = False,
    unknown_field_types: Annotated[
        bool, typer.Option("--unknown-field-types", help="GET /schemas names field types no client knows")
    ] = False,
    recordings: Annotated[
        int, typer.Option("--recordings", help="Meeting recordings to make at start (transcribed)", min=0)
    ] = 0,
    auth_port: Annotated[
        int, typer.Option("--auth-port", help="Port of the partner OAuth server (CLARIFY_AUTH_URL); 0: a free one")
    ] = 0,
    access_token_seconds: Annotated[
        int, typer.Option("--access-token-seconds", help="Lifetime of OAuth access tokens", min=1)
    ] = 3600,
    refresh_grace_seconds: Annotated[
        float,
        typer.Option("--refresh-grace-seconds", help="Grace for a just-replaced refresh token; 0: none", min=0),
    ] = 0.0,
    no_timeseries: Annotated[
        bool, typer.Option("--no-timeseries", help="Serve only the CRM API, not the JSON-RPC one")
    ] = False,
    cache_dir: Annotated[
        str | None, typer.Option("--cache-dir", help="Demo data cache folder", show_default=False)
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level")] = "warning",
) -> None:
    """Run the local Clarify emulator (CRM and time series); prints the settings to paste into a shell."""
    from emulator.server import serve

    if rate_limit != "off" and not rate_limit.isdigit():
        raise ConfigError(f"--rate-limit {rate_limit!r} is not a number of requests per minute or 'off'")
    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            auth_port=auth_port,
            access_token_seconds=access_token_seconds,
            refresh_grace_seconds=refresh_grace_seconds,
            records=records,
            seed=seed,
            workspace=workspace,
            api_key=api_key,
            rate_limit=None if rate_limit == "off" else int(rate_limit),
            rate_limit_scope=rate_limit_scope,  # type: ignore[arg-type]
            rate_limit_headers=not bare_429,
            page_cap=page_cap,
            over_page_cap=over_page_cap,  # type: ignore[arg-type]
            bulk_max=bulk_max,
            push_dialect=push_dialect,  # type: ignore[arg-type]
            schemas_shape=schemas_shape,  # type: ignore[arg-type]
            cache_dir=cache_dir,
            log_level=log_level,
            timeseries=not no_timeseries,
            bare_objects=frozenset(o.strip() for o in bare_objects.split(",") if o.strip()),
            links=links,  # type: ignore[arg-type]
            meta=not no_meta,
            ignore_page_limit=ignore_page_limit,
            uuid_ids=uuid_ids,
            unknown_field_types=unknown_field_types,
            recordings=recordings,
        )
    except ValueError as exc:
        raise ConfigError(f"{exc}: see clarify-sync emulator --help") from None
    try:
        serve(config)
    except OSError as exc:  # the port is taken or the address is not ours
        raise ConfigError(
            f"cannot listen on {host}:{port} or :{auth_port} ({exc.strerror}): pass another --port or --auth-port "
            "(0: a free one)"
        ) from None
