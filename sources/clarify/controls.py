"""Per-object controls a user configures: history mode, soft deletes, excluded and hashed fields.

Read from dlt config (`.dlt/config.toml`, or the environment as dlt maps it) and the CLI:

    [sources.clarify.history]
    objects = ["deal", "person"]
    [sources.clarify.soft_delete]
    objects = ["person"]
    [sources.clarify.columns.person]
    exclude = ["phone_numbers"]
    hash = ["email_addresses"]

and the salt from dlt secrets (`[sources.clarify] hash_salt` in `.dlt/secrets.toml`, or
`SOURCES__CLARIFY__HASH_SALT`). Excluded and hashed fields are applied to every page as it arrives, before
anything else sees it (conversion, dlt, logs), so their raw values exist only in the answer's memory.
The API documents no sparse fieldsets (`fields[...]`), so excluded fields are dropped on arrival, not left
out of the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import dlt

from core.errors import ConfigError
from sources.clarify.records import item_text
from sources.clarify.schema import FieldSpec, ObjectSchema
from sources.clarify.settings import SYSTEM_TIMESTAMPS, TRANSCRIPT_TABLE

SECTION = "sources.clarify"
LIST_FIELD_TYPES = ("collection", "multi-select")
# Fields the sync itself needs: the cursor and the key cannot be hidden.
PROTECTED = frozenset({"id", *SYSTEM_TIMESTAMPS})
# Keys of a JSON:API record that are its structure, not fields.
_STRUCTURE = frozenset({"attributes", "relationships", "meta", "type", "links"})


@dataclass(frozen=True)
class Controls:
    history: frozenset[str] = frozenset()
    soft_delete: frozenset[str] = frozenset()
    exclude: Mapping[str, frozenset[str]] = field(default_factory=dict)
    hashed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    salt: bytes = field(default=b"", repr=False)  # a secret: never printed

    def check(self, objects: Iterable[str], destination: str) -> None:
        """Unknown object names, or a lake (no SQL `UPDATE`, no `scd2` here), fail before anything is written.
        Column controls may also name the transcript table (`transcript_tables.py` checks its fields)."""
        known = set(objects)
        named = {
            "history": self.history,
            "soft_delete": self.soft_delete,
            "columns": (frozenset(self.exclude) | frozenset(self.hashed)) - {TRANSCRIPT_TABLE},
        }
        for what, names in named.items():
            if unknown := sorted(names - known):
                raise ConfigError(f"{SECTION}.{what} names unknown object(s) {unknown}: known are {sorted(known)}")
        if destination == "filesystem" and (self.history or self.soft_delete):
            raise ConfigError("history mode and soft deletes need a SQL warehouse: use duckdb or postgres")

    @property
    def plain(self) -> bool:
        """Nothing configured: records load exactly as they arrive (all the small-change load can reproduce).
        Transcript controls do not count: that load never writes transcripts."""
        scrubbed = [obj for obj in (*self.exclude, *self.hashed) if obj != TRANSCRIPT_TABLE and self.scrubs(obj)]
        return not (self.history or self.soft_delete or scrubbed)

    def scrubs(self, obj: str) -> bool:
        return bool(self.exclude.get(obj) or self.hashed.get(obj))

    def schema(self, schema: ObjectSchema) -> ObjectSchema:
        """The schema the converter sees: excluded fields and relationships gone, hashed scalar fields as text."""
        obj = schema.slug
        if not self.scrubs(obj):
            return schema
        fields: dict[str, FieldSpec] = {}
        for name, spec in schema.fields.items():
            if name in self.exclude.get(obj, ()):
                continue
            if name in self.hashed.get(obj, ()) and spec.type not in LIST_FIELD_TYPES:
                spec = replace(spec, type="text")
            fields[name] = spec
        excluded = self.exclude.get(obj, frozenset())
        relationships = {name: target for name, target in schema.relationships.items() if name not in excluded}
        return replace(schema, fields=fields, relationships=relationships)

    def fetcher(
        self, obj: str, list_page: Callable[[str, dict[str, Any]], dict[str, Any]]
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """`list_page` for one object, with its pages scrubbed as they arrive."""
        if not self.scrubs(obj):
            return lambda params: list_page(obj, params)
        exclude = self.exclude.get(obj, frozenset())
        hashed = self.hashed.get(obj, frozenset())

        def fetch(params: dict[str, Any]) -> dict[str, Any]:
            body = list_page(obj, params)
            for record in body.get("data") or ():
                if isinstance(record, dict):
                    self._scrub(record, exclude, hashed)
            return body

        return fetch

    def _scrub(self, record: dict[str, Any], exclude: frozenset[str], hashed: frozenset[str]) -> None:
        """Attributes, and system fields wherever the API variant puts them; excluded names also drop a
        relationship (its link table)."""
        if isinstance(record.get("relationships"), dict):
            for name in exclude:
                record["relationships"].pop(name, None)
        named = (exclude | hashed) - _STRUCTURE
        for holder in (record.get("attributes"), record, record.get("meta")):
            if not isinstance(holder, dict):
                continue
            for name in named & holder.keys():
                if name in exclude:
                    del holder[name]
                else:
                    holder[name] = self._hash_value(holder[name])

    def _hash_value(self, value: Any) -> Any:
        """Collections keep their shape (each item hashed, so a child table joins on hashed values)."""
        if value is None:
            return None
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            return {"items": [self.digest(item) for item in value["items"] if item is not None]}
        if isinstance(value, list):
            return [self.digest(item) for item in value if item is not None]
        return self.digest(value)

    def digest(self, value: Any) -> str:
        """HMAC-SHA256 of the value's text, keyed by the salt: stable across runs, not reversible without it.
        Text is trimmed and lowercased first, so `Ann@X.com` and `ann@x.com` join."""
        text = item_text(value).strip().lower()
        return hmac.new(self.salt, text.encode(), hashlib.sha256).hexdigest()


def load_controls(
    objects: Iterable[str] = (), history: Iterable[str] = (), soft_delete: Iterable[str] = ()
) -> Controls:
    """Config plus the objects named on the command line; a malformed value is a one-line `ConfigError`.

    Column controls are read per object (`sources.clarify.columns.<object>.exclude`, so
    `SOURCES__CLARIFY__COLUMNS__PERSON__EXCLUDE` works too) for each of `objects`, and from the
    `[sources.clarify.columns]` table, whose object names `Controls.check` verifies (a typo must not
    silently store a field someone meant to leave out)."""
    table = _config("columns") or {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{SECTION}.columns] must be a table of objects: see the README, Column controls")
    names = {str(o) for o in table} | set(objects) | {TRANSCRIPT_TABLE}
    exclude = {o: _names(f"columns.{o}.exclude", _config(f"columns.{o}.exclude")) for o in names}
    hashed = {o: _names(f"columns.{o}.hash", _config(f"columns.{o}.hash")) for o in names}
    for obj, fields in [*exclude.items(), *hashed.items()]:
        if fields & PROTECTED:
            raise ConfigError(
                f"[{SECTION}.columns.{obj}] cannot exclude or hash {sorted(fields & PROTECTED)}: the sync needs them"
            )
    return Controls(
        history=_names("history.objects", _config("history.objects")) | frozenset(history),
        soft_delete=_names("soft_delete.objects", _config("soft_delete.objects")) | frozenset(soft_delete),
        exclude={o: n for o, n in exclude.items() if n},
        hashed={o: n for o, n in hashed.items() if n},
        salt=_salt() if any(hashed.values()) else b"",
    )


def _config(key: str) -> Any:
    try:
        return dlt.config.get(f"{SECTION}.{key}")
    except Exception as exc:
        raise ConfigError(f"cannot read {SECTION}.{key} ({exc.__class__.__name__}): fix .dlt/config.toml") from None


def _names(key: str, value: Any) -> frozenset[str]:
    if value in (None, ""):
        return frozenset()
    if isinstance(value, str):  # an environment variable: '["deal", "person"]' or "deal,person"
        value = _json_list(value) if value.lstrip().startswith("[") else value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{SECTION}.{key} must be a list of names, e.g. ["deal", "person"]')
    return frozenset(v.strip() for v in value if v.strip())


def _json_list(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None  # reported as not a list of names


def _salt() -> bytes:
    try:
        salt = dlt.secrets.get(f"{SECTION}.hash_salt")
    except Exception:
        salt = None
    if not salt or not isinstance(salt, str | int):
        raise ConfigError(
            f"hashed fields need a salt: set [{SECTION}] hash_salt in .dlt/secrets.toml "
            "or SOURCES__CLARIFY__HASH_SALT (keep it: a new salt changes every hash)"
        )
    return str(salt).encode()
