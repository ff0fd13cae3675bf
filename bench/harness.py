"""Run one command as a child process and measure it: wall time, its own CPU seconds, peak RSS.

Resource use comes from `os.wait4`, so it is exactly the child's (and not the emulator's or ours).
Grandchildren are not counted: both the baseline and `clarify-sync` do their work in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Measurement:
    """What one measured child process cost; `requests` is filled in from the emulator's stats."""

    label: str
    command: list[str]
    exit_code: int
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mb: float
    stdout_path: str
    stderr_path: str
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def tail(self, lines: int = 15) -> str:
        """The end of the child's stderr (else stdout): what to show when it failed."""
        for path in (self.stderr_path, self.stdout_path):
            text = Path(path).read_text(errors="replace").strip()
            if text:
                return "\n".join(text.splitlines()[-lines:])
        return ""

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["cpu_s"] = round(self.cpu_s, 3)
        return data


def python_command(*args: str) -> list[str]:
    """The venv's interpreter running `args` (so children use the same packages as the bench)."""
    return [sys.executable, *args]


def clarify_sync() -> list[str]:
    """The `clarify-sync` script next to this interpreter, else `python -m pipelines`."""
    script = Path(sys.executable).with_name("clarify-sync")
    return [str(script)] if script.exists() else python_command("-m", "pipelines")


def cli_ok(*args: str) -> bool:
    """Does `clarify-sync <args>` run and exit 0 (offline: the base URL points at a closed port)?"""
    try:
        done = subprocess.run(
            [*clarify_sync(), *args],
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=120,
            env={"CLARIFY_BASE_URL": "http://127.0.0.1:9/v1", "PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def run_measured(
    label: str,
    command: list[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    timeout_s: float | None = None,
) -> Measurement:
    """Run `command` to completion and return its measurement; output goes to files in `log_dir`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    stdout_path = log_dir / f"{slug}.stdout.log"
    stderr_path = log_dir / f"{slug}.stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        status, usage = _wait4(proc, timeout_s)
        wall = time.perf_counter() - started
    # Popen must not reap the child a second time.
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        label=label,
        command=command,
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_user_s=usage.ru_utime,
        cpu_sys_s=usage.ru_stime,
        peak_rss_mb=_maxrss_mb(usage.ru_maxrss),
        stdout_path=str(stdout_path),
        stderr_path=str(stderr_path),
    )


def _wait4(proc: subprocess.Popen[bytes], timeout_s: float | None) -> tuple[int, os.struct_rusage]:
    """`os.wait4` on the child, killing it (and still reaping it) if it runs past `timeout_s`."""
    if timeout_s is None:
        _, status, usage = os.wait4(proc.pid, 0)
        return status, usage
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return status, usage
        time.sleep(0.05)


def _maxrss_mb(maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def remove(path: Path) -> None:
    """A DuckDB file (with its WAL) or a folder, so the next measured run starts from nothing."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.unlink()
