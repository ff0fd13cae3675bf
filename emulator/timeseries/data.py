"""The emulated Clarify store: items and signals, generated lazily from a seed, plus what clients write.

A year of samples for hundreds of items is never stored: a demo item's samples are a pure function of
(seed, item, sample index), computed for the window asked. Samples written with `integration.insert` (or by
a test, as late commits) live in a per-signal overlay, keyed by microseconds, that wins over the generated
values. Generated samples fall on whole seconds; the `_ms` methods are views for callers in milliseconds.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from core.timefmt import US_PER_MS
from emulator.clock import Clock
from emulator.timeseries.config import TimeseriesConfig
from emulator.timeseries.durations import duration_ms
from emulator.timeseries.times import iso

DAY_MS = 86_400_000
_INTERVALS = ("PT5M", "PT15M", "PT1H", "PT6H", "P1D")
_SITES = ("oslo", "bergen", "trondheim", "stavanger")
_KINDS = (("temperature", "°C"), ("pressure", "bar"), ("flow", "m³/h"), ("power", "kW"), ("level", "%"))
_STATES = {"0": "off", "1": "idle", "2": "running"}


def make_id(seed: int, kind: str, n: int | str) -> str:
    """A 20-character lowercase id, stable for (seed, kind, n), shaped like Clarify's."""
    digest = hashlib.sha1(f"{seed}:{kind}:{n}".encode()).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    number = int.from_bytes(digest[:13], "big")
    return "".join(alphabet[(number >> (5 * i)) & 31] for i in range(20))


def content_hash(value: Any) -> str:
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _mix(a: int, b: int) -> int:
    x = (a * 0x9E3779B1 + b * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    x = (x * 0x297A2D39) & 0xFFFFFFFF
    return x ^ (x >> 15)


@dataclass
class Generator:
    """How a demo item's samples are made: every `interval_ms` from `start_ms`, with a few gaps."""

    key: int
    start_ms: int
    interval_ms: int
    enum: bool

    def samples(self, lo: int, hi: int) -> list[tuple[int, float]]:
        if hi <= lo:
            return []
        first = max(0, -(-(lo - self.start_ms) // self.interval_ms))
        out = []
        k = first
        period = 97 + self.key % 200
        while True:
            t = self.start_ms + k * self.interval_ms
            if t >= hi:
                break
            mixed = _mix(self.key, k)
            if mixed % 29 != 0:  # a gap now and then
                if self.enum:
                    out.append((t, float(mixed % 3)))
                else:
                    wave = 20.0 * math.sin(2 * math.pi * k / period)
                    out.append((t, round(50.0 + (self.key % 40) + wave + (mixed % 1000) / 100.0, 3)))
            k += 1
        return out


@dataclass
class Resource:
    type: str
    id: str
    attributes: dict[str, Any]
    relationships: dict[str, Any]
    created_ms: int
    updated_ms: int
    annotations: dict[str, str] = field(default_factory=dict)

    def touch(self, now_ms: int) -> None:
        self.updated_ms = now_ms

    def update(self, attributes: dict[str, Any], annotations: dict[str, str] | None, now_ms: int) -> bool:
        """Merge attributes and annotations in; True (and a new `updatedAt`) when anything changed."""
        merged = {**self.attributes, **attributes}
        notes = {**self.annotations, **(annotations or {})}
        if merged == self.attributes and notes == self.annotations:
            return False
        self.attributes, self.annotations = merged, notes
        self.touch(now_ms)
        return True

    def view(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "meta": {
                "createdAt": iso(self.created_ms),
                "updatedAt": iso(self.updated_ms),
                "attributesHash": content_hash(self.attributes),
                "relationshipsHash": content_hash(self.relationships),
                "annotations": dict(self.annotations),
            },
            "attributes": dict(self.attributes),
            "relationships": dict(self.relationships),
        }

    def document(self) -> dict[str, Any]:
        """The flat form filters run against: id, attributes at the top level, meta timestamps as datetimes."""
        doc = dict(self.attributes)
        doc["id"] = self.id
        doc["createdAt"] = datetime.fromtimestamp(self.created_ms / 1000, UTC)
        doc["updatedAt"] = datetime.fromtimestamp(self.updated_ms / 1000, UTC)
        doc["annotations"] = dict(self.annotations)
        return doc


@dataclass
class Signal:
    resource: Resource
    integration: str
    input_id: str
    overlay: dict[int, float | None] = field(default_factory=dict)  # microseconds -> value (None deletes)
    item_id: str | None = None


@dataclass
class Item:
    resource: Resource
    signal_id: str | None
    generator: Generator | None


SIGNAL_DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "labels": {},
    "engUnit": "",
    "enumValues": {},
    "sourceType": "measurement",
    "valueType": "numeric",
    "sampleInterval": None,
    "gapDetection": None,
}
ITEM_DEFAULTS: dict[str, Any] = {**SIGNAL_DEFAULTS, "visible": False}


class SeriesStore:
    """Items, signals and samples behind one lock; every method is safe to call from any thread."""

    def __init__(self, config: TimeseriesConfig, clock: Clock):
        self.lock = threading.RLock()
        self.clock = clock
        self.integration = config.integration
        self.items: dict[str, Item] = {}
        self.signals: dict[str, Signal] = {}
        self.signals_by_input: dict[tuple[str, str], str] = {}
        now = int(clock.now() * 1000)
        self.start_ms = (now // 3_600_000) * 3_600_000 - config.history_days * DAY_MS
        self._seed = config.seed
        for n in range(config.items):
            self._add_demo(n)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def now_us(self) -> int:
        return self.now_ms() * US_PER_MS

    def _add_demo(self, n: int) -> None:
        seed = self._seed
        key = _mix(seed, n)
        site = _SITES[key % len(_SITES)]
        enum = n % 6 == 5
        kind, unit = ("state", "") if enum else _KINDS[(key >> 4) % len(_KINDS)]
        interval = _INTERVALS[(key >> 8) % len(_INTERVALS)]
        labels = {"site": [site], "kind": [kind], "line": [f"L{(key >> 12) % 3 + 1}"]}
        if n % 4 == 0:
            labels["tags"] = sorted({f"t{(key >> 16) % 5}", f"t{(key >> 20) % 5}"})
        attributes = {
            **ITEM_DEFAULTS,
            "name": f"{site.title()} {kind} {n}",
            "description": f"Demo {kind} sensor {n} at {site}",
            "labels": labels,
            "engUnit": unit,
            "enumValues": dict(_STATES) if enum else {},
            "valueType": "enum" if enum else "numeric",
            "sampleInterval": interval,
            "gapDetection": f"PT{2 * duration_ms(interval) // 60000}M",
            "visible": True,
        }
        signal_attrs = {k: v for k, v in attributes.items() if k != "visible"}
        item_id, signal_id = make_id(seed, "item", n), make_id(seed, "signal", n)
        input_id = f"demo_{n:04d}"
        created = self.start_ms
        self.signals[signal_id] = Signal(
            Resource(
                "signals",
                signal_id,
                signal_attrs,
                {
                    "integration": {"data": {"type": "integrations", "id": self.integration}},
                    "item": {"data": {"type": "items", "id": item_id}},
                },
                created,
                created,
            ),
            self.integration,
            input_id,
            item_id=item_id,
        )
        self.signals_by_input[(self.integration, input_id)] = signal_id
        self.items[item_id] = Item(
            Resource(
                "items",
                item_id,
                attributes,
                {},
                created,
                created,
            ),
            signal_id,
            Generator(key, self.start_ms, duration_ms(interval), enum),
        )

    # --- samples -------------------------------------------------------------------------------------

    def samples_us(self, item_id: str, lo_us: int, hi_us: int) -> dict[int, float]:
        """Samples of an item with lo <= time < hi and time not in the future, keyed by microseconds."""
        with self.lock:
            item = self.items[item_id]
            hi_us = min(hi_us, self.now_us() + 1)
            out: dict[int, float] = {}
            if item.generator:
                lo_ms, hi_ms = -(-lo_us // US_PER_MS), -(-hi_us // US_PER_MS)
                out = {t * US_PER_MS: v for t, v in item.generator.samples(lo_ms, hi_ms)}
            signal = self.signals.get(item.signal_id) if item.signal_id else None
            if signal:
                for t, value in signal.overlay.items():
                    if lo_us <= t < hi_us:
                        if value is None:
                            out.pop(t, None)
                        else:
                            out[t] = value
            return dict(sorted(out.items()))

    def samples(self, item_id: str, lo: int, hi: int) -> dict[int, float]:
        """`samples_us` in milliseconds (lo and hi too), for tests on the generated data."""
        got = self.samples_us(item_id, lo * US_PER_MS, hi * US_PER_MS)
        return {t // US_PER_MS: v for t, v in got.items()}

    def add_samples(self, item_id: str, samples: dict[int, float | None]) -> None:
        """Write samples (keyed by milliseconds) straight to an item's signal: a test's late commit upstream."""
        self.add_samples_us(item_id, {t * US_PER_MS: v for t, v in samples.items()})

    def add_samples_us(self, item_id: str, samples: dict[int, float | None]) -> None:
        """`add_samples` keyed by microseconds; None deletes the sample at that time."""
        with self.lock:
            item = self.items.get(item_id)
            if item is None or item.signal_id is None:
                raise ValueError(f"item {item_id} does not exist or has no signal to write to")
            self.signals[item.signal_id].overlay.update(samples)

    def backfill(self, item_ids: list[str], lo_us: int, hi_us: int, every_us: int) -> int:
        """History that arrives late, as an integration inserting last week's samples today: for each item a
        sample every `every_us` in [lo, hi), half a second past the generator's whole seconds (so each one is
        new), with values that replay. Returns how many samples were written."""
        if every_us <= 0 or hi_us <= lo_us:
            raise ValueError("backfill needs from < to and a positive interval")
        written = 0
        for item_id in item_ids:
            key = int(make_id(self._seed, "backfill", item_id), 32)
            first = lo_us - lo_us % 1_000_000 + 500_000
            times = range(first if first >= lo_us else first + 1_000_000, hi_us, every_us)
            self.add_samples_us(item_id, {t: round((_mix(key, k) % 100_000) / 1000.0, 3) for k, t in enumerate(times)})
            written += len(times)
        return written

    def create_item(self, name: str) -> str:
        """A published numeric item whose signal (input `empty_<n>` of this emulator's integration) has sent
        nothing yet; `backfill` or `add_samples` give it its first samples later. Returns the item's id."""
        with self.lock:
            input_id = f"empty_{sum(1 for key in self.signals_by_input if key[1].startswith('empty_'))}"
            signal, _ = self.signal_for_input(self.integration, input_id, create=True)
            assert signal is not None
            item, _, _ = self.publish(signal, {"name": name, "visible": True}, None, create_only=True)
            return item.resource.id

    # --- writes --------------------------------------------------------------------------------------

    def signal_for_input(self, integration: str, input_id: str, create: bool) -> tuple[Signal | None, bool]:
        with self.lock:
            signal_id = self.signals_by_input.get((integration, input_id))
            if signal_id is not None:
                return self.signals[signal_id], False
            if not create:
                return None, False
            now = self.now_ms()
            signal_id = make_id(self._seed, f"signal:{integration}", input_id)
            signal = Signal(
                Resource(
                    "signals",
                    signal_id,
                    dict(SIGNAL_DEFAULTS),
                    {
                        "integration": {"data": {"type": "integrations", "id": integration}},
                        "item": {"data": None},
                    },
                    now,
                    now,
                ),
                integration,
                input_id,
            )
            self.signals[signal_id] = signal
            self.signals_by_input[(integration, input_id)] = signal_id
            return signal, True

    def publish(
        self, signal: Signal, attributes: dict[str, Any], annotations: dict[str, str] | None, create_only: bool
    ) -> tuple[Item, bool, bool]:
        """(the signal's item, created, updated): a new item, or the existing one merged unless create_only."""
        with self.lock:
            now = self.now_ms()
            if signal.item_id and signal.item_id in self.items:
                item = self.items[signal.item_id]
                updated = not create_only and item.resource.update(attributes, annotations, now)
                return item, False, updated
            item_id = make_id(self._seed, "item:published", signal.resource.id)
            attrs = {**ITEM_DEFAULTS, **signal.resource.attributes, **attributes}
            resource = Resource("items", item_id, attrs, {}, now, now, dict(annotations or {}))
            item = Item(resource, signal.resource.id, None)
            self.items[item_id] = item
            signal.item_id = item_id
            signal.resource.relationships["item"] = {"data": {"type": "items", "id": item_id}}
            signal.resource.touch(now)
            return item, True, False

    def delete_item(self, item_id: str) -> None:
        """Remove an item as Clarify's UI does: gone from selectItems and dataFrame; its signal is unpublished."""
        with self.lock:
            item = self.items.pop(item_id)
            signal = self.signals.get(item.signal_id) if item.signal_id else None
            if signal is not None:
                signal.item_id = None
                signal.resource.relationships["item"] = {"data": None}
                signal.resource.touch(self.now_ms())

    def delete_signal(self, signal_id: str) -> None:
        """Remove a signal: gone from selectSignals; an item published from it stays, without new samples."""
        with self.lock:
            signal = self.signals.pop(signal_id)
            self.signals_by_input.pop((signal.integration, signal.input_id), None)
            if signal.item_id in self.items:
                self.items[signal.item_id].signal_id = None
