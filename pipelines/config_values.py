"""Scalar settings the sync reads from dlt config (`[sources.clarify]`, or the environment as dlt maps it), each
checked with a one-line error that names the setting."""

from __future__ import annotations

from typing import Any

import dlt

from core.errors import ConfigError


def _value(key: str) -> Any:
    try:
        return dlt.config.get(key)
    except Exception:  # no config at all: the default
        return None


def hours(key: str, default_seconds: float) -> float:
    """A number of hours, in seconds."""
    value = _value(key)
    try:
        return float(value) * 3600 if value not in (None, "") else default_seconds
    except (TypeError, ValueError):
        raise ConfigError(f"{key} = {value!r} is not a number of hours") from None


def flag(key: str) -> bool:
    """A switch: true/false (TOML), or its text in an environment variable."""
    value = _value(key)
    if not isinstance(value, str):
        return bool(value)
    text = value.strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no", ""):
        raise ConfigError(f"{key} = {value!r} is not true or false")
    return text in ("true", "1", "yes")
