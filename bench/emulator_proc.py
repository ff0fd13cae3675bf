"""The emulator as its own process (so its CPU is never charged to a measured run), and its control routes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.harness import REPO_ROOT

SETTING_KEYS = ("CLARIFY_BASE_URL", "CLARIFY_WORKSPACE", "CLARIFY_API_KEY", "CLARIFY_TS_CREDENTIALS")


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    """`python -m emulator --port 0 --records N --seed S --rate-limit off`, started once per size."""

    def __init__(self, records: int, seed: int, log_dir: Path, start_timeout_s: float = 600.0) -> None:
        self.records = records
        self.seed = seed
        self.log_dir = log_dir
        self.start_timeout_s = start_timeout_s
        self.settings: dict[str, str] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._http: httpx.Client | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            os.environ.get("BENCH_EMULATOR_MODULE", "emulator"),
            "--port",
            "0",
            "--records",
            str(self.records),
            "--seed",
            str(self.seed),
            "--rate-limit",
            "off",
        ]
        stderr = (self.log_dir / "emulator.stderr.log").open("w")
        self._proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        stderr.close()
        self._read_settings()
        # Keep draining stdout so a chatty emulator can never block on a full pipe.
        threading.Thread(target=self._drain, args=(self.log_dir / "emulator.stdout.log",), daemon=True).start()
        self._http = httpx.Client(base_url=self.origin, timeout=120.0)
        self._wait_healthy()

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def _read_settings(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        result: dict[str, str] = {}
        deadline = time.monotonic() + self.start_timeout_s
        timer = threading.Timer(self.start_timeout_s, self._proc.kill)
        timer.start()
        try:
            for line in self._proc.stdout:
                key, sep, value = line.strip().partition("=")
                if sep and key in SETTING_KEYS:
                    result[key] = value
                if len(result) == len(SETTING_KEYS) or time.monotonic() > deadline:
                    break
        finally:
            timer.cancel()
        if len(result) != len(SETTING_KEYS):
            err = (self.log_dir / "emulator.stderr.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise EmulatorError(f"the emulator did not print its {', '.join(SETTING_KEYS)} lines:\n{err}")
        self.settings = result

    def _drain(self, path: Path) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        with path.open("w") as log:
            for line in proc.stdout:
                log.write(line)

    def _wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if self.http.get("/_emulator/health").status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        raise EmulatorError(f"the emulator at {self.origin} never became healthy: {last}")

    # -- addresses -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.settings["CLARIFY_BASE_URL"]

    @property
    def workspace_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/workspaces/{self.settings['CLARIFY_WORKSPACE']}"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            raise EmulatorError("the emulator is not running")
        return self._http

    def env(self) -> dict[str, str]:
        """The environment a measured child gets: ours plus the CLARIFY_* settings the emulator printed."""
        return {**os.environ, **self.settings}

    # -- control routes --------------------------------------------------------------------------
    def stats(self) -> Any:
        return _ok(self.http.get("/_emulator/stats")).json()

    def reset_stats(self) -> None:
        _ok(self.http.post("/_emulator/stats/reset"))

    def mutate(self, obj: str, update_share: float) -> Any:
        return _ok(self.http.post("/_emulator/mutate", json={"object": obj, "update_share": update_share})).json()

    def configure(self, **settings: Any) -> Any:
        return _ok(self.http.post("/_emulator/config", json=settings)).json()

    def api_get(self, path: str, **params: Any) -> httpx.Response:
        """An authenticated GET on the workspace API (used for probing, never while measuring)."""
        headers = {"Authorization": f"api-key {self.settings['CLARIFY_API_KEY']}"}
        return self.http.get(f"{self.workspace_url}/{path.lstrip('/')}", params=params, headers=headers)


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise EmulatorError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
        )
    return response


# -- reading the request counters -----------------------------------------------------------------
def request_rows(stats: Any) -> list[tuple[str, str, int, int]]:
    """Flatten the emulator's stats into (method, route, status, count) rows.

    Accepts a list of row objects, or nested mappings method -> route -> status -> count, under an
    optional `requests` key — whichever the emulator sends.
    """
    if isinstance(stats, dict) and "requests" in stats:
        stats = stats["requests"]
    rows: list[tuple[str, str, int, int]] = []
    if isinstance(stats, list):
        for row in stats:
            rows.append(
                (
                    str(row.get("method", "")),
                    str(row.get("route", row.get("path", ""))),
                    int(row.get("status", 0)),
                    int(row.get("count", 0)),
                )
            )
        return rows
    if isinstance(stats, dict):
        for method, routes in stats.items():
            if not isinstance(routes, dict):
                continue
            for route, statuses in routes.items():
                if isinstance(statuses, dict):
                    for status, count in statuses.items():
                        rows.append((str(method), str(route), int(status), int(count)))
                elif isinstance(statuses, int):
                    rows.append((str(method), str(route), 0, statuses))
    return rows


def summarize_requests(stats: Any) -> dict[str, Any]:
    """All API requests, by status and by endpoint (control routes excluded)."""
    total = 0
    by_status: Counter[str] = Counter()
    by_endpoint: Counter[str] = Counter()
    for method, route, status, count in request_rows(stats):
        if route.startswith("/_emulator"):
            continue
        total += count
        by_status[str(status)] += count
        by_endpoint[f"{method} {route}"] += count
    return {"total": total, "by_status": dict(by_status), "by_endpoint": dict(by_endpoint)}
