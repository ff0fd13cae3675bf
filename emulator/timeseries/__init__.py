"""Clarify's time-series JSON-RPC API, emulated: mount `routes(state)` next to the CRM routes.

The API lives below `apiUrl` = `{origin}/v1/`: `POST {apiUrl}rpc` and `POST {apiUrl}oauth/token`.

from emulator.timeseries import TimeseriesConfig, TimeseriesState, routes
ts_state = TimeseriesState(TimeseriesConfig(seed=config.seed), clock)  # now="..." to pin the demo data
app = Starlette(routes=[*crm_routes, *routes(ts_state)])
"""

from emulator.timeseries.app import RPC_PATH, TOKEN_PATH, credentials_file, routes
from emulator.timeseries.config import TimeseriesConfig
from emulator.timeseries.faults import Fault, Faults
from emulator.timeseries.state import TimeseriesState

__all__ = [
    "RPC_PATH",
    "TOKEN_PATH",
    "Fault",
    "Faults",
    "TimeseriesConfig",
    "TimeseriesState",
    "credentials_file",
    "routes",
]
