"""Page rate over real HTTP: `python -m emulator.measure --records 1000000 --pages 400`.

Starts `python -m emulator` as a separate process (so client and server do not share a GIL), then
reads one object the way the incremental sync does — `filter[_updated_at][Is on or after]=<cursor>`,
`sortOrder[column]=_updated_at`, `page[limit]=500`, moving the cursor and skipping records already
seen at the cursor instant — and, for comparison, by plain offset paging from the start.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import httpx


def _start(records: int, seed: int) -> tuple[subprocess.Popen[str], httpx.Client]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--records",
            str(records),
            "--seed",
            str(seed),
            "--rate-limit",
            "off",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    env = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
    client = httpx.Client(
        base_url=f"{env['CLARIFY_BASE_URL']}/workspaces/{env['CLARIFY_WORKSPACE']}",
        headers={"Authorization": f"api-key {env['CLARIFY_API_KEY']}"},
        timeout=60,
    )
    return proc, client


def cursor_pages(client: httpx.Client, obj: str, pages: int) -> tuple[int, int, float]:
    """(pages, records, seconds) reading like the sync: cursor on `_updated_at`, offset only within ties."""
    cursor, skip, records = "1970-01-01T00:00:00.000Z", 0, 0
    start = time.perf_counter()
    for done in range(1, pages + 1):
        body = client.get(
            f"objects/{obj}/resources",
            params={
                "filter[_updated_at][Is on or after]": cursor,
                "sortOrder[column]": "_updated_at",
                "sortOrder[dir]": "ASC",
                "page[limit]": "500",
                "page[offset]": str(skip),
            },
        ).json()
        data = body["data"]
        records += len(data)
        if not data:
            return done, records, time.perf_counter() - start
        last = data[-1]["attributes"]["_updated_at"]
        at_last = sum(1 for d in data if d["attributes"]["_updated_at"] == last)
        skip, cursor = (skip + len(data), cursor) if last == cursor else (at_last, last)
    return pages, records, time.perf_counter() - start


def offset_pages(client: httpx.Client, obj: str, pages: int) -> tuple[int, int, float]:
    records = 0
    start = time.perf_counter()
    for n in range(pages):
        data = client.get(
            f"objects/{obj}/resources", params={"page[limit]": "500", "page[offset]": str(n * 500)}
        ).json()["data"]
        records += len(data)
    return pages, records, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pages", type=int, default=300)
    p.add_argument("--object", default="person")
    a = p.parse_args()
    t0 = time.perf_counter()
    proc, client = _start(a.records, a.seed)
    print(f"server ready in {time.perf_counter() - t0:.1f}s ({a.records:,} records, cpu count {os.cpu_count()})")
    try:
        client.get("users").raise_for_status()  # warm the connection
        for name, run in (("cursor (sync query)", cursor_pages), ("offset", offset_pages)):
            pages, records, secs = run(client, a.object, a.pages)
            print(
                f"{name:20s} {pages} pages, {records:,} records in {secs:.2f}s: "
                f"{pages / secs:.1f} pages/s, {records / secs:,.0f} records/s"
            )
    finally:
        client.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
