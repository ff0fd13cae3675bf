"""The one exception every layer raises; the app renders it as JSON:API (or the Nest shape under a fault)."""

from __future__ import annotations

from dataclasses import dataclass, field

TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class ErrorItem:
    status: int
    detail: str
    pointer: str | None = None

    def as_jsonapi(self) -> dict[str, object]:
        item: dict[str, object] = {
            "status": str(self.status),
            "title": TITLES.get(self.status, "Error"),
            "detail": self.detail,
        }
        if self.pointer is not None:
            item["source"] = {"pointer": self.pointer}
        return item


@dataclass
class ApiError(Exception):
    """An error response; `items` holds several when a batch has more than one bad record."""

    status: int
    detail: str
    pointer: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    items: list[ErrorItem] = field(default_factory=list)
    nest_shape: bool = False  # answered in class-validator's shape whatever the fault switch says

    def __post_init__(self) -> None:
        super().__init__(self.detail)
        if not self.items:
            self.items = [ErrorItem(self.status, self.detail, self.pointer)]

    def jsonapi(self) -> dict[str, object]:
        return {"errors": [item.as_jsonapi() for item in self.items]}

    def nest(self) -> dict[str, object]:
        return {
            "statusCode": self.status,
            "message": [item.detail for item in self.items],
            "error": TITLES.get(self.status, "Error"),
        }


@dataclass
class TakenError(ApiError):
    """A unique value (`key`) already held by another record: each push dialect words it its own way."""

    key: str = ""
