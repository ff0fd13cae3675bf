"""Settings of the emulated time-series API: one frozen dataclass, replaced wholesale on live updates."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.config import replace_live

# Shape of the generated data cannot change while serving.
FIXED_AT_START = frozenset({"seed", "items", "history_days", "integration", "now"})
ENUM_ROLLUPS = ("stats", "histogram")


@dataclass(frozen=True)
class TimeseriesConfig:
    """What a test, the CLI or a benchmark can choose about the emulated JSON-RPC API."""

    seed: int = 42
    items: int = 300
    history_days: int = 365
    # The instant the demo data ends at (ISO 8601): the emulator's clock is frozen there, so tests get the
    # same data at any hour. None follows the clock handed in (the wall clock for the interactive demo).
    now: str | None = None
    integration: str = "c0demointegration000"
    client_id: str = "demo-client"
    client_secret: str = field(default="demo-secret", repr=False)
    password: str = field(default="demo-password", repr=False)  # for `basic-auth` credentials
    token_ttl: int = 86_400  # what the real token endpoint answers in `expires_in`
    api_versions: frozenset[str] = frozenset({"1.1"})
    forbidden_methods: frozenset[str] = frozenset()
    rate_limit: int | None = None  # requests per rate_window; over it -> HTTP 429
    rate_window: float = 60.0
    select_max: int = 1000
    frame_items_max: int = 50  # items per dataFrame call; time windows per rollup: see rollup.py
    # How clarify.dataFrame rolls up enum items: "stats" (count/min/max/sum/avg, as for numeric items) or
    # "histogram" (seconds per state, as Clarify's docs and clarify-go describe it; see frames.py).
    enum_rollup: str = "stats"

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_versions", frozenset(self.api_versions))
        object.__setattr__(self, "forbidden_methods", frozenset(self.forbidden_methods))
        if self.items < 0 or self.history_days < 0:
            raise ValueError("items and history_days must be >= 0")
        if self.enum_rollup not in ENUM_ROLLUPS:
            raise ValueError(f"enum_rollup must be one of {', '.join(ENUM_ROLLUPS)}, not {self.enum_rollup!r}")

    def updated(self, **changes: object) -> TimeseriesConfig:
        return replace_live(self, changes, FIXED_AT_START)
