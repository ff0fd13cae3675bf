"""A faithful local Clarify CRM API (starlette + uvicorn over SQLite) for the demo, tests and benchmarks."""

from emulator.config import EmulatorConfig
from emulator.server import RunningEmulator, run_in_thread, serve

__all__ = ["EmulatorConfig", "RunningEmulator", "run_in_thread", "serve"]
