"""`fitscope runs` and `fitscope show`: saved runs on the console, read without torch."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from fitscope.core import spec as spec_mod
from fitscope.core.config import FitConfig
from fitscope.core.errors import printable
from fitscope.core.snapshot import MemberSnap, Snapshot, State
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import readers
from fitscope.tui.formatting import num


def _cell(value) -> str:
    return "—" if value is None else str(value)


def _name(text: str, width: int = 48) -> str:
    text = printable(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def list_runs(base: str, out=None) -> int:
    out = out or sys.stdout
    path = Path(base)
    problem = rundir.kind(path)
    if problem:
        raise rundir.RunDirError(f"{base}: {problem}" + (" (fitscope run saves under ./runs by default)"
                                                         if problem == "no such folder" else ""))
    found = rundir.listing(path)
    if not found:
        out.write(f"no saved runs in {_name(base)}\n")
        return 0
    rows = [("name", "date", "target", "net", "members", "steps", "final loss", "test loss", "of member")]
    damaged = []
    for folder, index in found:
        name = _name(folder.name if folder != path else str(folder))
        if isinstance(index, str):
            damaged.append(f"{name}: {printable(index)}")
            continue
        try:
            info = readers.checked(index.get("listing", {}), readers.LISTING, f"{folder / rundir.INDEX} (listing)")
        except rundir.RunDirError as exc:
            damaged.append(f"{name}: {printable(str(exc))}")
            continue
        date = printable(str(index.get("saved_at", ""))[:16].replace("T", " "))
        racing = (info["members"] or 1) > 1  # a race's losses are its lead member's: named
        rows.append((name, date, _name(str(info["target"] or "—"), 24), _name(str(info["net"] or "—"), 32),
                     _cell(info["members"]), _count(info["steps"]), num(info["final_loss"]),
                     num(_test_loss(folder)), _name(str(info["lead"] or ""), 24) if racing else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6, 7}
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.write("  ".join(cells).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("─" * w for w in widths) + "\n")
    for line in damaged:
        out.write(f"not readable: {line}\n")
    return 0


def _test_loss(folder: Path) -> float | None:
    """The lead's test loss, from the summary (the index's listing does not hold it)."""
    try:
        saved = rundir.read(folder, names=("summary.json",))
        return readers.summary(saved.json("summary.json"), saved.folder / "summary.json")["test_loss"]
    except rundir.RunDirError:
        return None


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


def _plain(text: str) -> str:
    """A folder's text with its lines kept and every other control character (ESC, BEL, CSI) shown as ?."""
    return "\n".join(printable(line) for line in text.split("\n"))


def show(run: str, out=None) -> int:
    out = out or sys.stdout
    saved = rundir.read(run, names=("summary.json", "fit.txt", "config.toml"))
    s = readers.summary(saved.json("summary.json"), saved.folder / "summary.json")  # checked before it is formatted
    if "fit.txt" in saved.files:
        out.write(_plain(saved.text("fit.txt")))
    saved_at = printable(str(saved.index.get("saved_at", ""))[:19]).replace("T", " ")
    out.write(f"{printable(str(saved.folder))}  saved {saved_at}\n")
    varies = s["varies"] or {}
    optimizer = s["optimizer"]
    if "train.lr" in varies or "train.optimizer" in varies:
        optimizer = " / ".join(f"{k.split('.')[-1]} {','.join(map(str, v))}" for k, v in varies.items()
                               if k in ("train.optimizer", "train.lr"))
    out.write(printable(f"{s['target']} · {s['net']} · {optimizer} · {s['device']} · kernels {s['kernels']}") + "\n")
    rate = s["steps_per_s"]
    parts = [f"{_count(s['steps'])} of {_count(s['budget'])} steps", f"final loss {num(s['final_loss'])}"]
    if s["test_loss"] is not None:
        parts.append(f"test loss {num(s['test_loss'])}")
    parts.append(f"best {num(s['best_loss'])} at step {_cell(s['best_step'])}")
    if s["diverged_at"] is not None:
        parts.append(f"diverged at step {s['diverged_at']:,}")
    if rate is not None:
        parts.append(f"{rate:,.0f} steps/s")
    out.write(" · ".join(parts) + "\n")
    units = s.get("data_units")  # a data file trains standardised: its losses in y's own units too
    if units:
        out.write(f"in the data's units (trained standardised, y mean {num(units.get('y_mean'))} sd "
                  f"{num(units.get('y_sd'))}): final loss {num(units.get('final_loss'))}"
                  + ("" if units.get("test_loss") is None else f" · test loss {num(units['test_loss'])}") + "\n")
    members = s["per_member"] or []
    if len(members) > 1:
        from fitscope.tui import race  # compare's own table (it loads torch: only for a race)

        names = ", ".join(varies) or "the init seed"
        out.write(printable(f"race of {len(members)} members varying {names} (seeds: {_cell(s['seeds'])}):") + "\n")
        out.write(_plain(race.table(snapshot(saved, s))[0]) + "\n")
        out.write("members, best first:\n")
        width = max(len(str(m["label"] or "")) for m in members)
        tests = any(m["test_loss"] is not None for m in members)
        for m in sorted(members, key=lambda m: (m["final_loss"] is None, m["final_loss"] or 0.0)):
            test = f"  test {num(m['test_loss']):>10}" if tests else ""
            health = m["health"] or (f"diverged @{m['diverged_at']}" if m["diverged_at"] else "ok")
            tail = "" if health == "ok" else f"  {health}"
            out.write(printable(f"  {str(m['label']):<{width}}  {num(m['final_loss']):>10}{test}{tail}") + "\n")
    versions = s["versions"] or {}
    if versions:
        out.write(printable("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())) + "\n")
    return 0


def snapshot(saved: rundir.Saved, s: dict[str, Any]) -> Snapshot:
    """A saved run's members as a finished run's snapshot, for the tables `compare` prints."""
    try:
        spec = spec_mod.load_saved(saved, resume=False) if "config.toml" in saved.files else RunSpec(FitConfig())
    except rundir.RunDirError:  # e.g. its data file is gone: the tables read the members only
        spec = RunSpec(FitConfig())
    empty = np.zeros(0)
    members = tuple(MemberSnap(
        label=str(m["label"] or ""), variant=str(m["variant"] if m["variant"] is not None else m["label"] or ""),
        seed=m["seed"] or 0, loss=m["final_loss"], test_loss=m["test_loss"], best_loss=m["best_loss"],
        best_step=m["best_step"], diverged_at=m["diverged_at"], y_pred=empty, first=0, losses=empty,
        health=m["health"] or (f"diverged @{m['diverged_at']}" if m["diverged_at"] else "ok"))
        for m in s["per_member"] or [])
    return Snapshot(seq=0, run_id=0, state=State.DIVERGED if s["diverged_at"] is not None else State.DONE,
                    step=s["steps"] or 0, budget=s["budget"] or 0, steps_per_s=s["steps_per_s"] or 0.0,
                    elapsed=s["seconds"] or 0.0, data=None, members=members, spec=spec, device=str(s["device"] or ""),
                    pace=None, diverged_at=s["diverged_at"])


CELL = 36  # characters of a side-by-side cell


def side_by_side(runs: list[str], out=None) -> int:
    """Several runs in columns: the settings that differ, then the losses and the speed."""
    out = out or sys.stdout
    names, settings, results = [], [], []
    for run in runs:
        saved = rundir.read(run, names=("summary.json", "config.toml"))
        s = readers.summary(saved.json("summary.json"), saved.folder / "summary.json")
        names.append(_name(saved.folder.name or str(saved.folder), CELL))
        settings.append(_settings(saved))
        results.append(_results(s))
    keys = [k for k in dict.fromkeys(k for one in settings for k in one)
            if len({one.get(k, "—") for one in settings}) > 1]
    rows = [("", *names)]
    rows += [(k, *(_name(one.get(k, "—"), CELL) for one in settings)) for k in keys]
    if not keys:
        rows.append(("settings", *("the same" for _ in runs)))
    rows += [(label, *(r[i] for r in results)) for i, label in enumerate(RESULTS)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
        if n == 0 or n == len(rows) - len(RESULTS) - 1:
            out.write("  ".join("─" * w for w in widths) + "\n")
    return 0


RESULTS = ("members", "steps", "final loss", "test loss", "best loss", "steps/s", "losses of")


def _results(s: dict[str, Any]) -> tuple[str, ...]:
    best = num(s["best_loss"]) + (f" at step {s['best_step']:,}" if s["best_step"] is not None else "")
    rate = "—" if s["steps_per_s"] is None else f"{s['steps_per_s']:,.0f}"
    steps = f"{_count(s['steps'])} of {_count(s['budget'])}"
    if s["diverged_at"] is not None:
        steps += f" (diverged at {s['diverged_at']:,})"
    lead = _name(str(s["lead"] or ""), CELL) if (s["members"] or 1) > 1 else "the run"
    return (_cell(s["members"]), steps, num(s["final_loss"]), num(s["test_loss"]), best, rate, lead)


def _settings(saved: rundir.Saved) -> dict[str, str]:
    """config.toml as ``section.key`` → its value in words (the race's table too), unvalidated:
    a run whose data file is gone still shows."""
    where = saved.folder / "config.toml"
    try:
        table = tomllib.loads(saved.text("config.toml"))
    except tomllib.TOMLDecodeError as exc:
        raise rundir.RunDirError(f"{where}: not valid TOML ({str(exc)[:120]})") from None
    flat = {}
    for section, values in table.items():
        if not isinstance(values, dict):
            flat[section] = _words(values)
            continue
        for key, value in values.items():
            if section == "race" and key == "vary" and isinstance(value, list):
                value = "; ".join(f"{v[0]}={','.join(map(_words, v[1]))}" if isinstance(v, list) and len(v) == 2
                                  and isinstance(v[1], list) else _words(v) for v in value)
            flat[f"{section}.{key}"] = _words(value)
    return flat


def _words(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(_words, value))
    return printable(spec_mod.show(value)) if value != "" else "(none)"
