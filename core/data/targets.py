"""Target functions: named presets and typed formulas, parsed by an allow-list, never eval'd.

A formula is parsed with :mod:`ast` and walked node by node; only numbers, ``x``, ``pi``,
``e``, arithmetic, comparisons and a fixed set of functions are accepted. Constants are
floats, so ``9**9**9`` overflows to inf instead of building a huge integer.

Evaluation works on numpy arrays (checks in the app's process, which never loads torch) and on
torch tensors (the data a run trains on, with the lesson's exact ops), through one table of ops.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitscope.core.errors import ConfigError

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

_ARITY = {name: 1 for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
                                 "floor", "sign")}
_ARITY.update({"where": 3, "clip": 3, "min": 2, "max": 2})


@dataclass(frozen=True)
class Ops:
    """How to compute on one array library: its functions by formula name, and constants."""

    funcs: dict[str, Callable[..., Any]]
    const: Callable[[float, Any], Any]  # (value, like) -> an array of like's dtype and device
    as_float: Callable[[Any, Any], Any]  # (mask or array, like) -> like's float dtype


def _np_funcs() -> dict[str, Callable[..., Any]]:
    f: dict[str, Callable[..., Any]] = {n: getattr(np, n) for n in
                                        ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "floor", "sign")}
    f.update({
        "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
        "relu": lambda v: np.maximum(v, 0.0),
        "where": lambda c, a, b: np.where(c != 0, a, b),
        "clip": lambda v, lo, hi: np.minimum(np.maximum(v, lo), hi),
        "min": np.minimum, "max": np.maximum,
        "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
        "!=": np.not_equal,
        # torch raises a float32 tensor to a Python float's power in double precision
        "**": lambda a, b: (a.astype(np.float64) ** b).astype(a.dtype),
    })
    return f


NUMPY = Ops(_np_funcs(), lambda v, like: np.asarray(v, dtype=like.dtype),
            lambda a, like: np.asarray(a, dtype=like.dtype))
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

# Python's parser keeps no trace of a comment or a line continuation: with these and everything
# outside printable ASCII refused first, every token of an accepted formula is in the tree the
# allow-list walks (strings are refused there), so nothing can hide in the text
_UNSEEN = frozenset("#\\")


def formula_of(target: str) -> str:
    return PRESETS[target][0] if target in PRESETS else target


def check(target: str) -> ast.Expression:
    """Parse ``target`` (a preset name or a formula); raise ConfigError saying where and why."""
    text = formula_of(target)
    if not text:
        raise ConfigError(FIELD, target, "expected a preset (" + ", ".join(PRESETS) + ") or a formula in x")
    if len(text) > MAX_LENGTH:
        raise ConfigError(FIELD, target, f"the formula is {len(text)} characters long; at most {MAX_LENGTH}")
    for i, ch in enumerate(text):  # before the parser, which drops a comment or a line break unseen
        if ch in _UNSEEN or not " " <= ch <= "~":
            why = ("comments are not allowed" if ch == "#" else
                   "line continuations are not allowed" if ch == "\\" else "a formula is one line of plain ASCII text")
            raise ConfigError(FIELD, target, f"{ch!r} at column {i + 1}: {why}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = exc.offset or 0
        raise ConfigError(FIELD, target, f"syntax error at column {col}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(FIELD, target, "the formula is nested too deeply") from None
    count = 0
    for _ in ast.walk(tree):
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
    check = _CHECKS.get(kind)
    if check is None:
        raise _fail(target, node, f"{kind.__name__} is not allowed")
    for child in check(node, target, depth):  # each node kind says what is wrong with it, or which children to check
        _validate(child, target, depth + 1)


def _check_constant(node: ast.AST, target: str, depth: int) -> list[ast.AST]:
    assert isinstance(node, ast.Constant)
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        what = "strings are" if isinstance(node.value, (str, bytes)) else f"{type(node.value).__name__} values are"
        raise _fail(target, node, f"{what} not allowed")
    return []


def _check_name(node: ast.AST, target: str, depth: int) -> list[ast.AST]:
    assert isinstance(node, ast.Name)
    if node.id != "x" and node.id not in _NAMES:
        raise _fail(target, node, f"unknown name '{node.id}'")
    return []


def _check_unary(node: ast.AST, target: str, depth: int) -> list[ast.AST]:
    assert isinstance(node, ast.UnaryOp)
    if not isinstance(node.op, (ast.USub, ast.UAdd)):
        raise _fail(target, node, "only unary + and - are allowed")
    return [node.operand]


def _check_binop(node: ast.AST, target: str, depth: int) -> list[ast.AST]:
    assert isinstance(node, ast.BinOp)
    if type(node.op) not in _BINOPS:
        raise _fail(target, node, "operator not allowed (use + - * / **)")
    return [node.left, node.right]


def _check_compare(node: ast.AST, target: str, depth: int) -> list[ast.AST]:
    assert isinstance(node, ast.Compare)
    if any(type(op) not in _CMPOPS for op in node.ops):
        raise _fail(target, node, "comparison not allowed (use < <= > >= == !=)")
    return [node.left, *node.comparators]


def _check_call(node: ast.AST, target: str, depth: int) -> list[ast.AST]:
    assert isinstance(node, ast.Call)
    if not isinstance(node.func, ast.Name):
        _validate(node.func, target, depth + 1)  # says why: attribute access, lambda, ...
        raise _fail(target, node, "only plain function calls such as sin(x) are allowed")
    name = node.func.id
    if name not in _ARITY:
        raise _fail(target, node, f"unknown function '{name}'", f" (allowed: {', '.join(sorted(_ARITY))})")
    if node.keywords:
        raise _fail(target, node, "keyword arguments are not allowed")
    arity = _ARITY[name]
    if len(node.args) != arity:
        raise _fail(target, node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
    return list(node.args)


_CHECKS: dict[type[ast.AST], Callable[[ast.AST, str, int], list[ast.AST]]] = {
    ast.Constant: _check_constant, ast.Name: _check_name, ast.UnaryOp: _check_unary, ast.BinOp: _check_binop,
    ast.Compare: _check_compare, ast.Call: _check_call,
}


def evaluate(target: str, x: Any, ops: Ops = NUMPY) -> Any:
    """The target at every point of ``x`` (same shape and dtype); may hold NaN/inf."""
    tree = check(target)
    with np.errstate(all="ignore"):
        out = _eval(tree.body, x, ops)
        out = _array(out, x, ops)
    return out + 0 * x  # broadcast to x's shape, as a new array


def _array(v: Any, x: Any, ops: Ops) -> Any:
    if isinstance(v, float):
        return ops.const(v, x)
    return ops.as_float(v, x) if v.dtype != x.dtype else v


def _eval(node: ast.AST, x: Any, ops: Ops) -> Any:
    if isinstance(node, ast.Constant):
        value = node.value
        assert isinstance(value, (int, float))  # checked by _validate
        return float(value) if abs(value) < 1e308 else math.inf
    if isinstance(node, ast.Name):
        return x if node.id == "x" else _NAMES[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, x, ops)
        if isinstance(node.op, ast.USub):
            return -v if isinstance(v, float) else -_array(v, x, ops)
        return v
    if isinstance(node, ast.BinOp):
        return _binop(_BINOPS[type(node.op)], _eval(node.left, x, ops), _eval(node.right, x, ops), x, ops)
    if isinstance(node, ast.Compare):
        result = None
        left = _eval(node.left, x, ops)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, x, ops)
            part = ops.funcs[_CMPOPS[type(op)]](_array(left, x, ops), _array(right, x, ops))
            result = part if result is None else result & part
            left = right
        return ops.as_float(result, x)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return ops.funcs[node.func.id](*[_array(_eval(a, x, ops), x, ops) for a in node.args])
    raise AssertionError(f"unvalidated node {type(node).__name__}")


def _binop(op: str, a: Any, b: Any, x: Any, ops: Ops) -> Any:
    if isinstance(a, float) and isinstance(b, float):
        with np.errstate(all="ignore"):  # constants fold in float64: overflow gives inf, not an error
            fa, fb = np.float64(a), np.float64(b)
            return float({"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}[op](fa, fb))
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return _array(a, x, ops) / b
    if isinstance(b, float) and "**" in ops.funcs:
        return ops.funcs["**"](_array(a, x, ops), b)
    return _array(a, x, ops) ** b


def check_range(target: str, x_min: float, x_max: float) -> None:
    """Reject a target with no finite value anywhere on [x_min, x_max]."""
    x = np.linspace(x_min, x_max, 201, dtype=np.float32)
    y = evaluate(target, x)
    if not np.isfinite(y).any():
        raise ConfigError(FIELD, target, f"it has no finite value on [{x_min:g}, {x_max:g}]")


def describe(target: str) -> str:
    if target in PRESETS:
        return target
    return target if len(target) <= 24 else target[:21] + "..."


# ---- the same computation as torch source, for an exported script ----------------------------------

_TORCH_NAMES = {"min": "minimum", "max": "maximum"}


def _literal(v: float) -> ast.expr:
    if math.isnan(v) or math.isinf(v):
        node: ast.expr = ast.Call(ast.Name("float"), [ast.Constant("nan" if math.isnan(v) else "inf")], [])
        return ast.UnaryOp(ast.USub(), node) if v < 0 else node
    return ast.UnaryOp(ast.USub(), ast.Constant(-v)) if math.copysign(1.0, v) < 0 else ast.Constant(v)


def _torch(name: str, *args: ast.expr) -> ast.expr:
    return ast.Call(ast.Attribute(ast.Name("torch"), name), list(args), [])


def _src(node: ast.AST) -> tuple[ast.expr | float, bool]:
    """Mirror of :func:`_eval`: a float where it folds a constant, else an expression; and
    whether the value depends on x (has x's shape)."""
    if isinstance(node, ast.Constant):
        value = node.value
        assert isinstance(value, (int, float))
        return (float(value) if abs(value) < 1e308 else math.inf), False
    if isinstance(node, ast.Name):
        return (ast.Name("x"), True) if node.id == "x" else (_NAMES[node.id], False)
    if isinstance(node, ast.UnaryOp):
        v, dep = _src(node.operand)
        if isinstance(node.op, ast.USub):
            return (-v if isinstance(v, float) else ast.UnaryOp(ast.USub(), v)), dep
        return v, dep
    if isinstance(node, ast.BinOp):
        op = _BINOPS[type(node.op)]
        (a, da), (b, db) = _src(node.left), _src(node.right)
        if isinstance(a, float) and isinstance(b, float):
            return _binop(op, a, b, None, NUMPY), False
        if op in ("/", "**"):
            a = _arr(a)
        return ast.BinOp(_arr_or_lit(a), type(node.op)(), _arr_or_lit(b)), da or db
    if isinstance(node, ast.Compare):
        return _src_compare(node)
    if isinstance(node, ast.Call):
        return _src_call(node)
    raise AssertionError(f"unvalidated node {type(node).__name__}")


def _src_compare(node: ast.Compare) -> tuple[ast.expr | float, bool]:
    parts: list[ast.expr] = []
    left, dep = _src(node.left)
    for cmp, comp in zip(node.ops, node.comparators):
        right, dr = _src(comp)
        dep = dep or dr
        parts.append(ast.Compare(_arr(left), [type(cmp)()], [_arr(right)]))
        left = right
    result = parts[0]
    for p in parts[1:]:
        result = ast.BinOp(result, ast.BitAnd(), p)
    return ast.Call(ast.Attribute(result, "to"), [ast.Attribute(ast.Name("x"), "dtype")], []), dep


def _src_call(node: ast.Call) -> tuple[ast.expr | float, bool]:
    assert isinstance(node.func, ast.Name)
    name = node.func.id
    srcs = [_src(a) for a in node.args]
    args = [_arr(a) for a, _ in srcs]
    dep = any(d for _, d in srcs)
    if name == "where":
        cond = ast.Compare(args[0], [ast.NotEq()], [ast.Constant(0)])
        return _torch("where", cond, args[1], args[2]), dep
    if name == "clip":
        return _torch("minimum", _torch("maximum", args[0], args[1]), args[2]), dep
    return _torch(_TORCH_NAMES.get(name, name), *args), dep


def _arr(v: ast.expr | float) -> ast.expr:
    return _torch("tensor", _literal(v)) if isinstance(v, float) else v


def _arr_or_lit(v: ast.expr | float) -> ast.expr:
    return _literal(v) if isinstance(v, float) else v


def render(target: str) -> str:
    """The checked formula written anew from its tree: numbers, names and operators only, never the
    text as it came (for generated source and anything else that must hold no one's own text)."""
    return ast.unparse(check(target).body)


def torch_source(target: str) -> str:
    """``target`` as one torch expression in ``x`` that computes what :func:`evaluate` does with
    torch ops, bit for bit (constants folded the same way), for a script that runs without fitscope."""
    out, dep = _src(check(target).body)
    expr = _arr(out)
    if not dep:
        expr = ast.BinOp(expr, ast.Add(), ast.BinOp(ast.Constant(0), ast.Mult(), ast.Name("x")))
    return ast.unparse(expr)
