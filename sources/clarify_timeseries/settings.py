"""Limits and defaults of Clarify's time-series API (v1.1) and of this source."""

from __future__ import annotations

API_VERSION = "1.1"
DEFAULT_API_URL = "https://api.clarify.io/v1/"
# Both SDKs derive these from the credentials file's apiUrl (pyclarify jsonrpc/oauth2.py, clarify-go credentials.go).
TOKEN_PATH = "oauth/token"
RPC_PATH = "rpc"
CLIENT_CREDENTIALS = "client-credentials"  # OAuth 2.0 token, form-encoded request
BASIC_AUTH = "basic-auth"  # HTTP Basic on every call: integration id and password

# The `format` both SDKs send: selections as arrays with `included` grouped by type; dataFrame without
# dataAsArray (pyclarify DataFrameParams sends false, clarify-go leaves it out), answered as {times, series}.
SELECTION_FORMAT = {"dataAsArray": True, "groupIncludedByType": True}
FRAME_FORMAT = {"dataAsArray": False, "groupIncludedByType": True}

SELECT_LIMIT = 1000  # clarify.selectItems / admin.selectSignals: resources per call
FRAME_ITEMS = 50  # clarify.dataFrame: items per call
FRAME_DAYS = 40  # clarify.dataFrame: raw window
ROLLUP_DAYS = 400  # clarify.dataFrame: window with a rollup longer than one minute
INSERT_TIMES = 10_000  # integration.insert: times per call (our choice)
SAVE_SIGNALS = 100  # integration.saveSignals: inputs per call (our choice)
FRAMES_PER_LOAD = 10  # clarify.dataFrame calls per load: bounds a load's size (memory) and what a crash costs
CONFIRM_IDS = 1000  # ids per selection when confirming that resources missing from a listing are gone

DEFAULT_LAG_SECONDS = 3600  # re-read this much before each item's cursor to catch late samples
DEFAULT_HISTORY_DAYS = 365  # first sync starts this far back unless --since says otherwise
DEFAULT_RECONCILE_HOURS = 24  # [sources.clarify_timeseries] reconcile_every_hours when unset

# JSON-RPC codes: retried by the shared transport (backoff), the one that means "slow down", and the rest.
RETRY_CODES = frozenset({-32000, -32603, -32015, -32009})
SLOW_DOWN_CODE = -32011
SLOW_DOWN_SECONDS = 2.0  # at least this long after a -32011, doubling with the backoff
PARTIAL_FAILURE = -32021

PIPELINE_NAME = "clarify_timeseries"

# Environment variables (credentials are read from a file or the environment, never from flags).
ENV_CREDENTIALS_FILE = "CLARIFY_TS_CREDENTIALS"
ENV_API_URL = "CLARIFY_TS_API_URL"
ENV_INTEGRATION = "CLARIFY_TS_INTEGRATION"
ENV_CLIENT_ID = "CLARIFY_TS_CLIENT_ID"
ENV_CLIENT_SECRET = "CLARIFY_TS_CLIENT_SECRET"
