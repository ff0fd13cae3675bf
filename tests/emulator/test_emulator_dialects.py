"""Push dialects of bulk creates (`push_dialect`): match_on accepted; refused with creates that upsert; refused with
duplicates failing the whole batch. The batch cap and the faults hold in each; bulk PATCH updates by id in each."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from emulator import RunningEmulator
from tests.emulator.emulator_helpers import error

BULK = "objects/person/records/bulk"
DIALECTS = ("match_on", "upsert", "strict")


def _people(*emails: str, title: str = "t") -> list[dict[str, Any]]:
    return [{"type": "person", "attributes": {"email_addresses": {"items": [e]}, "title": title}} for e in emails]


def _ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [rec["id"] for rec in r.json()["data"]]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_each_dialect_answers_as_its_source_says(fresh: RunningEmulator, api: httpx.Client, dialect: str) -> None:
    ctl = httpx.Client(base_url=f"{fresh.origin}/_emulator")
    assert ctl.post("config", json={"push_dialect": dialect}).json()["push_dialect"] == dialect  # live switch
    (first,) = _ids(api.post(BULK, json={"data": _people("d@x.com")}))
    with_match_on = api.post(BULK, json={"data": _people("D@x.com", title="m"), "match_on": "email_addresses"})
    again = api.post(BULK, json={"data": _people("new@x.com", "d@x.com", title="again")})
    if dialect == "match_on":
        assert _ids(with_match_on) == [first]  # upserted on the email
        assert error(again, 400)["source"]["pointer"] == "/data/1/attributes/email_addresses"
    else:
        assert with_match_on.status_code == 400
        assert with_match_on.json() == {
            "statusCode": 400,
            "message": ["property match_on should not exist"],
            "error": "Bad Request",
        }
    if dialect == "upsert":
        assert _ids(again)[1] == first  # creates upsert on the unique field by themselves
    if dialect == "strict":
        refused = error(again, 422)
        assert refused["detail"] == "Duplicate record found for email: d@x.com" and "source" not in refused
    people = fresh.store.records("person")
    emails = sorted(e.lower() for p in people for e in p["attributes"]["email_addresses"]["items"])
    assert emails.count("d@x.com") == 1 and ("new@x.com" in emails) == (dialect == "upsert")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_batch_cap_faults_and_bulk_patch_in_every_dialect(
    fresh: RunningEmulator, api: httpx.Client, dialect: str
) -> None:
    fresh.config_update(push_dialect=dialect, bulk_max=3)
    assert error(api.post(BULK, json={"data": _people(*"abcd")}), 413)
    fresh.faults.set(commit_then_5xx=1, error_status=502, only_paths=["/objects/person/records/bulk"])
    assert api.post(BULK, json={"data": _people("p@x.com")}).status_code == 502  # committed, then the 502
    people = fresh.store.records("person")
    (rid,) = [r["id"] for r in people if r["attributes"]["email_addresses"] == {"items": ["p@x.com"]}]
    fresh.faults.set(burst_429=1, only_paths=["/objects/person/records"])
    patch = {"data": [{"type": "person", "id": rid, "attributes": {"title": "patched"}}]}
    assert api.patch("objects/person/records", json=patch).status_code == 429
    assert _ids(api.patch("objects/person/records", json=patch)) == [rid]
    assert {r["id"]: r["attributes"]["title"] for r in fresh.store.records("person")}[rid] == "patched"


def test_cli_refuses_an_unknown_dialect() -> None:
    from pipelines.cli.app import app

    done = CliRunner().invoke(app, ["emulator", "--port", "0", "--push-dialect", "lenient"])
    assert done.exit_code != 0 and "push_dialect must be one of match_on, upsert, strict" in done.output
