"""Deterministic demo workspace: same (records, seed) → byte-identical rows, cached on disk for fast starts."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

import orjson

from core.timefmt import iso_ms
from emulator.schemas import (
    INDUSTRIES,
    OBJECTS,
    ORDER_STATUSES,
    ROLES,
    STAGES,
    TAGS,
    TASK_STATUSES,
    TIERS,
)
from emulator.tables import DDL, INDEXES, connect, unique_values

T = TypeVar("T")
log = logging.getLogger(__name__)

# Bump when generated content changes so stale cache files are never reused.
DATA_VERSION = 4
# Fixed anchor (not "now") so the data is reproducible; `_updated_at` falls in the year before it.
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
YEAR = 365 * 86400.0
# A few instants shared by many records, like bulk imports: with 1M records each holds
# far more than one page, which is the case an incremental sync must survive.
BULK_INSTANTS = tuple(ANCHOR - d * 86400.0 for d in (200, 90, 7))
BULK_EVERY = 33  # about 3%

SHARES = {"person": 0.35, "company": 0.15, "deal": 0.15, "meeting": 0.10, "task": 0.15, "c_sales_order": 0.10}
MIN_USERS = 5

FIRST = (
    "Ada",
    "José",
    "Zoë",
    "Søren",
    "Анна",
    "李",
    "Łukasz",
    "Nguyễn",
    "Chloé",
    "Mohammed",
    "Priya",
    "Ørjan",
    "Grace",
    "Émile",
    "Yuki",
    "Olu",
    "Maria",
    "Ahmet",
    "Siobhán",
    "Ren",
)
LAST = (
    "Lovelace",
    "García",
    "Øster",
    "Müller",
    "Иванова",
    "王",
    "Kowalski",
    "Trần",
    "Dubois",
    "Haddad",
    "Patel",
    "Nakamura",
    "O'Brien",
    "Smith",
    "Okafor",
    "Rossi",
    "Yılmaz",
    "Ng",
    "Björk",
    "Hopper",
)
COMPANY_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Café ☕",
    "Straße",
    "Nordlys",
    "Żabka",
    "東京",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
)
SUFFIX = ("Inc", "GmbH", "Ltd", "AS", "SA", "KK", "LLC")
JOB_TITLES = ("CEO", "CTO", "Engineer", "Sales Lead", "Analyst", "Designer", "Ops Manager", None)
CITIES = (
    ("Oslo", "NO"),
    ("Berlin", "DE"),
    ("São Paulo", "BR"),
    ("Tokyo", "JP"),
    ("Lagos", "NG"),
    ("Austin", "US"),
    ("Kraków", "PL"),
    ("Montréal", "CA"),
)
PRODUCTS = ("Platform", "Renewal", "Expansion", "Pilot", "Support")


def plan(records: int) -> dict[str, int]:
    """How many records of each object; users are a small fixed share, never fewer than five."""
    users = max(MIN_USERS, records // 200)
    rest = max(0, records - users)
    counts = {slug: int(rest * share) for slug, share in SHARES.items()}
    counts["person"] += rest - sum(counts.values())
    return {"user": users, **counts}


_HMS = tuple(f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60))
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


def _fast_ts(t: float, _days: dict[int, str] = {}) -> str:  # noqa: B006 - deliberate per-process memo
    """`iso_ms` for generation: lookup tables instead of strftime, several times faster."""
    ms = int(round(t * 1000))
    day, rest = divmod(ms, 86_400_000)
    prefix = _days.get(day)
    if prefix is None:
        prefix = _days[day] = iso_ms(datetime.fromtimestamp(day * 86400, UTC))[:11]
    sec, milli = divmod(rest, 1000)
    return prefix + _HMS[sec] + _MILLIS[milli]


def _dates(first_year: int, last_year: int) -> tuple[str, ...]:
    return tuple(
        f"{y}-{m:02d}-{d:02d}" for y in range(first_year, last_year + 1) for m in range(1, 13) for d in range(1, 29)
    )


BIRTHDAYS, FOUNDED = _dates(1950, 2004), _dates(1900, 2024)
DAYS_2025, DAYS_2026 = _dates(2025, 2025), _dates(2026, 2026)


class Generator:
    """All randomness flows from one seeded RNG, consumed in a fixed order.

    Picks use `random()` arithmetic rather than `choice`/`randint`: same determinism, a
    fraction of the cost, which is what keeps 1,000,000 records well under a minute.
    """

    def __init__(self, seed: int, salt: str, counts: dict[str, int]) -> None:
        self.seed = seed
        self._id_salt = int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=8).digest(), "big")
        self.rng = random.Random(f"clarify-emulator:{DATA_VERSION}:{seed}:{salt}")
        self.r = self.rng.random
        self.counts = counts
        # Existing ids to reference instead of demo-data ids (used when mutating a live store).
        self.pools: dict[str, list[str]] = {}

    def ch(self, seq: Sequence[T]) -> T:
        return seq[int(self.r() * len(seq))]

    def ri(self, lo: int, hi: int) -> int:
        return lo + int(self.r() * (hi - lo + 1))

    def id_of(self, slug: str, n: int) -> str:
        """The n-th demo id of an object, computable anywhere: chunks can be generated in parallel.

        Ids grow with `n` (like ULIDs grow with time), which also keeps primary-key inserts sequential.
        """
        # A multiplicative hash of (seed, n): cheap, deterministic, and looks random enough for an id.
        mixed = ((n + 1) * 0x9E3779B97F4A7C15 ^ self._id_salt) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFF
        return f"{OBJECTS[slug].id_prefix}_01H{n:08x}{mixed:015x}"

    def times(self, n: int) -> tuple[str, str]:
        """(created, updated); every BULK_EVERY-th record lands on a shared bulk instant, so even
        small workspaces have ties."""
        r = self.r
        if n % BULK_EVERY == 0:
            updated = BULK_INSTANTS[n // BULK_EVERY % len(BULK_INSTANTS)]
        else:
            updated = ANCHOR - int(r() * YEAR * 1000) / 1000
        created = updated - int(r() * YEAR / 2 * 1000) / 1000
        return _fast_ts(created), _fast_ts(updated)

    def pick(self, slug: str) -> str | None:
        pool = self.pools.get(slug)
        if pool is not None:
            return self.ch(pool) if pool else None
        count = self.counts.get(slug, 0)
        return self.id_of(slug, int(self.r() * count)) if count else None

    def earlier(self, slug: str, n: int) -> str | None:
        """A record generated before the n-th one (or any existing one when mutating a live store)."""
        pool = self.pools.get(slug)
        if pool is not None:
            return self.ch(pool) if pool else None
        return self.id_of(slug, int(self.r() * n)) if n else None

    def attributes(self, slug: str, n: int) -> dict[str, object]:
        """Attributes (without system fields) for the n-th record of `slug`."""
        r, ch, ri = self.r, self.ch, self.ri
        first, last = ch(FIRST), ch(LAST)
        if slug == "user":
            return {"name": f"{first} {last}", "email": f"user{n}@demo.example", "role": ch(ROLES)}
        if slug == "company":
            city, country = ch(CITIES)
            return {
                "name": f"{ch(COMPANY_WORDS)} {ch(SUFFIX)} {n}",
                "domains": {"items": [] if r() < 0.05 else [f"company{n}.example.com"]},
                "industry": ch(INDUSTRIES),
                "employee_count": ri(1, 50000) if r() < 0.9 else None,
                "annual_revenue": round(r() * 1e9, 2),
                "location": {"city": city, "country": country} if r() < 0.8 else None,
                "founded": ch(FOUNDED),
                # Parents come earlier in the sequence, so `parent_company_id.parent_company_id...` chains end.
                "parent_company_id": self.earlier("company", n) if r() < 0.4 else None,
            }
        if slug == "person":
            full = f"{first} {last}"
            roll = r()
            name: object = (
                {"first_name": first, "last_name": last, "full_name": full}
                if roll < 0.7
                else full
                if roll < 0.95
                else None
            )
            city, country = ch(CITIES)
            tags = sorted({ch(TAGS) for _ in range(int(r() * 3))})
            return {
                "name": name,
                "email_addresses": {"items": [] if r() < 0.05 else [f"person{n}@mail{n % 97}.example"]},
                "phone_numbers": {"items": [f"+47 {ri(10000000, 99999999)}"] if r() < 0.5 else []},
                "title": ch(JOB_TITLES),
                "company_id": self.pick("company") if r() < 0.85 else None,
                "location": {"city": city, "country": country} if r() < 0.7 else None,
                "birthday": ch(BIRTHDAYS) if r() < 0.5 else None,
                "lead_score": ri(0, 100) if r() < 0.8 else None,
                "tier": ch(TIERS) if r() < 0.9 else None,
                "is_vip": r() < 0.1,
                "tags": tags,
            }
        if slug == "deal":
            return {
                "name": f"{ch(COMPANY_WORDS)} {ch(PRODUCTS)} #{n}",
                "amount": round(r() * 500000, 2),
                "stage": ch(STAGES),
                "close_date": ch(DAYS_2026) if r() < 0.8 else None,
                "owner_id": self.pick("user"),
            }
        if slug == "meeting":
            start = ANCHOR - ri(0, 365 * 24) * 3600.0
            return {
                "title": f"{ch(PRODUCTS)} sync with {first}",
                "start_time": _fast_ts(start),
                "end_time": _fast_ts(start + 1800),
                "participants": {"items": [f"person{ri(0, 999)}@mail.example"]},
            }
        if slug == "task":
            return {
                "title": f"Follow up with {first} {last}",
                "description": {"text": [{"type": "paragraph", "text": f"Call {first} about {ch(PRODUCTS)}"}]}
                if r() < 0.6
                else None,
                "due_date": ch(DAYS_2026),
                "status": ch(TASK_STATUSES),
                "completed": r() < 0.3,
                "assignee_id": self.pick("user"),
            }
        if slug == "c_sales_order":
            return {
                "order_number": f"SO-{n:08d}",
                "amount": round(r() * 100000, 2),
                "order_date": ch(DAYS_2025),
                "status": ch(ORDER_STATUSES),
                "company_id": self.pick("company"),
                "notes": None if r() < 0.5 else f"Rush order for {first} ✓",
            }
        raise ValueError(f"no generator for {slug}")

    def record(self, slug: str, n: int, actor: str = "system") -> tuple[str, dict[str, object]]:
        """The n-th record's id and full attributes (system fields included)."""
        attrs = self.attributes(slug, n)  # every non-system field, in schema order
        attrs["_created_at"], attrs["_updated_at"] = self.times(n)
        attrs["_created_by"] = attrs["_updated_by"] = actor
        return self.id_of(slug, n), attrs

    def links(self, slug: str, rid: str) -> Iterator[tuple[str, str, str]]:
        """Relationship rows for a freshly generated record (it is always the `src` side)."""
        if slug == "person":
            companies = {self.pick("company"), self.pick("company") if self.r() < 0.2 else None} - {None}
            for c in sorted(companies):  # type: ignore[type-var]
                yield "person_company", rid, c  # type: ignore[misc]
        elif slug in ("deal", "meeting"):
            if slug == "deal" and (company := self.pick("company")):
                yield "deal_company", rid, company
            lo = 1 if slug == "deal" else 0
            people = {self.pick("person") for _ in range(self.ri(lo, 3))} - {None}
            for p in sorted(people):  # type: ignore[type-var]
                yield f"{slug}_person", rid, p  # type: ignore[misc]


CHUNK = 25_000
Chunk = tuple[list[tuple[str, str, str, str, str]], list[tuple[str, str, str]], list[tuple[str, str, str]]]


def generate_chunk(records: int, seed: int, slug: str, start: int, stop: int) -> Chunk:
    """Rows, links and unique keys for records `start..stop` of one object; depends on nothing else."""
    obj = OBJECTS[slug]
    gen = Generator(seed, f"{slug}:{start}", plan(records))
    rows, links, keys = [], [], []
    dumps = orjson.dumps
    for n in range(start, stop):
        rid, attrs = gen.record(slug, n)
        rows.append((rid, slug, attrs["_created_at"], attrs["_updated_at"], dumps(attrs).decode()))
        links.extend(gen.links(slug, rid))
        keys.extend((slug, v, rid) for v in unique_values(obj, attrs))
    return rows, links, keys


def _generate(args: tuple[int, int, str, int, int]) -> Chunk:
    return generate_chunk(*args)


def build(path: str, records: int, seed: int) -> None:
    """Write a fresh database with the demo workspace at `path`, generating chunks on all cores."""
    counts = plan(records)
    tasks = [(records, seed, slug, a, min(a + CHUNK, n)) for slug, n in counts.items() for a in range(0, n, CHUNK)]
    t_start = time.perf_counter()
    conn = connect(path)
    conn.executescript(DDL)
    conn.execute("BEGIN")
    # Spawned workers: forking a process that runs server threads is unsafe.
    pool = ProcessPoolExecutor(os.cpu_count(), mp_context=get_context("spawn")) if len(tasks) > 2 else None
    try:
        chunks = pool.map(_generate, tasks) if pool else map(_generate, tasks)
        for rows, links, keys in chunks:
            conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
            conn.executemany("INSERT OR IGNORE INTO links VALUES (?, ?, ?)", links)
            conn.executemany("INSERT INTO unique_keys VALUES (?, ?, ?)", keys)
    finally:
        if pool:
            pool.shutdown()
    conn.execute("COMMIT")
    t_index = time.perf_counter()
    # A sampled ANALYZE: full statistics over a million rows cost seconds and change no plan here.
    conn.executescript(INDEXES + "PRAGMA analysis_limit=1000; ANALYZE;")
    log.info(
        "demo data: generated and inserted in %.1fs, indexed in %.1fs", t_index - t_start, time.perf_counter() - t_index
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def default_cache_dir() -> Path:
    return Path(os.environ.get("CLARIFY_EMULATOR_CACHE", Path.home() / ".cache" / "clarify-sync-emulator"))


def prepare(target: str, records: int, seed: int, cache_dir: str | None = None) -> None:
    """Copy the cached database for (records, seed) to `target`, building the cache first if needed."""
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    cached = folder / f"v{DATA_VERSION}-r{records}-s{seed}.sqlite"
    if not cached.exists():
        # Build beside the cache and rename, so concurrent servers never read a half-built file.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".building")
        os.close(fd)
        os.unlink(tmp)
        try:
            build(tmp, records, seed)
            os.replace(tmp, cached)
        finally:
            for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
    shutil.copyfile(cached, target)
