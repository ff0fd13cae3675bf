"""A faithful local Clarify CRM API (starlette + uvicorn over SQLite) for the demo, tests and benchmarks."""

from typing import Any

from emulator.config import EmulatorConfig

_SERVER_NAMES = ("RunningEmulator", "run_in_thread", "serve")


def __getattr__(name: str) -> Any:
    """The server (uvicorn, starlette) is imported on first use: `clarify-sync` lists the emulator's options
    without paying for it."""
    if name in _SERVER_NAMES:
        from emulator import server

        return getattr(server, name)
    raise AttributeError(name)


__all__ = ["EmulatorConfig", "RunningEmulator", "run_in_thread", "serve"]
