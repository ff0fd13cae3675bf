"""Demo-data determinism, the in-process and `/_emulator/` control surfaces, and `python -m emulator`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from emulator import RunningEmulator
from emulator.demo_data import plan


def test_demo_data_is_deterministic(emulator_factory: Callable[..., RunningEmulator], tmp_path: Path) -> None:
    a = emulator_factory(records=120, seed=11, cache_dir=str(tmp_path / "a"))
    b = emulator_factory(records=120, seed=11, cache_dir=str(tmp_path / "b"))
    c = emulator_factory(records=120, seed=12, cache_dir=str(tmp_path / "a"))
    for obj in ("person", "company", "deal", "meeting", "task", "user", "c_sales_order"):
        assert a.store.records(obj) == b.store.records(obj)
    assert a.store.records("person") != c.store.records("person")
    assert a.store.links("deal", "people") == b.store.links("deal", "people")


def test_demo_data_variety(shared: RunningEmulator) -> None:
    counts = plan(400)
    assert sum(counts.values()) == 400 and counts["user"] == 5
    assert {k: len(shared.store.records(k)) for k in counts} == counts
    people = [p["attributes"] for p in shared.store.records("person")]
    assert {type(p["name"]).__name__ for p in people} == {"dict", "str", "NoneType"}
    assert any(not p["email_addresses"]["items"] for p in people)
    assert any(ord(ch) > 127 for p in people for ch in str(p["name"]))
    stamps = [p["_updated_at"] for p in people]
    assert len(set(stamps)) < len(stamps)  # bulk-import ties
    orders = [o["attributes"] for o in shared.store.records("c_sales_order")]
    assert len({o["order_number"] for o in orders}) == len(orders)
    assert all(t["attributes"]["assignee_id"] for t in shared.store.records("task"))


def test_stats_snapshot(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.stats.reset()
    api.get("objects/person/resources")
    api.get("objects/company/resources")
    api.get("objects/person/records/per_missing")
    assert fresh.stats.snapshot() == {
        ("GET", "/objects/{object}/resources", 200): 2,
        ("GET", "/objects/{object}/records/{id}", 404): 1,
    }
    # Per concrete endpoint (the rate-limit budget): object slugs kept, record ids collapsed.
    assert fresh.stats.endpoints() == {
        "GET /objects/person/resources": {200: 1},
        "GET /objects/company/resources": {200: 1},
        "GET /objects/person/records/{id}": {404: 1},
    }


def test_config_update_refuses_unknown_and_fixed(fresh: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="unknown"):
        fresh.config_update(pages=3)
    with pytest.raises(ValueError, match="cannot change"):
        fresh.config_update(records=5)


def test_control_routes(fresh: RunningEmulator, api: httpx.Client) -> None:
    ctl = httpx.Client(base_url=f"{fresh.origin}/_emulator")
    assert ctl.get("health").json()["status"] == "ok"
    assert ctl.post("stats/reset").json()["total"] == 0
    api.get("users")
    stats = ctl.get("stats").json()
    assert stats["total"] == 1 and stats["requests"] == [
        {"method": "GET", "route": "/users", "status": 200, "count": 1}
    ]
    [users] = stats["endpoints"]
    assert users["endpoint"] == "GET /users" and users["by_status"] == {"200": 1}
    assert sum(users["ticks"].values()) == 1

    assert ctl.post("faults", json={"burst_429": 1}).json()["burst_429"] == 1
    assert api.get("users").status_code == 429
    ctl.post("faults", json={"conflict_409": 5})
    assert ctl.post("faults", json={}).json()["conflict_409"] == 0
    assert ctl.post("faults", json={"bogus": 1}).status_code == 400

    assert ctl.post("clock", json={"freeze": "2026-02-02T00:00:00Z"}).json() == {
        "now": "2026-02-02T00:00:00.000Z",
        "frozen": True,
    }
    assert ctl.post("clock", json={"advance": 1.25}).json()["now"] == "2026-02-02T00:00:01.250Z"
    assert ctl.post("clock", json={"resume": True}).json()["frozen"] is False
    assert ctl.post("clock", json={}).status_code == 400

    cfg = ctl.post("config", json={"page_cap": 5, "access_tokens": ["t"]}).json()
    assert cfg["page_cap"] == 5 and cfg["access_tokens"] == ["t"]
    assert api.get("objects/person/resources").json()["meta"]["limit"] == 5
    assert ctl.post("config", json={"records": 1}).status_code == 400


def test_mutate_touches_share_and_creates_deletes(fresh: RunningEmulator) -> None:
    ctl = httpx.Client(base_url=f"{fresh.origin}/_emulator")
    fresh.clock.freeze("2026-06-01T00:00:00Z")
    before = [r["id"] for r in fresh.store.records("person")]
    result = ctl.post("mutate", json={"object": "person", "update_share": 0.25, "create": 3, "delete": 2}).json()
    assert result == {"round": 1, "updated": len(before[1::4]), "created": 3, "deleted": 2}
    after = fresh.store.records("person")
    assert len(after) == len(before) + 1
    touched = {r["id"] for r in after if r["attributes"]["_updated_at"] == "2026-06-01T00:00:00.000Z"}
    fresh_ids = {r["id"] for r in after} - set(before)
    assert len(fresh_ids) == 3 and fresh_ids <= touched
    assert touched - fresh_ids <= set(before[1::4]) and len(touched - fresh_ids) >= len(before[1::4]) - 2
    assert ctl.post("mutate", json={"object": "spaceship"}).status_code == 400


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_python_m_emulator_prints_settings_and_serves(tmp_path: Path, stop: signal.Signals) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "CLARIFY_EMULATOR_CACHE": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--records",
            "50",
            "--workspace",
            "w1",
            "--api-key",
            "k1",
            "--rate-limit",
            "off",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        settings = dict(line.split("=", 1) for line in lines)
        assert set(settings) == {"CLARIFY_BASE_URL", "CLARIFY_WORKSPACE", "CLARIFY_API_KEY"}
        assert settings["CLARIFY_WORKSPACE"] == "w1" and settings["CLARIFY_API_KEY"] == "k1"
        assert settings["CLARIFY_BASE_URL"].startswith("http://127.0.0.1:")
        r = httpx.get(
            f"{settings['CLARIFY_BASE_URL']}/workspaces/w1/users", headers={"Authorization": "api-key k1"}, timeout=30
        )
        assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers
    finally:
        proc.send_signal(stop)
        assert proc.wait(timeout=30) == 0


def test_timeseries_api_can_share_the_port(emulator_factory: Callable[..., RunningEmulator], cache_dir: str) -> None:
    emu = emulator_factory(records=20, cache_dir=cache_dir, timeseries=True)
    assert emu.timeseries is not None and emu.timeseries.clock is emu.clock
    assert httpx.post(f"{emu.base_url}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "x"}).status_code != 404
    crm = httpx.get(f"{emu.base_url}/workspaces/{emu.workspace}/users", headers={"Authorization": "api-key demo-key"})
    assert crm.status_code == 200
