"""Limits and defaults of Clarify's time-series API (v1.1) and of this source."""

from __future__ import annotations

API_VERSION = "1.1"
DEFAULT_API_URL = "https://api.clarify.io/v1/"
DEFAULT_TOKEN_URL = "https://login.clarify.io/oauth/token"
CLARIFY_API_HOST = "api.clarify.io"

SELECT_LIMIT = 1000  # clarify.selectItems / admin.selectSignals: resources per call
FRAME_ITEMS = 50  # clarify.dataFrame: items per call
FRAME_DAYS = 40  # clarify.dataFrame: raw window
ROLLUP_DAYS = 400  # clarify.dataFrame: window with a rollup longer than one minute
INSERT_TIMES = 10_000  # integration.insert: times per call (our choice)
SAVE_SIGNALS = 100  # integration.saveSignals: inputs per call (our choice)

DEFAULT_LAG_SECONDS = 3600  # re-read this much before each item's cursor to catch late samples
DEFAULT_HISTORY_DAYS = 365  # first sync starts this far back unless --since says otherwise
TOKEN_REFRESH_MARGIN = 60.0  # refresh a token this many seconds before it expires

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
ENV_TOKEN_URL = "CLARIFY_TS_TOKEN_URL"
