"""One emulated workspace: settings, data, clock, faults, counters — shared by the API, control routes and tests."""

from __future__ import annotations

import random
import threading

from emulator.clock import Clock
from emulator.config import EmulatorConfig
from emulator.demo_data import Generator
from emulator.faults import Faults
from emulator.lists import Lists
from emulator.oauth import OAuthServer
from emulator.ratelimit import RateLimiter
from emulator.recordings import Recordings
from emulator.stats import Stats
from emulator.store import SYSTEM_ACTOR, RecordStore, require_object
from emulator.timeseries import TimeseriesConfig, TimeseriesState

# Generated names embed a running number; mutation rounds start far above any demo-data index.
MUTATION_BASE = 1_000_000_000


class Emulator:
    def __init__(self, config: EmulatorConfig, store: RecordStore, clock: Clock) -> None:
        self._config = config
        self._config_lock = threading.Lock()
        self.store = store
        self.clock = clock
        self.faults = Faults()
        self.stats = Stats()
        self.limiter = RateLimiter()
        self.lists = Lists(clock)
        self.oauth = OAuthServer(lambda: self._config, clock)  # the partner OAuth server (its own port)
        self._mutations = 0
        self.recordings = Recordings(store, clock, config.seed)
        self.recordings.create(config.recordings)
        # Shares the clock, so freezing time holds for both APIs.
        self.timeseries = TimeseriesState(TimeseriesConfig(seed=config.seed), clock) if config.timeseries else None

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def config_update(self, **changes: object) -> EmulatorConfig:
        """Swap in a new config; requests already running keep the one they started with."""
        with self._config_lock:
            self._config = self._config.updated(**changes)
            if "rate_limit" in changes or "rate_window" in changes:
                self.limiter.reset()
            return self._config

    def mutate(self, object: str, update_share: float = 0.0, create: int = 0, delete: int = 0) -> dict[str, int]:
        """Deterministic churn for benchmarks: touch every k-th record, add and remove some.

        Touched and created records all get the current clock time, i.e. one shared `_updated_at`.
        """
        require_object(object)
        if not 0 <= update_share <= 1 or create < 0 or delete < 0:
            raise ValueError("update_share must be within [0, 1]; create and delete must be >= 0")
        self._mutations += 1
        rnd = self._mutations
        ids = self.store.ids(object)
        touched: list[str] = []
        if update_share > 0 and ids:
            step = max(1, round(1 / update_share))
            touched = ids[rnd % step :: step]
            self.store.touch(object, touched, SYSTEM_ACTOR)
        doomed = random.Random(f"{self.config.seed}:{rnd}").sample(ids, min(delete, len(ids)))
        if doomed:
            self.store.delete_many(object, doomed)
        if create:
            gen = Generator(self.config.seed, f"mutate:{rnd}", {})
            gen.pools = {slug: self.store.ids(slug) for slug in ("user", "company", "person")}
            now = self.clock.now_iso()
            fresh = []
            for i in range(create):
                rid, attrs = gen.record(object, MUTATION_BASE * rnd + i)
                attrs.update(_created_at=now, _updated_at=now)
                fresh.append((rid, attrs))
            self.store.insert_generated(object, fresh)
        return {"round": rnd, "updated": len(touched), "created": create, "deleted": len(doomed)}
