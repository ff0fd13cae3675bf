"""The stored login of `clarify-sync login`: one private file per API base URL and workspace.

`<state folder>/login-<hash of base URL and workspace>.json`, owner-only and replaced atomically
(`core/state_files.py`), with `<file>.lock` beside it: whoever refreshes holds the lock from reading the file to
storing the rotated refresh token, so two processes never refresh with the same token. The file holds what a
refresh needs, and so what cron needs, and nothing more: the auth server and client the tokens were issued to
(a refresh token only works for the client it was issued to), the tokens, and when they expire. It is never
printed, logged, put in dlt state or in the warehouse; `repr` hides every secret.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from core.errors import ConfigError
from core.state_files import read_private, remove_private, state_dir, write_private

if TYPE_CHECKING:
    from filelock import FileLock

_FORMAT = 1
DEFAULT_LIFETIME = 3600.0  # an access token whose answer names no `expires_in`


@dataclass(frozen=True)
class StoredLogin:
    base_url: str
    workspace: str
    auth_url: str
    client_id: str
    client_secret: str | None = field(repr=False)
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # on this machine's clock
    lifetime: float  # the access token's `expires_in`
    refresh_expires_at: float | None  # when the server says the refresh token ends (`refresh_token_expires_in`)
    logged_in_at: float
    refreshed_at: float | None = None

    def renewed(self, token: dict[str, Any], now: float) -> StoredLogin:
        """The login after a refresh: the new tokens (the refresh token kept when the server did not rotate it)."""
        lifetime, refresh_ends = token_times(token, now)
        return dataclasses.replace(
            self,
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token") or self.refresh_token,
            scope=token.get("scope") or self.scope,
            expires_at=now + lifetime,
            lifetime=lifetime,
            refresh_expires_at=refresh_ends if refresh_ends is not None else self.refresh_expires_at,
            refreshed_at=now,
        )


def token_times(token: dict[str, Any], now: float) -> tuple[float, float | None]:
    """(the access token's lifetime, when the refresh token ends if the answer says) from a token answer."""
    expires_in = token.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else DEFAULT_LIFETIME
    refresh_in = token.get("refresh_token_expires_in")
    return lifetime, now + float(refresh_in) if isinstance(refresh_in, int | float) else None


def login_path(base_url: str, workspace: str) -> Path:
    key = hashlib.sha256(f"{base_url.rstrip('/')}\n{workspace}".encode()).hexdigest()[:16]
    return state_dir() / f"login-{key}.json"


def login_lock(path: Path, timeout: float) -> FileLock:
    """The lock around read-refresh-write (flock: released by the kernel if its holder is killed)."""
    from filelock import FileLock  # here: runs with an API key never load it

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return FileLock(path.with_name(path.name + ".lock"), timeout=timeout, mode=0o600)


def read_login(path: Path) -> StoredLogin | None:
    data = read_private(path)
    if data is None:
        return None
    try:
        doc = orjson.loads(data)
        if doc.pop("format") != _FORMAT:
            raise ValueError
        return StoredLogin(**doc)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError(f"{path} is not a login this version reads: run `clarify-sync login` again") from None


def write_login(path: Path, login: StoredLogin) -> None:
    write_private(path, orjson.dumps({"format": _FORMAT, **dataclasses.asdict(login)}, option=orjson.OPT_INDENT_2))


def forget_login(path: Path) -> bool:
    """Delete the stored login (under its lock, so no refresh writes it back); whether there was one."""
    with login_lock(path, timeout=60):
        return remove_private(path)
