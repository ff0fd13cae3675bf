"""Running the emulator: in a background thread (tests) or as the foreground process (CLI, benchmarks)."""

from __future__ import annotations

import atexit
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.app import create_app
from emulator.artifacts import storage_app
from emulator.clock import Clock
from emulator.config import EmulatorConfig
from emulator.faults import Faults
from emulator.lists import Lists
from emulator.oauth import OAuthServer
from emulator.oauth_app import create_auth_app
from emulator.recordings import Recordings
from emulator.state import Emulator
from emulator.stats import Stats
from emulator.store import RecordStore, open_store
from emulator.timeseries import TimeseriesState
from emulator.timeseries.announce import ts_credentials_line

STARTUP_TIMEOUT = 30.0


@dataclass
class RunningEmulator:
    """Handle a test holds: where to connect, and the knobs of the live server."""

    emulator: Emulator
    host: str
    port: int
    auth_port: int

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """The partner OAuth server, on its own port (`CLARIFY_AUTH_URL`)."""
        return f"http://{self.host}:{self.auth_port}/oauth2"

    @property
    def oauth(self) -> OAuthServer:
        return self.emulator.oauth

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def workspace(self) -> str:
        return self.emulator.config.workspace

    @property
    def api_key(self) -> str:
        return self.emulator.config.api_key

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    @property
    def faults(self) -> Faults:
        return self.emulator.faults

    @property
    def store(self) -> RecordStore:
        return self.emulator.store

    @property
    def lists(self) -> Lists:
        return self.emulator.lists

    @property
    def stats(self) -> Stats:
        return self.emulator.stats

    @property
    def recordings(self) -> Recordings:
        """Transcription state, `storage_origin` (where signed artifact URLs point) and `storage_requests`."""
        return self.emulator.recordings

    @property
    def timeseries(self) -> TimeseriesState | None:
        """The time-series API's state when `config.timeseries` is on (JSON-RPC at `{origin}/v1/rpc`)."""
        return self.emulator.timeseries

    def config_update(self, **changes: object) -> EmulatorConfig:
        return self.emulator.config_update(**changes)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _bind_storage(emu: Emulator) -> socket.socket:
    """The storage origin's socket: on `storage_host`, or a port of its own on `host` where that address cannot be
    bound (a system whose loopback is 127.0.0.1 alone). Either way another origin than the API's."""
    cfg = emu.config
    try:
        sock = _bind(cfg.storage_host, 0)
    except OSError:
        sock = _bind(cfg.host, 0)
    host, port = sock.getsockname()[:2]
    emu.recordings.storage_origin = f"http://{host}:{port}"
    return sock


@dataclass
class _Sockets:
    """The emulator's listening sockets: one process, three origins (the API with its control routes, the
    partner OAuth server, and the storage host of signed recording URLs), each reached on a socket of its own."""

    api: socket.socket
    auth: socket.socket
    storage: socket.socket

    @classmethod
    def bind(cls, emu: Emulator) -> _Sockets:
        cfg = emu.config
        return cls(_bind(cfg.host, cfg.port), _bind(cfg.host, cfg.auth_port), _bind_storage(emu))

    @property
    def all(self) -> list[socket.socket]:
        return [self.api, self.auth, self.storage]

    def port(self, which: str) -> int:
        return int(getattr(self, which).getsockname()[1])


def _dispatch(emu: Emulator, socks: _Sockets) -> ASGIApp:
    """A request goes to the app of the socket it arrived on."""
    api = create_app(emu)
    apps = {
        _address(socks.api): api,
        _address(socks.auth): create_auth_app(emu),
        _address(socks.storage): storage_app(emu),
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        target = apps.get(tuple(scope.get("server") or ())[:2], api)
        await target(scope, receive, send)

    return app


def _address(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return host, port


def _server(emu: Emulator, socks: _Sockets) -> uvicorn.Server:
    cfg = emu.config
    return uvicorn.Server(
        uvicorn.Config(
            _dispatch(emu, socks),
            log_level=cfg.log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )


# Servers told to stop but maybe still closing; joined at interpreter exit so their files get removed.
_STOPPING: set[threading.Thread] = set()
atexit.register(lambda: [t.join(timeout=10) for t in list(_STOPPING)])


def _serve_then_clean_up(
    server: uvicorn.Server, socks: list[socket.socket], emu: Emulator, tmp: tempfile.TemporaryDirectory[str]
) -> None:
    try:
        server.run(sockets=socks)
    finally:
        for sock in socks:
            sock.close()
        emu.store.close()
        tmp.cleanup()
        _STOPPING.discard(threading.current_thread())


@contextmanager
def run_in_thread(config: EmulatorConfig) -> Iterator[RunningEmulator]:
    """Serve on `config.host` (port 0 ⇒ a free one) until the block exits.

    On exit the server is told to stop and finishes closing in its own thread (uvicorn needs a
    couple of 0.1 s ticks); the listening socket stops accepting at once.
    """
    tmp = tempfile.TemporaryDirectory(prefix="clarify-emulator-")
    clock = Clock()
    emu = Emulator(config, open_store(tmp.name, config.records, config.seed, clock, config.cache_dir), clock)
    socks = _Sockets.bind(emu)
    server = _server(emu, socks)
    thread = threading.Thread(
        target=_serve_then_clean_up, args=(server, socks.all, emu, tmp), daemon=True, name="clarify-emulator"
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    # Startup wait only: uvicorn offers no event to block on.
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        if not server.started:
            raise RuntimeError("emulator did not start")
        yield RunningEmulator(emu, config.host, socks.port("api"), socks.port("auth"))
    finally:
        _STOPPING.add(thread)
        server.should_exit = True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def settings_lines(config: EmulatorConfig, port: int) -> list[str]:
    """What a client needs, as `NAME=value` lines to paste into a shell."""
    return [
        f"CLARIFY_BASE_URL=http://{config.host}:{port}/v1",
        f"CLARIFY_WORKSPACE={config.workspace}",
        f"CLARIFY_API_KEY={config.api_key}",
    ]


def oauth_lines(config: EmulatorConfig, auth_port: int) -> list[str]:
    """What `clarify-sync login` needs to log in at the emulator's OAuth server (used once no key is set)."""
    return [
        f"CLARIFY_AUTH_URL=http://{config.host}:{auth_port}/oauth2",
        f"CLARIFY_OAUTH_CLIENT_ID={config.oauth_client_id}",
    ]


def serve(config: EmulatorConfig) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, after printing the connection lines (CRM, and the
    time-series credentials file)."""
    with tempfile.TemporaryDirectory(prefix="clarify-emulator-") as tmp:
        clock = Clock()
        emu = Emulator(config, open_store(tmp, config.records, config.seed, clock, config.cache_dir), clock)
        socks = _Sockets.bind(emu)
        port = socks.port("api")
        for line in settings_lines(config, port):
            print(line, flush=True)
        if ts_line := ts_credentials_line(emu.timeseries, f"http://{config.host}:{port}", tmp):
            print(ts_line, flush=True)
        for line in oauth_lines(config, socks.port("auth")):
            print(line, flush=True)
        # uvicorn re-raises the signal it caught after a graceful shutdown; both end here, exit 0.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            _server(emu, socks).run(sockets=socks.all)
        except KeyboardInterrupt:
            pass
        finally:
            for sock in socks.all:
                sock.close()
            emu.store.close()
            sys.stdout.flush()
