"""What a run trains: a base config, what varies and how many init seeds — 1 to 64 members.

A single run is a spec with nothing varied: one member. Race vs single is data, not a class.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fitscope.core import config as config_mod
from fitscope.core.config import FitConfig
from fitscope.core.errors import ConfigError, RunDirError
from fitscope.core.store.datarecord import locate, saved_data

MAX_MEMBERS = 64
VARY_KEYS = ("model.activation", "model.hidden", "model.init_seed", "train.optimizer", "train.lr",
             "train.weight_decay", "train.momentum")


@dataclass(frozen=True)
class Member:
    label: str
    cfg: FitConfig
    variant: str = ""  # what varies, without the seed ("" = the label)

    @property
    def seed(self) -> int:
        m = self.cfg.model
        return m.init_seed if m.init_seed >= 0 else self.cfg.data.seed


@dataclass(frozen=True)
class RunSpec:
    base: FitConfig
    vary: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (key, values) pairs, in order
    seeds: int = 1

    @classmethod
    def race(cls, base: FitConfig, vary: dict[str, list[Any]], seeds: int = 1) -> RunSpec:
        spec = cls(base, tuple((k, tuple(v)) for k, v in vary.items()), seeds)
        spec.members()  # checked now, where the values were given
        return spec

    @property
    def varied(self) -> dict[str, tuple[Any, ...]]:
        return dict(self.vary)

    @property
    def racing(self) -> bool:
        return bool(self.vary) or self.seeds > 1

    def count(self) -> int:
        n = self.seeds
        for _, values in self.vary:
            n *= len(values)
        return n

    def with_base(self, base: FitConfig) -> RunSpec:
        return RunSpec(base, self.vary, self.seeds)

    def members(self) -> list[Member]:
        """The product of the varied values, each over ``seeds`` init seeds (0..seeds-1 when > 1)."""
        for key, _ in self.vary:
            if key not in VARY_KEYS:
                raise ConfigError("--vary", key, "can vary: " + ", ".join(VARY_KEYS))
        if not 1 <= self.seeds <= MAX_MEMBERS:
            raise ConfigError("--seeds", self.seeds, f"expected a whole number from 1 to {MAX_MEMBERS}")
        if self.base.train.lr_changes and "train.lr" in self.varied:
            raise ConfigError("train.lr_changes", len(self.base.train.lr_changes), "no lr changes in a race that varies "
                              "train.lr (each member has its own); remove them or vary something else")
        count = self.count()  # before building anything: 1000 x 1000 values is refused at once
        if count > MAX_MEMBERS:
            raise ConfigError("compare", count, f"a race has at most {MAX_MEMBERS} members (variants × seeds)")
        if not self.racing:
            return [Member(self.base.model.activation, self.base)]  # named for what it is
        keys = [k for k, _ in self.vary]
        out = []
        for combo in itertools.product(*(v for _, v in self.vary)):
            values = dict(zip(keys, combo))
            label = " ".join(show(v) for v in combo) or self.base.model.activation
            for s in range(self.seeds):
                cfg_values = dict(values)
                if self.seeds > 1:
                    cfg_values["model.init_seed"] = s
                out.append(Member(label if self.seeds == 1 else f"{label} s{s}", self.base.with_values(cfg_values),
                                  label))
        return out


def parse_values(key: str, text: str) -> list[Any]:
    """``"relu,softplus,tanh"`` -> checked values; hidden sizes use ``;`` between variants."""
    if key not in VARY_KEYS:
        raise ConfigError("--vary", key, "can vary: " + ", ".join(VARY_KEYS))
    sep = ";" if key == "model.hidden" else ","
    parts = [p.strip() for p in text.split(sep)]
    if not text.strip() or any(not p for p in parts):
        raise ConfigError(f"--vary {key}", text, f"expected a list of values separated by '{sep}', none empty")
    if len(parts) > MAX_MEMBERS:
        raise ConfigError(f"--vary {key}", f"{len(parts)} values", f"a race has at most {MAX_MEMBERS} members")
    base = FitConfig()
    values = [base.with_value(key, p).get(key) for p in parts]
    dupes = [v for i, v in enumerate(values) if v in values[:i]]
    if dupes:
        raise ConfigError(f"--vary {key}", text, f"lists {show(dupes[0])} twice; each value once")
    return values


def coerce_seeds(raw: object) -> int:
    """The number of init seeds per variant (``--seeds``, the race dialog's field)."""
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_MEMBERS:
        raise ConfigError("seeds", raw, f"expected a whole number from 1 to {MAX_MEMBERS}")
    return int(text)


def parse_vary(items: list[str]) -> dict[str, list[Any]]:
    """``["train.lr=0.1,0.2", ...]`` (the command line's --vary) -> {key: values}."""
    vary: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep:
            raise ConfigError("--vary", item, "expected KEY=V1,V2,..., e.g. model.activation=relu,softplus,tanh")
        key = key.strip()
        if key in vary:
            raise ConfigError("--vary", key, "is given twice; list all its values in one --vary")
        vary[key] = parse_values(key, values)
    return vary


def to_toml(spec: RunSpec) -> str:
    """The base settings, and for a race a ``[race]`` table: what varies and the seeds."""
    text = config_mod.to_toml(spec.base)
    if not spec.racing:
        return text
    vary = [[k, [list(v) if isinstance(v, tuple) else v for v in vals]] for k, vals in spec.vary]
    return (text.rstrip("\n") + "\n\n[race]  # the product of these values, each over init seeds 0..seeds-1\n"
            f"seeds = {spec.seeds}\nvary = {config_mod.toml_value(vary)}\n")


def from_toml(text: str, source: str = "config", data_file: Callable[[str], str] | None = None) -> RunSpec:
    """A config file, with or without a ``[race]`` table; ``data_file`` maps its data.file, if any,
    before it is checked (a saved run: to where it was)."""
    data = config_mod.parse_toml(text, source)
    section = data.get("data")
    if data_file is not None and isinstance(section, dict) and isinstance(section.get("file"), str) and section["file"]:
        section["file"] = data_file(section["file"])
    race = data.pop("race", None)
    base = config_mod.from_dict(data)
    if race is None:
        return RunSpec(base)
    if not isinstance(race, dict) or not isinstance(race.get("vary", []), list):
        raise ConfigError("race", race, "expected a [race] table with seeds = N and vary = [[key, [values]], ...]")
    vary: dict[str, list[Any]] = {}
    for item in race.get("vary", []):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], list)):
            raise ConfigError("race.vary", item, "expected [key, [values]]")
        key = item[0]
        vary[key] = parse_values(key, (";" if key == "model.hidden" else ",").join(
            ",".join(map(str, v)) if isinstance(v, list) else str(v) for v in item[1]))
    return RunSpec.race(base, vary, coerce_seeds(race.get("seeds", 1)))


def load_saved(saved: Any, resume: bool = True) -> RunSpec:
    """A run folder's spec (``saved``: a :class:`~fitscope.core.store.folder.Saved`); a bad config.toml
    is a RunDirError naming it once. ``resume``: its data file must be the one it trained on."""
    where = saved.folder / "config.toml"
    try:
        return from_toml(saved.text("config.toml"), str(where),
                         (lambda file: saved_data(saved, file)) if resume else (lambda file: locate(saved, file)))
    except ConfigError as exc:
        text = str(exc)
        raise RunDirError(text if text.startswith(str(where)) else f"{where}: {text}") from None


def net_text(spec: RunSpec) -> str:
    """The net, with what a race varies of it: ``1-10-10-1 relu/softplus/tanh``."""
    varied, model = spec.varied, spec.base.model
    shapes = "/".join("-".join(map(str, (1, *h, 1))) for h in varied["model.hidden"]) \
        if "model.hidden" in varied else "-".join(map(str, (1, *model.hidden, 1)))
    acts = "/".join(varied["model.activation"]) if "model.activation" in varied else model.activation
    return f"{shapes} {acts}"


def show(v: Any) -> str:
    if isinstance(v, tuple):
        return "-".join(map(str, v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
