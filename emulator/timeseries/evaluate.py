"""`clarify.evaluate` (API 1.1): time-aggregated items and arithmetic calculations over them, per rollup bucket.

Parameters as pyclarify `views/evaluate.py` sends them (`EvaluateParams`: `items` of `ItemAggregation` {id,
aggregation, state?, lead?, lag?, alias}, `calculations` of {formula, alias}, `data` a `DataQuery` whose filter
may name the aliases to return in `series.$in`, `include`, `format`) and as clarify-go `fields/evaluate.go`
names them. `groups` are API 1.2 (pyclarify refuses them for 1.1), so this 1.1 emulator answers -32602.

Emulator limits, said in the error when hit: the state aggregations (`state-seconds`, `state-percent`,
`state-rate`) are not computed; formulas know + - * / % ^, parentheses, numbers, aliases, `PI`,
`time_seconds` and the functions in `FUNCTIONS`. Any null operand gives null, as does division by zero.
Calculations are evaluated on the buckets where some item has a value (a formula of `time_seconds` alone
gets no buckets of its own).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from core.timefmt import DAY_US
from emulator.timeseries.frames import DataQuery, parse_data_query
from emulator.timeseries.query import ParamIssues
from emulator.timeseries.rollup import Buckets
from emulator.timeseries.times import iso_us

Values = list[float | None]
EVALUATE_MAX_DAYS = 1900  # pyclarify `EVALUATE_WINDOWS` has no 3,660-day tier

TIME_AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "count": lambda v: float(len(v)),
    "min": min,
    "max": max,
    "sum": lambda v: float(sum(v)),
    "avg": lambda v: sum(v) / len(v),
    "first": lambda v: v[0],
    "last": lambda v: v[-1],
}
FUNCTIONS: dict[str, Callable[..., float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "sqrt": math.sqrt,
    "abs": abs,
    "exp": math.exp,
    "log": math.log,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "min": min,
    "max": max,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def _aggregated(samples: dict[int, float], item: dict[str, Any], grid: Buckets) -> dict[int, float]:
    """The item's value per bucket start; `lead` n takes the value n buckets later, `lag` n the one n before."""
    grouped: dict[int, list[float]] = {}
    for t, value in samples.items():
        grouped.setdefault(grid.of(t), []).append(value)
    agg = TIME_AGGREGATIONS[item["aggregation"]]
    shift = int(item.get("lead") or 0) - int(item.get("lag") or 0)
    out: dict[int, float] = {}
    for start, values in grouped.items():
        target = grid.shift(start, -shift)
        if target is not None:
            out[target] = float(agg(values))
    return out


def check_items(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ParamIssues({"items": ["must be an array"]})
    issues: dict[str, list[str]] = {}
    for index, item in enumerate(raw):
        path = f"items.{index}"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("alias"), str):
            issues[path] = ["must be an object with id, aggregation and alias"]
        elif item.get("aggregation") not in TIME_AGGREGATIONS:
            known = ", ".join(TIME_AGGREGATIONS)
            issues[f"{path}.aggregation"] = [f"the emulator computes {known}; not {item.get('aggregation')!r}"]
    if issues:
        raise ParamIssues(issues)
    return raw


def _compile(formula: str, path: str, known: set[str]) -> ast.Expression:
    try:
        tree = ast.parse(formula.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ParamIssues({path: ["not a formula"]}) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in known | set(FUNCTIONS) | {"PI", "time_seconds"}:
            raise ParamIssues({path: [f"unknown alias {node.id}"]})
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Call, ast.Name, ast.Load)
        if not isinstance(node, allowed + tuple(_BINARY)) and not (
            isinstance(node, ast.Constant) and isinstance(node.value, int | float)
        ):
            raise ParamIssues({path: [f"unsupported syntax: {type(node).__name__}"]})
    return tree


def _eval(node: ast.AST, env: dict[str, float | None]) -> float | None:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return math.pi if node.id == "PI" else env[node.id]
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if left is None or right is None:
            return None
        try:
            return float(_BINARY[type(node.op)](left, right))
        except (ZeroDivisionError, OverflowError, ValueError):
            return None
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = [_eval(arg, env) for arg in node.args]
    if any(a is None for a in args) or node.func.id not in FUNCTIONS:
        return None
    try:
        return float(FUNCTIONS[node.func.id](*args))
    except (ValueError, OverflowError, TypeError):
        return None


def _calculations(raw: Any, known: set[str]) -> list[tuple[str, ast.Expression]]:
    if not isinstance(raw, list):
        raise ParamIssues({"calculations": ["must be an array"]})
    out = []
    for index, calc in enumerate(raw):
        if (
            not isinstance(calc, dict)
            or not isinstance(calc.get("formula"), str)
            or not isinstance(calc.get("alias"), str)
        ):
            raise ParamIssues({f"calculations.{index}": ["must be an object with formula and alias"]})
        out.append((calc["alias"], _compile(calc["formula"], f"calculations.{index}.formula", known)))
        known = known | {calc["alias"]}
    return out


def evaluation_query(raw_data: Any, now_us: int) -> tuple[DataQuery, list[str] | None]:
    """The data query, and the aliases `data.filter.series.$in` asks for (None: all)."""
    data = dict(raw_data or {})
    flt = dict(data.get("filter") or {})
    wanted = (flt.pop("series", None) or {}).get("$in") if isinstance(flt.get("series"), dict | None) else None
    data["filter"] = flt
    query = parse_data_query(data, now_us)
    if query.rollup is None:
        raise ParamIssues({"data.rollup": ["required: evaluate aggregates per rollup bucket"]})
    if not query.rollup.window and query.hi - query.lo > EVALUATE_MAX_DAYS * DAY_US:
        raise ParamIssues({"data.filter.times": [f"time window exceeds {EVALUATE_MAX_DAYS} days for evaluate"]})
    return query, wanted


def evaluate_frame(
    items: list[dict[str, Any]],
    calculations: Any,
    per_item: dict[str, dict[int, float]],
    query: DataQuery,
    wanted: list[str] | None,
) -> dict[str, Any]:
    """`{times, series}` by alias, over the buckets where some item has a value."""
    grid = query.buckets()
    by_alias = {item["alias"]: _aggregated(per_item[item["id"]], item, grid) for item in items}
    times = sorted({t for values in by_alias.values() for t in values})
    series: dict[str, Values] = {alias: [values.get(t) for t in times] for alias, values in by_alias.items()}
    for alias, tree in _calculations(calculations, set(series)):
        series[alias] = [
            _eval(tree, {**{k: v[i] for k, v in series.items()}, "time_seconds": t / 1_000_000})
            for i, t in enumerate(times)
        ]
    if wanted is not None:
        series = {alias: values for alias, values in series.items() if alias in wanted}
    keep = [i for i in range(len(times)) if any(values[i] is not None for values in series.values())]
    return {
        "times": [iso_us(times[i]) for i in keep],
        "series": {alias: [values[i] for i in keep] for alias, values in series.items()},
    }
