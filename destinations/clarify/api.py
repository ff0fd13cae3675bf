"""The write calls the push makes, as thin methods over the shared `HttpClient` (sources/common/http.py).

Retries, 429/Retry-After, pacing and error mapping all happen in that client; this module only builds
paths and bodies and picks `idempotent`: a bulk create with `match_on` is an upsert and safe to resend after
a 5xx, a plain bulk create (objects without a unique field) is not, a PATCH always is.
"""

from __future__ import annotations

from typing import Any

from sources.common.connection import ClarifyConnection
from sources.common.http import HttpClient

_FIXES = {
    401: "the API refused the key: check CLARIFY_API_KEY (sent as `api-key <KEY>`)",
    403: "the key may not write here: use a key with write access",
    404: "not found: check CLARIFY_WORKSPACE, the object slug and CLARIFY_BASE_URL (it must end in /v1)",
}


def _describe(status: int, path: str, detail: str) -> str:
    fix = _FIXES.get(status)
    base = f"HTTP {status} on {path}: {detail or 'no detail'}"
    return f"{base} — {fix}" if fix else base


def make_client(connection: ClarifyConnection) -> HttpClient:
    return HttpClient(
        connection.workspace_url,
        headers={"Authorization": connection.authorization(), "Accept": "application/json"},
        describe_error=_describe,
        unreachable_hint="check CLARIFY_BASE_URL and that the API is up",
    )


class ClarifyWriter:
    """Bulk create/upsert, bulk update and relationship sets for one object."""

    def __init__(self, client: HttpClient, obj: str):
        self.client = client
        self.obj = obj

    def schemas(self) -> Any:
        return self.client.get_json("/schemas", tag="push")

    def bulk_create(self, attributes: list[dict[str, Any]], match_on: str | None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"data": [{"type": self.obj, "attributes": a} for a in attributes]}
        if match_on:
            body["match_on"] = match_on
        answer = self.client.request_json(
            "POST", f"/objects/{self.obj}/records/bulk", json=body, tag="push", idempotent=bool(match_on)
        )
        return _records(answer)

    def bulk_update(self, rows: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        body = {"data": [{"type": self.obj, "id": rid, "attributes": a} for rid, a in rows]}
        answer = self.client.request_json("PATCH", f"/objects/{self.obj}/records", json=body, tag="push")
        return _records(answer)

    def set_relationship(self, record_id: str, name: str, target_type: str, target_ids: list[str]) -> None:
        body = {"data": [{"id": t, "type": target_type} for t in target_ids]}
        self.client.request(
            "PATCH", f"/objects/{self.obj}/records/{record_id}/relationships/{name}", json=body, tag="push"
        )


def _records(answer: Any) -> list[dict[str, Any]]:
    data = answer.get("data") if isinstance(answer, dict) else answer
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []
