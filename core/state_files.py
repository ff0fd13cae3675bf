"""The state folder (what clarify-sync keeps outside the warehouse: error logs, stored logins) and private files.

The folder is `$CLARIFY_SYNC_LOG_DIR`, else `$XDG_STATE_HOME/clarify-sync`, else `~/.local/state/clarify-sync`.

A private file holds a secret: it is readable by its owner only from its first byte (created 0600 under the
lock its writer holds, never chmod-ed afterwards) and replaced whole or not at all (a temporary file beside it,
fsync, rename, fsync of the folder), so a crash at any point leaves the old content or the new, never half of
either. A private file that others may read is refused, as ssh refuses such a key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import ConfigError

STATE_DIR_ENV = "CLARIFY_SYNC_LOG_DIR"


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state_home) / "clarify-sync"


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, owner-only and atomically. The caller serialises writers (one temporary name)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)  # a crashed writer's leftover: O_EXCL below must create the file anew
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path} ({exc.strerror}): make {path.parent} writable or set {STATE_DIR_ENV}"
        ) from None


def read_private(path: Path) -> bytes | None:
    """The file's bytes, or None when there is none; a file others may read or write is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}): check its owner and permissions") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path} is open to other users (mode {stat.filemode(mode)}): run `chmod 600 {path}`")
        return file.read()


def remove_private(path: Path) -> bool:
    """Delete the file and a leftover temporary file; whether there was a file."""
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _fsync_dir(path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    """The rename itself is durable only once the folder's entry is on disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
