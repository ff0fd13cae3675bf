"""Emulator settings: a frozen dataclass, replaced whole on live updates so no reader sees half a change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, TypeVar

SchemasShape = Literal["entities", "docs", "keyed"]
LinksShape = Literal["full", "null", "absent"]
ArtifactKeys = Literal["camel", "snake"]
TranscriptFormat = Literal["vtt", "json", "mixed"]
NotTranscribed = Literal["404", "null"]
RecordingMeeting = Literal["attribute", "relationship"]
OverPageCap = Literal["refuse", "refuse-unnamed", "clamp"]
RateLimitScope = Literal["endpoint", "workspace"]
PushDialect = Literal["match_on", "upsert", "strict"]

# What `python -m emulator` and the demo use; in-process servers default to a free port instead.
DEMO_PORT = 8765

# Settings that shape the generated data or the listening socket cannot change while serving.
FIXED_AT_START = frozenset(
    {"records", "seed", "host", "port", "auth_port", "cache_dir", "timeseries", "recordings", "storage_host"}
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything a test, the CLI or a benchmark can choose about one emulated workspace."""

    workspace: str = "demo"
    api_key: str = "demo-key"
    access_tokens: frozenset[str] = field(default_factory=frozenset)  # Bearer tokens accepted as they are
    # The partner OAuth server (`emulator/oauth.py`): its client, token lifetimes on the emulator's clock, and the
    # grace for a refresh token just replaced (0: none, every reuse revokes the login).
    oauth_client_id: str = "demo-client"
    oauth_client_secret: str | None = None  # None: a public client (PKCE only)
    access_token_seconds: int = 3600
    refresh_token_seconds: int | None = None  # None: a refresh token lives until used or revoked
    refresh_grace_seconds: float = 0.0
    # Every API request moves the clock this far first: time passes with the work, so a sync outlives
    # short-lived tokens without a test sleeping.
    clock_step: float = 0.0
    records: int = 200
    seed: int = 0
    page_cap: int = 500
    bulk_max: int = 100
    # What bulk creates accept (`emulator/writes.py`): a top-level `match_on` (the newer guide), or no property
    # beside `data` with creates that upsert on the unique field by themselves (the seed), or none with a
    # duplicate unique value failing the whole batch (the reference site).
    push_dialect: PushDialect = "match_on"
    rate_limit: int | None = 3000
    rate_window: float = 60.0
    # One budget per endpoint (the guide) or one for the whole workspace (an independent server's "100 API
    # requests a minute"); `rate_limit_headers` False: no X-RateLimit-* anywhere and 429s without Retry-After.
    rate_limit_scope: RateLimitScope = "endpoint"
    rate_limit_headers: bool = True
    schemas_shape: SchemasShape = "entities"
    custom_single_patch_500: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    auth_port: int = 0  # the partner OAuth server's own port (0: a free one)
    cache_dir: str | None = None
    log_level: str = "warning"
    # Also serve the time-series JSON-RPC API (`emulator.timeseries`) on the same port.
    timeseries: bool = False
    # Answer variants the live API may send (see `emulator/variants.py`); each is off by default.
    bare_objects: frozenset[str] = field(default_factory=frozenset)  # served without system fields
    links: LinksShape = "full"
    meta: bool = True
    ignore_page_limit: bool = False
    over_page_cap: OverPageCap = "refuse"
    uuid_ids: bool = False
    unknown_field_types: bool = False
    # Meeting recordings (`emulator/recordings.py`): how many to create at start (each on a meeting, transcribed),
    # and the storage origin that serves their signed artifact URLs: another loopback address (a port of its own
    # on `host` when that address cannot be bound), so credentials sent there would be caught in its request log.
    recordings: int = 0
    storage_host: str = "127.0.0.2"
    artifact_ttl: float = 900.0  # seconds a signed URL lives, on the emulator's clock
    artifact_keys: ArtifactKeys = "camel"  # `videoUrl`/`transcriptionUrl` (seed) or `video_url`/`transcript_url`
    transcript_format: TranscriptFormat = "vtt"  # WebVTT, JSON format 1.11, or by recording
    not_transcribed: NotTranscribed = "404"  # the artifacts answer for a recording without a transcript yet
    recording_meeting: RecordingMeeting = "attribute"  # a `meeting_id` attribute, or a `meeting` relationship

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_tokens", frozenset(self.access_tokens))
        object.__setattr__(self, "bare_objects", frozenset(self.bare_objects))
        if self.links not in ("full", "null", "absent"):
            raise ValueError(f"links must be 'full', 'null' or 'absent', not {self.links!r}")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("page_cap", "bulk_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1, or None to switch it off")
        if self.records < 0 or self.recordings < 0:
            raise ValueError("records and recordings must be >= 0")
        if self.access_token_seconds < 1:
            raise ValueError("access_token_seconds must be at least 1")
        if self.refresh_grace_seconds < 0 or self.clock_step < 0:
            raise ValueError("refresh_grace_seconds and clock_step must be >= 0")

    def updated(self, **changes: object) -> EmulatorConfig:
        """A copy with live-changeable settings replaced; refuses unknown or start-only names."""
        return replace_live(self, changes, FIXED_AT_START)


_CHOICES: dict[str, tuple[str, ...]] = {
    "schemas_shape": ("entities", "docs", "keyed"),
    "artifact_keys": ("camel", "snake"),
    "transcript_format": ("vtt", "json", "mixed"),
    "not_transcribed": ("404", "null"),
    "recording_meeting": ("attribute", "relationship"),
    "over_page_cap": ("refuse", "refuse-unnamed", "clamp"),
    "rate_limit_scope": ("endpoint", "workspace"),
    "push_dialect": ("match_on", "upsert", "strict"),
}

C = TypeVar("C")


def replace_live(config: C, changes: dict[str, object], fixed_at_start: frozenset[str]) -> C:
    """`dataclasses.replace` for a running server: unknown names and start-only settings are refused."""
    known = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    fixed = set(changes) & fixed_at_start
    if fixed:
        raise ValueError(f"cannot change while running: {', '.join(sorted(fixed))}")
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]
