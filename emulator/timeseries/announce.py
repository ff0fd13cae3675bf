"""The time-series credentials file `clarify-sync emulator` writes and announces beside the CRM settings."""

from __future__ import annotations

from pathlib import Path

import orjson

from emulator.timeseries.app import credentials_file
from emulator.timeseries.state import TimeseriesState


def ts_credentials_line(state: TimeseriesState | None, origin: str, folder: str) -> str | None:
    """Write the file an integration's page in Clarify offers (the SDKs' JSON format) into `folder` and return
    `CLARIFY_TS_CREDENTIALS=<path>` to print; None when the time-series API is off. The file lives as long as
    the emulator (its temporary folder), like the credentials in it."""
    if state is None:
        return None
    path = Path(folder) / "clarify-credentials.json"
    path.write_bytes(orjson.dumps(credentials_file(state, origin), option=orjson.OPT_INDENT_2))
    path.chmod(0o600)
    return f"CLARIFY_TS_CREDENTIALS={path}"
