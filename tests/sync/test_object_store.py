"""The lake on a real S3-compatible server: moto's server mode on loopback, `s3://` bucket URLs, and credentials
given exactly as a user gives them to dlt (environment variables, or `.dlt/secrets.toml` in the project folder).

Delta tables are written and read by deltalake's own S3 client (object_store), parquet files by s3fs; both talk
HTTP to the server, nothing is mocked in process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.warehouse.options import WarehouseOptions
from pipelines.sync import run_sync, sync_status
from tests.sync.conftest import assert_synced, connection_for, table

OBJECTS = ["person", "company", "lists"]
ACCESS_KEY, SECRET_KEY = "testing-key", "testing-secret"
ENV = "DESTINATION__FILESYSTEM__CREDENTIALS__"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 and a free port, stopped after the module."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _bucket(endpoint: str, name: str) -> str:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=name)
    return f"s3://{name}/lake"


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials as environment variables, the way a cron job or a container passes them to dlt."""
    monkeypatch.setenv(f"{ENV}AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv(f"{ENV}AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv(f"{ENV}ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv(f"{ENV}REGION_NAME", "us-east-1")
    return s3_endpoint


def _lake(tmp_path: Path, url: str, table_format: str) -> WarehouseOptions:
    return WarehouseOptions(
        destination="filesystem", bucket_url=url, table_format=table_format, pipelines_dir=str(tmp_path / "pipelines")
    )


def test_delta_on_s3_full_incremental_deletions_status(make_emu: Any, aws_env: str, tmp_path: Path) -> None:
    emu = make_emu()
    wh = _lake(tmp_path, _bucket(aws_env, "delta-lake"), "delta")
    conn = connection_for(emu)
    people = [p["id"] for p in emu.store.records("person")]
    vips = emu.lists.create("person", "VIPs", members=people[:3])
    run_sync(conn, wh, objects=OBJECTS)
    assert_synced(emu, wh, OBJECTS[:2])
    assert sorted(r["record_id"] for r in table(wh, "list_members")) == sorted(people[:3])

    person, gone = emu.store.records("person")[2:4]
    emu.clock.advance(3600)  # beyond the lag window
    emu.store.update("person", person["id"], {"title": "Bucket Keeper", "email_addresses": {"items": []}})
    emu.store.delete("person", gone["id"])
    emu.lists.change(vips.id, add=[people[5]], remove=[people[0]])
    report = run_sync(conn, wh, objects=OBJECTS, reconcile=True)
    assert report.objects["person"].records >= 1 and report.objects["person"].deleted == 1
    assert report.records <= 2 * len(OBJECTS) + 2  # incremental: the change and the lag window, not a full read
    assert_synced(emu, wh, OBJECTS[:2])
    assert [r for r in table(wh, "person__email_addresses") if r["person_id"] in (person["id"], gone["id"])] == []
    assert sorted(r["record_id"] for r in table(wh, "list_members")) == sorted([people[1], people[2], people[5]])

    rows = {r.object: r for r in sync_status(wh)}
    assert rows["person"].rows == len(emu.store.records("person")) and rows["person"].cursor is not None


def test_parquet_on_s3_with_secrets_toml_through_the_cli(
    make_emu: Any, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's project folder: `.dlt/secrets.toml` names the endpoint and keys; `clarify-sync` runs in it."""
    emu = make_emu()
    url = _bucket(s3_endpoint, "parquet-lake")
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "secrets.toml").write_text(
        "[destination.filesystem.credentials]\n"
        f'aws_access_key_id = "{ACCESS_KEY}"\naws_secret_access_key = "{SECRET_KEY}"\n'
        f'endpoint_url = "{s3_endpoint}"\nregion_name = "us-east-1"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESTINATION__", "AWS_"))}
    env.update(
        CLARIFY_BASE_URL=emu.base_url,
        CLARIFY_WORKSPACE=emu.workspace,
        CLARIFY_API_KEY=emu.api_key,
        DLT_DATA_DIR=str(tmp_path / "dlt_home"),
    )
    args = ["--destination", "filesystem", "--bucket-url", url, "--table-format", "parquet"]

    def cli(*command: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pipelines", *command, *args], cwd=project, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("sync", "--objects", "person,company")
    person, gone = emu.store.records("person")[:2]
    emu.clock.advance(3600)
    emu.store.update("person", person["id"], {"title": "Snapshot"})
    emu.store.delete("person", gone["id"])
    cli("sync", "--objects", "person,company")
    status = cli("status")
    assert "person" in status and str(len(emu.store.records("person"))) in status.replace(",", "")

    # Read back as the user's dlt would resolve the same credentials.
    for name, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)):
        monkeypatch.setenv(f"{ENV}{name}", value)
    monkeypatch.setenv(f"{ENV}ENDPOINT_URL", s3_endpoint)
    assert_synced(emu, _lake(tmp_path, url, "parquet"), ["person", "company"])
    assert SECRET_KEY not in status
