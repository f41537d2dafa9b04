"""Target functions: named presets and typed formulas, parsed by an allow-list, never eval'd.

A formula is parsed with :mod:`ast` and walked node by node; only numbers, ``x``, ``pi``,
``e``, arithmetic, comparisons and a fixed set of functions are accepted. Constants are
floats, so ``9**9**9`` overflows to inf instead of building a huge integer.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import torch

from core.config import ConfigError

FIELD = "data.target"
MAX_LENGTH = 500
MAX_NODES = 300
MAX_DEPTH = 40

PRESETS: dict[str, tuple[str, str]] = {
    "cubic": ("x**3 - x**2", "the lesson's target"),
    "sine": ("sin(3*x)", "one and a half periods on [-1, 1]"),
    "abs": ("abs(x)", "a corner at 0"),
    "step": ("where(x > 0, 1, 0)", "a jump at 0"),
    "sawtooth": ("2*(2*x - floor(2*x)) - 1", "ramps with jumps every 0.5"),
    "gaussian": ("exp(-10*x**2)", "a bump centred at 0"),
    "sinc": ("where(x == 0, 1, sin(3*pi*x) / (3*pi*x))", "sin(3πx)/(3πx), ripples around a peak"),
    "poly": ("x**5 - 1.5*x**3 + 0.5*x", "a wiggly quintic"),
}

_UNARY = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "abs": torch.abs, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "relu": torch.relu, "floor": torch.floor, "sign": torch.sign,
}
_FUNCS: dict[str, tuple[int, object]] = {name: (1, fn) for name, fn in _UNARY.items()}
_FUNCS.update({
    "where": (3, lambda c, a, b: torch.where(c != 0, a, b)),
    "clip": (3, lambda v, lo, hi: torch.minimum(torch.maximum(v, lo), hi)),
    "min": (2, torch.minimum),
    "max": (2, torch.maximum),
})
_NAMES = {"pi": math.pi, "e": math.e}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_FORBIDDEN = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "indexing is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment is not allowed",
    ast.IfExp: "if/else is not allowed; use where(cond, a, b)",
    ast.BoolOp: "and/or are not allowed; use where() or min()/max()",
    ast.Starred: "*args are not allowed",
    ast.JoinedStr: "strings are not allowed",
}

Value = float | torch.Tensor


def formula_of(target: str) -> str:
    return PRESETS[target][0] if target in PRESETS else target


def check(target: str) -> ast.Expression:
    """Parse ``target`` (a preset name or a formula); raise ConfigError saying where and why."""
    text = formula_of(target)
    if not text:
        raise ConfigError(FIELD, target, "expected a preset (" + ", ".join(PRESETS) + ") or a formula in x")
    if len(text) > MAX_LENGTH:
        raise ConfigError(FIELD, target, f"the formula is {len(text)} characters long; at most {MAX_LENGTH}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = exc.offset or 0
        raise ConfigError(FIELD, target, f"syntax error at column {col}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(FIELD, target, "the formula is nested too deeply") from None
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > MAX_NODES:
            raise ConfigError(FIELD, target, f"the formula has more than {MAX_NODES} parts")
    _validate(tree.body, target, 0)
    return tree


def _fail(target: str, node: ast.AST, why: str, hint: str = "") -> ConfigError:
    col = getattr(node, "col_offset", -1) + 1
    return ConfigError(FIELD, target, f"{why} at column {col}{hint}")


def _validate(node: ast.AST, target: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _fail(target, node, f"nesting deeper than {MAX_DEPTH} levels")
    kind = type(node)
    if kind in _FORBIDDEN:
        raise _fail(target, node, _FORBIDDEN[kind])
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            what = "strings are" if isinstance(node.value, (str, bytes)) else f"{type(node.value).__name__} values are"
            raise _fail(target, node, f"{what} not allowed")
        return
    if isinstance(node, ast.Name):
        if node.id != "x" and node.id not in _NAMES:
            raise _fail(target, node, f"unknown name '{node.id}'")
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _fail(target, node, "only unary + and - are allowed")
        return _validate(node.operand, target, depth + 1)
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _fail(target, node, "operator not allowed (use + - * / **)")
        _validate(node.left, target, depth + 1)
        return _validate(node.right, target, depth + 1)
    if isinstance(node, ast.Compare):
        if any(type(op) not in _CMPOPS for op in node.ops):
            raise _fail(target, node, "comparison not allowed (use < <= > >= == !=)")
        for child in [node.left, *node.comparators]:
            _validate(child, target, depth + 1)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            _validate(node.func, target, depth + 1)  # says why: attribute access, lambda, ...
            raise _fail(target, node, "only plain function calls such as sin(x) are allowed")
        name = node.func.id
        if name not in _FUNCS:
            raise _fail(target, node, f"unknown function '{name}'", f" (allowed: {', '.join(sorted(_FUNCS))})")
        if node.keywords:
            raise _fail(target, node, "keyword arguments are not allowed")
        arity = _FUNCS[name][0]
        if len(node.args) != arity:
            raise _fail(target, node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
        for arg in node.args:
            _validate(arg, target, depth + 1)
        return
    raise _fail(target, node, f"{kind.__name__} is not allowed")


def evaluate(target: str, x: torch.Tensor) -> torch.Tensor:
    """The target at every point of ``x`` (same shape and dtype); may hold NaN/inf."""
    tree = check(target)
    out = _eval(tree.body, x)
    if not isinstance(out, torch.Tensor):
        out = torch.tensor(out, dtype=x.dtype, device=x.device)
    return torch.broadcast_to(out.to(x.dtype), x.shape).clone()


def _tensor(v: Value, x: torch.Tensor) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v.to(x.dtype) if v.dtype == torch.bool else v
    return torch.tensor(v, dtype=x.dtype, device=x.device)


def _eval(node: ast.AST, x: torch.Tensor) -> Value:
    if isinstance(node, ast.Constant):
        return float(node.value) if abs(node.value) < 1e308 else math.inf
    if isinstance(node, ast.Name):
        return x if node.id == "x" else _NAMES[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, x)
        if isinstance(node.op, ast.USub):
            return -_tensor(v, x) if isinstance(v, torch.Tensor) else -v
        return v
    if isinstance(node, ast.BinOp):
        return _binop(_BINOPS[type(node.op)], _eval(node.left, x), _eval(node.right, x), x)
    if isinstance(node, ast.Compare):
        result = None
        left = _eval(node.left, x)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, x)
            part = _compare(_CMPOPS[type(op)], _tensor(left, x), _tensor(right, x))
            result = part if result is None else result & part
            left = right
        return result.to(x.dtype)
    if isinstance(node, ast.Call):
        fn = _FUNCS[node.func.id][1]
        return fn(*[_tensor(_eval(a, x), x) for a in node.args])
    raise AssertionError(f"unvalidated node {type(node).__name__}")


def _binop(op: str, a: Value, b: Value, x: torch.Tensor) -> Value:
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        with np.errstate(all="ignore"):  # constants fold in float64: overflow gives inf, not an error
            fa, fb = np.float64(a), np.float64(b)
            return float({"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}[op](fa, fb))
    if isinstance(a, torch.Tensor) and a.dtype == torch.bool:
        a = a.to(x.dtype)
    if isinstance(b, torch.Tensor) and b.dtype == torch.bool:
        b = b.to(x.dtype)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return _tensor(a, x) / b
    return _tensor(a, x) ** b


def _compare(op: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return {"<": torch.lt, "<=": torch.le, ">": torch.gt, ">=": torch.ge, "==": torch.eq, "!=": torch.ne}[op](a, b)


def check_range(target: str, x_min: float, x_max: float) -> None:
    """Reject a target with no finite value anywhere on [x_min, x_max]."""
    x = torch.linspace(x_min, x_max, 201)
    y = evaluate(target, x)
    if not torch.isfinite(y).any():
        raise ConfigError(FIELD, target, f"it has no finite value on [{x_min:g}, {x_max:g}]")


def describe(target: str) -> str:
    if target in PRESETS:
        return target
    return target if len(target) <= 24 else target[:21] + "..."
