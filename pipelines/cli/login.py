"""`clarify-sync login` and `logout`: partner OAuth, so unattended runs need no API key (pipelines/login.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.console import console
from pipelines.cli.options import BaseUrl, Workspace


def _say(line: str) -> None:
    console.print(line, highlight=False, markup=False, emoji=False, soft_wrap=True)


def login(
    base_url: BaseUrl = None,
    workspace: Workspace = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the address to open (a server without a browser)")
    ] = False,
    port: Annotated[
        int,
        typer.Option("--port", help="Loopback port the browser comes back to (to forward over SSH); 0: a free one"),
    ] = 0,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the browser's answer", min=1)] = 300,
) -> None:
    """Log in to a workspace with Clarify's partner OAuth (PKCE); later runs use and renew the stored login.

    Needs CLARIFY_OAUTH_CLIENT_ID (and CLARIFY_OAUTH_CLIENT_SECRET for a confidential client); CLARIFY_AUTH_URL
    defaults to https://auth1.clarify.ai/oauth2. A run uses the login when no API key or access token is set.
    """
    from pipelines.login import LoginRequest, run_login
    from sources.clarify.connection import resolve_oauth_client, resolve_workspace

    target = resolve_workspace(base_url, workspace)
    request = LoginRequest(*target, resolve_oauth_client(), open_browser=not no_browser, timeout=timeout, port=port)
    path = run_login(request, announce=_say)
    _say(
        f"Logged in to workspace {request.workspace!r} at {request.base_url}; the login is kept in {path} "
        "(readable only by you). Runs without CLARIFY_API_KEY or CLARIFY_ACCESS_TOKEN use it."
    )


def logout(base_url: BaseUrl = None, workspace: Workspace = None) -> None:
    """Forget the stored login of the workspace (revoke the app in Clarify to end it on the server too)."""
    from pipelines.login import logout as forget
    from sources.clarify.connection import resolve_workspace

    target = resolve_workspace(base_url, workspace)
    path = forget(*target)
    if path is None:
        _say(f"No stored login for workspace {target[1]!r} at {target[0]}.")
    else:
        _say(f"Forgot the stored login for workspace {target[1]!r} at {target[0]} ({path}).")
