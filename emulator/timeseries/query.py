"""Resource queries: MongoDB-like filters, sort, limit/skip — the `query` param of the select methods."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from core.timefmt import parse_iso

COMPARISONS = ("$eq", "$ne", "$regex", "$in", "$nin", "$lt", "$lte", "$gt", "$gte")


class ParamIssues(Exception):
    """Invalid params, by request path (the `data.params` of a -32602 error)."""

    def __init__(self, issues: dict[str, list[str]]):
        super().__init__(str(issues))
        self.issues = issues


def _lookup(doc: dict[str, Any], path: str) -> list[Any]:
    """Values at a dotted path; a list along the way matches if any element does."""
    current: list[Any] = [doc]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in current:
            if isinstance(value, dict) and part in value:
                got = value[part]
                nxt.extend(got if isinstance(got, list) else [got])
        current = nxt
    return current


def _as_time(arg: Any) -> Any:
    """A filter argument compared with a timestamp field (`createdAt`), parsed; unparseable text never matches."""
    if isinstance(arg, list):
        return [_as_time(a) for a in arg]
    try:
        return parse_iso(arg) if isinstance(arg, str) else arg
    except ValueError:
        return arg


def _compare(op: str, value: Any, arg: Any) -> bool:
    if isinstance(value, datetime):
        arg = _as_time(arg)
    try:
        if op == "$eq":
            return value == arg
        if op == "$ne":
            return value != arg
        if op == "$in":
            return value in arg
        if op == "$nin":
            return value not in arg
        if op == "$regex":
            return isinstance(value, str) and re.search(arg, value) is not None
        if op == "$lt":
            return value < arg
        if op == "$lte":
            return value <= arg
        if op == "$gt":
            return value > arg
        if op == "$gte":
            return value >= arg
    except TypeError:
        return False
    raise AssertionError(op)


def check_filter(flt: Any, path: str) -> None:
    if not isinstance(flt, dict):
        raise ParamIssues({path: ["must be an object"]})
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list):
                raise ParamIssues({f"{path}.{key}": ["must be an array"]})
            for index, sub in enumerate(cond):
                check_filter(sub, f"{path}.{key}.{index}")
        elif key.startswith("$"):
            raise ParamIssues({f"{path}.{key}": ["unknown operator"]})
        elif isinstance(cond, dict):
            for op, arg in cond.items():
                if op not in COMPARISONS:
                    raise ParamIssues({f"{path}.{key}.{op}": ["unknown operator"]})
                if op in ("$in", "$nin") and not isinstance(arg, list):
                    raise ParamIssues({f"{path}.{key}.{op}": ["must be an array"]})
                if op == "$regex":
                    try:
                        re.compile(arg)
                    except (re.error, TypeError):
                        raise ParamIssues({f"{path}.{key}.{op}": ["invalid regular expression"]}) from None


def matches(doc: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(doc, sub) for sub in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, sub) for sub in cond):
                return False
        else:
            values = _lookup(doc, key)
            conds = cond if isinstance(cond, dict) else {"$eq": cond}
            for op, arg in conds.items():
                if op in ("$ne", "$nin"):
                    if not all(_compare(op, v, arg) for v in values):
                        return False
                elif not any(_compare(op, v, arg) for v in values):
                    return False
    return True


def parse_query(query: Any, path: str, limit_default: int, limit_max: int) -> dict[str, Any]:
    """Validated `{filter, sort, limit, skip, total}`; raises ParamIssues naming the bad path."""
    if query is None:
        query = {}
    if not isinstance(query, dict):
        raise ParamIssues({path: ["must be an object"]})
    # pyclarify's ResourceQuery sends unset members as null: null means "the default".
    query = {key: value for key, value in query.items() if value is not None}
    issues: dict[str, list[str]] = {}
    unknown = set(query) - {"filter", "sort", "limit", "skip", "total"}
    for key in sorted(unknown):
        issues[f"{path}.{key}"] = ["unknown field"]
    flt = query.get("filter") or {}
    try:
        check_filter(flt, f"{path}.filter")
    except ParamIssues as exc:
        issues.update(exc.issues)
    sort = query.get("sort") or []
    if not isinstance(sort, list) or not all(isinstance(s, str) and s.lstrip("-") for s in sort):
        issues[f"{path}.sort"] = ["must be an array of field names"]
    limit = query.get("limit", limit_default)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0 or limit > limit_max:
        issues[f"{path}.limit"] = [f"must be an integer from 0 to {limit_max}"]
    skip = query.get("skip", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        issues[f"{path}.skip"] = ["must be a non-negative integer"]
    total = query.get("total", False)
    if not isinstance(total, bool):
        issues[f"{path}.total"] = ["must be a boolean"]
    if issues:
        raise ParamIssues(issues)
    return {"filter": flt, "sort": sort, "limit": limit, "skip": skip, "total": total}


def run_query(docs: list[dict[str, Any]], query: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(page of matching docs, total matching)."""
    hits = [doc for doc in docs if matches(doc, query["filter"])]
    for field in reversed(query["sort"] or ["id"]):
        name = field.lstrip("-")
        hits.sort(key=lambda d, n=name: (_lookup(d, n) or [""])[0], reverse=field.startswith("-"))
    start = query["skip"]
    return hits[start : start + query["limit"]], len(hits)
