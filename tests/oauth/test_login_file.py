"""The login's file: owner-only from its first byte whatever the umask, replaced whole, a crashed writer's
leftover harmless; a file others may read refused with the fix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.state_files import read_private, remove_private, write_private


@pytest.fixture
def open_umask() -> object:
    old = os.umask(0)  # the widest a user could have: nothing masked
    yield
    os.umask(old)


def test_private_files_are_owner_only_from_the_start(tmp_path: Path, open_umask: object) -> None:
    path = tmp_path / "state" / "login-x.json"
    write_private(path, b"first")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    leftover = path.with_name(path.name + ".tmp")  # a writer killed before its rename, and a mode it never had
    leftover.write_bytes(b"half")
    leftover.chmod(0o644)
    assert read_private(path) == b"first"  # the rename never happened: the old content stands
    write_private(path, b"second")
    assert read_private(path) == b"second" and not leftover.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert remove_private(path) and not remove_private(path) and read_private(path) is None


def test_a_private_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "login-x.json"
    write_private(path, b"secret")
    path.chmod(0o640)
    with pytest.raises(ConfigError, match=f"run `chmod 600 {path}`"):
        read_private(path)
