"""Typed, frozen run settings and the one path that validates them.

Every way a value arrives (a TOML file, ``--set key=value``, a form field in the app) goes
through :func:`coerce`, so the same bad value gets the same message everywhere.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitscope.core.data import fields as datafields
from fitscope.core.data import targets
from fitscope.core.engine import lrplan, registry
from fitscope.core.errors import ConfigError, printable
from fitscope.core.store.safeio import file_problem as file_problem  # datafile's and export's name for it

ACTIVATIONS = tuple(registry.ACTIVATIONS)
OPTIMIZERS = tuple(registry.OPTIMIZERS)
LOSSES = tuple(registry.LOSSES)
NOISE_KINDS = ("uniform", "gaussian", "none")
SAMPLINGS = ("grid", "random")
SPLITS = ("none", "random", "extrapolate")
KERNELS = ("fast", "autograd", "compiled")
MAX_POINTS = 1_000_000
MAX_LAYERS = 8
MAX_UNITS = 1024


@dataclass(frozen=True)
class DataConfig:
    target: str = "cubic"
    points: int = 300
    x_min: float = -1.0
    x_max: float = 1.0
    sampling: str = "grid"
    noise: str = "uniform"
    noise_level: float = 0.2
    split: str = "none"
    test_fraction: float = 0.2
    file: str = ""  # your own x,y data (CSV/text, .npy, .npz); empty = the target above
    x_column: str = ""  # the file's columns to fit (names or 0-based indexes); empty = automatic
    y_column: str = ""
    seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (10, 10)
    activation: str = "relu"
    init_seed: int = -1  # -1: weights continue the data seed's RNG stream, as the lesson


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "sgd"
    lr: float = 0.2
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 0  # 0 = full batch, as the lesson
    steps: int = 300
    loss: str = "mse"
    device: str = "auto"
    kernels: str = "fast"  # fast: batched, hand-written backward; autograd: the lesson's loop, bit for bit;
    # compiled: fast's step through torch.compile (opt-in: a compile first)
    memory_limit: float = 0.0  # GB a run may hold; 0 = half of this machine's memory (or the GPU's)
    lr_changes: lrplan.Changes = ()  # (from step, lr): live changes, replayed (core/engine/lrplan.py)


@dataclass(frozen=True)
class FitConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def get(self, key: str) -> Any:
        section, name = _split_key(key)
        return getattr(getattr(self, section), name)

    def with_values(self, values: dict[str, Any]) -> FitConfig:
        """A new config with ``values`` (dotted keys, raw or typed) applied and validated."""
        merged = to_dict(self)
        for key, raw in values.items():
            section, name = _split_key(key)
            merged[section][name] = raw
        return from_dict(merged)

    def with_value(self, key: str, raw: Any) -> FitConfig:
        return self.with_values({key: raw})


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def keys() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _split_key(key: str) -> tuple[str, str]:
    if key not in _FIELDS:
        raise ConfigError(key, key, "unknown setting; known settings: " + ", ".join(keys()))
    section, name = key.split(".")
    return section, name


# ---- field parsers: (raw value) -> typed value, or ConfigError ----------------------------

def _int(lo: int, hi: int) -> Callable[[str, Any], int]:
    allowed = f"expected a whole number from {lo} to {hi}"

    def parse(key: str, raw: Any) -> int:
        value = raw
        if isinstance(raw, str):
            text = raw.strip().replace("_", "")
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                raise ConfigError(key, raw, allowed)
            value = int(text)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(key, raw, allowed)
        if not lo <= value <= hi:
            raise ConfigError(key, raw, allowed)
        return value

    return parse


def _float(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Callable[[str, Any], float]:
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
    allowed = f"expected a number in {left}{lo:g}, {hi:g}{right}"

    def parse(key: str, raw: Any) -> float:
        if isinstance(raw, bool):
            raise ConfigError(key, raw, allowed)
        if isinstance(raw, str) and not raw.isascii():  # float() takes other scripts' digits too
            raise ConfigError(key, raw, allowed)
        try:
            value = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise ConfigError(key, raw, allowed) from None
        if not math.isfinite(value):
            raise ConfigError(key, raw, allowed)
        if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
            raise ConfigError(key, raw, allowed)
        return value

    return parse


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    allowed = "expected one of: " + ", ".join(options)

    def parse(key: str, raw: Any) -> str:
        value = raw.strip().lower() if isinstance(raw, str) else raw
        if value not in options:
            raise ConfigError(key, raw, allowed)
        return value

    return parse


def _hidden(key: str, raw: Any) -> tuple[int, ...]:
    allowed = (f"expected a list of 1 to {MAX_LAYERS} layer sizes, each from 1 to {MAX_UNITS}, "
               "e.g. [10, 10] or 10,10")
    items = raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    elif isinstance(raw, str):
        text = raw.strip().strip("[]()").strip()
        items = [part.strip() for part in re.split(r"[,\s]+", text)] if text else []
    if not isinstance(items, (list, tuple)) or not 1 <= len(items) <= MAX_LAYERS:
        raise ConfigError(key, raw, allowed)
    unit = _int(1, MAX_UNITS)
    try:
        return tuple(unit(key, item) for item in items)
    except ConfigError:
        raise ConfigError(key, raw, allowed) from None


def _init_seed(key: str, raw: Any) -> int:
    if isinstance(raw, str) and raw.strip().lower() in ("auto", "data", ""):
        return -1
    try:
        return _int(-1, 2**31 - 1)(key, raw)
    except ConfigError:
        raise ConfigError(key, raw, "expected a seed from 0 to 2147483647, or -1/auto to follow data.seed") from None


def _batch(key: str, raw: Any) -> int:
    if isinstance(raw, str) and raw.strip().lower() == "full":
        return 0
    try:
        return _int(0, MAX_POINTS)(key, raw)
    except ConfigError:
        raise ConfigError(key, raw, f"expected 'full' or 0 (full batch), or a batch size from 1 to {MAX_POINTS}") from None


_DEVICE_RE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _device(key: str, raw: Any) -> str:
    value = raw.strip().lower() if isinstance(raw, str) else raw
    if not isinstance(value, str) or not _DEVICE_RE.fullmatch(value):
        raise ConfigError(key, raw, "expected auto, cpu, cuda, cuda:N or mps")
    return value


def _path(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ConfigError(key, raw, "expected a file path (CSV or text with two columns x, y; .npy; .npz), or empty")
    value = raw.strip()
    problem = file_problem(value) if value else None
    if problem:
        raise ConfigError(key, raw, f"{problem} (expected a CSV or text file with columns x, y; .npy; .npz)")
    return str(Path(value).expanduser()) if value else ""


_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "data.target": datafields.target,
    "data.points": _int(1, MAX_POINTS),
    "data.x_min": _float(-1e6, 1e6),
    "data.x_max": _float(-1e6, 1e6),
    "data.sampling": _choice(SAMPLINGS),
    "data.noise": _choice(NOISE_KINDS),
    "data.noise_level": _float(0, 1e6),
    "data.split": _choice(SPLITS),
    "data.test_fraction": _float(0, 0.9, lo_open=True),
    "data.file": _path,
    "data.x_column": datafields.column,
    "data.y_column": datafields.column,
    "data.seed": _int(0, 2**31 - 1),
    "model.hidden": _hidden,
    "model.activation": _choice(ACTIVATIONS),
    "model.init_seed": _init_seed,
    "train.optimizer": _choice(OPTIMIZERS),
    "train.lr": _float(0, 100, lo_open=True),
    "train.momentum": _float(0, 1, hi_open=True),
    "train.weight_decay": _float(0, 10),
    "train.batch_size": _batch,
    "train.steps": _int(1, 100_000_000),
    "train.loss": _choice(LOSSES),
    "train.device": _device,
    "train.kernels": _choice(KERNELS),
    "train.memory_limit": _float(0, 1e6),
    "train.lr_changes": lrplan.parse,
}


def coerce(key: str, raw: Any) -> Any:
    """Parse and check one value for ``key``; raises ConfigError."""
    _split_key(key)
    return _FIELDS[key](key, raw)


def from_dict(d: dict[str, Any]) -> FitConfig:
    """Build a validated config from nested ``{section: {name: value}}`` (missing = default)."""
    if not isinstance(d, dict):
        raise ConfigError("config", d, "expected a table of sections: data, model, train")
    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        given = d.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(section, given, f"expected a [{section}] table")
        for name in given:
            _split_key(f"{section}.{name}")
        values = {name: coerce(f"{section}.{name}", raw) for name, raw in given.items()}
        sections[section] = cls(**values)
    for extra in d:
        if extra not in SECTIONS:
            raise ConfigError(extra, extra, "unknown section; known sections: data, model, train")
    cfg = FitConfig(**sections)
    if cfg.data.x_min >= cfg.data.x_max:
        raise ConfigError("data.x_max", cfg.data.x_max, f"expected a number greater than data.x_min ({cfg.data.x_min:g})")
    if not cfg.data.file:  # with a file the target is not used
        targets.check_range(cfg.data.target, cfg.data.x_min, cfg.data.x_max)
    return cfg


def to_dict(cfg: FitConfig) -> dict[str, dict[str, Any]]:
    out = dataclasses.asdict(cfg)
    out["model"]["hidden"] = list(cfg.model.hidden)
    out["train"]["lr_changes"] = lrplan.to_tables(cfg.train.lr_changes)
    return out


def parse_assignment(text: str) -> tuple[str, str]:
    """``"train.lr=0.1"`` -> ``("train.lr", "0.1")``; the value is checked later."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("--set", text, "expected KEY=VALUE, e.g. train.lr=0.1")
    key = key.strip()
    _split_key(key)
    return key, value.strip()


def apply_assignments(cfg: FitConfig, assignments: list[str]) -> FitConfig:
    return cfg.with_values(dict(parse_assignment(a) for a in assignments))


def to_toml(cfg: FitConfig) -> str:
    lines = []
    for section, values in to_dict(cfg).items():
        lines.append(f"[{section}]")
        tables = {k: v for k, v in values.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        lines += [f"{name} = {toml_value(value)}" for name, value in values.items() if name not in tables]
        for name, rows in tables.items():  # e.g. [[train.lr_changes]]: after the section's own keys
            lines += [line for row in rows for line in ["", f"[[{section}.{name}]]",
                                                        *(f"{k} = {toml_value(v)}" for k, v in row.items())]]
        lines.append("")
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def parse_toml(text: str, source: str = "config") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "(file)", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(source, "(file)", "not valid TOML: nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits: Python's own limit on converting it
        raise ConfigError(source, "(file)", f"not valid TOML: {str(exc).split(':')[0].lower()}") from None


def from_toml(text: str, source: str = "config") -> FitConfig:
    return from_dict(parse_toml(text, source))


MAX_CONFIG_BYTES = 1 << 20


def read_config_text(path: str | Path, field: str = "--config") -> str:
    """A config file's text: a regular file of at most 1 MB, UTF-8; ConfigError otherwise."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise ConfigError(field, str(path), f"{problem}; expected a TOML file")
    st = path.stat()
    if st.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(field, str(path), f"it is {st.st_size:,} bytes; a config file is at most 1 MB of TOML")
    try:
        data = path.read_bytes()[:MAX_CONFIG_BYTES + 1]
    except OSError as exc:
        raise ConfigError(field, str(path), f"cannot read the file: {exc.strerror}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(field, str(path), "it is UTF-16 text; save it as UTF-8 TOML")
    try:
        return data.decode("utf-8-sig")  # a BOM from an editor is not an error
    except UnicodeDecodeError as exc:
        raise ConfigError(field, str(path), f"not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from None


def load(path: str | Path) -> FitConfig:
    return from_toml(read_config_text(path), source=str(path))


def data_label(cfg: DataConfig) -> str:
    """A short name for the data: the file's name (control characters shown as ?), or the target."""
    if cfg.file:
        return printable(Path(cfg.file).name)
    return targets.describe(cfg.target)


def shape_text(cfg: ModelConfig) -> str:
    return "-".join(str(n) for n in (1, *cfg.hidden, 1))
