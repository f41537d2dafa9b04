"""`fitscope plot RUN [RUN …] [-o FILE] [--loss]`: saved runs as one figure (PNG, SVG or PDF).

The runs are read through the core readers (summary.json, fit.csv, metrics.csv) and their data made
again from its seed or file, as the run made it (torch, loaded here only). matplotlib is the
optional ``[plot]`` extra, imported only by this command and drawn headless (Agg).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fitscope.core import spec as spec_mod
from fitscope.core.errors import ConfigError, printable
from fitscope.core.snapshot import DataView, loss_rank
from fitscope.core.store import folder as rundir
from fitscope.core.store import readers
from fitscope.core.store.folder import RunDirError

EXTENSIONS = (".png", ".svg", ".pdf")
MISSING = 'fitscope plot: matplotlib is not installed — install the plot extra: pip install -e ".[plot]" ' \
          "(or pip install matplotlib)"
NAMES = ("config.toml", "summary.json", "fit.csv", "metrics.csv")


@dataclass(frozen=True)
class Member:
    label: str
    variant: str
    final_loss: float | None
    test_loss: float | None
    health: str  # core.health's word: ok, diverged @N, blew up, collapsed
    diverged_at: int | None
    fit: np.ndarray | None  # on the run's grid, in the data's units (NaN where it diverged)
    steps: np.ndarray  # the loss curve
    losses: np.ndarray


@dataclass(frozen=True)
class SavedRun:
    name: str  # the folder's name
    title: str  # target · net · optimiser
    varies: tuple[str, ...]  # the settings a race varies
    x: np.ndarray  # the grid the fits are on
    members: list[Member]
    data: DataView | None  # None when it could not be made (``data_note`` says why)
    data_note: str | None = None
    notes: list[str] = field(default_factory=list)

    def variants(self) -> dict[str, list[int]]:
        """Each variant's members, in the run's order (the lesson's relu, softplus, tanh)."""
        groups: dict[str, list[int]] = {}
        for i, m in enumerate(self.members):
            groups.setdefault(m.variant, []).append(i)
        return groups

    def median(self, members: list[int]) -> int:
        """The member with the median final loss, the failed ones ranked last (as `compare` ranks them)."""
        ranked = sorted(members, key=lambda i: (self.members[i].health != "ok", loss_rank(self.members[i].final_loss)))
        return ranked[len(ranked) // 2]


def plot(runs: list[str], out: str | None, with_loss: bool, stdout: Any = None, stderr: Any = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if out is not None:
        check_out(out)  # before anything is read or drawn
    try:
        import matplotlib
    except ImportError:
        stderr.write(MISSING + "\n")
        return 2
    matplotlib.use("Agg")  # over SSH there is no display; nothing here opens a window
    from fitscope.tui import figures

    loaded = [load(run) for run in runs]
    for run in loaded:
        for note in run.notes:
            stderr.write(printable(f"fitscope: note: {run.name}: {note}") + "\n")
    path = out if out is not None else free_name(_stem(loaded, with_loss), ".png")
    fig = figures.figure(loaded, with_loss)
    try:
        figures.save(fig, path)
    except OSError as exc:
        raise RunDirError(printable(f"{path}: cannot write the figure ({exc.strerror or exc})")) from None
    stdout.write(printable(f"wrote {path}") + "\n")
    return 0


def check_out(out: str) -> None:
    """A figure's file: a known extension, in a folder that is there and writable."""
    path = Path(out).expanduser()
    if "\0" in out:
        raise ConfigError("-o", out, "a file name holds no NUL character")
    if path.suffix.lower() not in EXTENSIONS:
        raise ConfigError("-o", out, "the figure's file name must end in " + ", ".join(EXTENSIONS))
    folder = path.parent
    problem = rundir.kind(folder)
    if problem:
        raise ConfigError("-o", out, f"its folder {printable(str(folder))} does not exist" if problem == "no such folder"
                          else f"its folder {printable(str(folder))}: {problem}")
    if path.is_dir():
        raise ConfigError("-o", out, "it is a folder; give a file name ending in " + ", ".join(EXTENSIONS))
    if not os.access(folder, os.W_OK):
        raise ConfigError("-o", out, f"its folder {printable(str(folder))} is not writable")


def free_name(stem: str, ext: str) -> str:
    """``stem + ext`` in the current folder, or ``stem-2 + ext``… if taken: never over a file."""
    name, n = stem + ext, 2
    while os.path.lexists(name):
        name, n = f"{stem}-{n}{ext}", n + 1
    return name


def _stem(runs: list[SavedRun], with_loss: bool) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", runs[0].name)[:80] or "run"
    more = f"-and-{len(runs) - 1}-more" if len(runs) > 1 else ""
    return f"fitscope-{name}{more}" + ("-loss" if with_loss else "")


def load(folder: str) -> SavedRun:
    """A saved run's members (final losses, fits, loss curves) and its data; RunDirError names what is wrong."""
    saved = rundir.read(folder, names=NAMES)
    s = readers.summary(saved.json("summary.json"), saved.folder / "summary.json")
    x, fits = readers.fit_table(saved.text("fit.csv"), saved.folder / "fit.csv")
    curves = readers.loss_curves(saved.text("metrics.csv"), saved.folder / "metrics.csv")
    members = [_member(m, fits, curves) for m in s["per_member"] or [_only(s)]]
    notes = [f"{m.label} has no column in fit.csv; its fit is not drawn" for m in members if m.fit is None]
    data, why = _data(saved)
    if why:
        notes.append(f"the data is not drawn ({why})")
    steps = f"{s['steps']:,} steps" if s["steps"] is not None else ""
    title = " · ".join(str(p) for p in (s["target"], s["net"], s["optimizer"], steps) if p)
    return SavedRun(saved.folder.name or str(saved.folder), printable(title), tuple(s["varies"] or ()), x, members,
                    data, why, notes)


def _only(s: dict[str, Any]) -> dict[str, Any]:
    """A save without per-member records: its one member, from the summary's own fields."""
    return {"label": s["lead"] or "base", "variant": "", "final_loss": s["final_loss"], "test_loss": s["test_loss"],
            "diverged_at": s["diverged_at"], "health": None}


def _member(m: dict[str, Any], fits: dict[str, np.ndarray],
            curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Member:
    label = str(m["label"] or "")
    diverged = m["diverged_at"]
    health = m["health"] or (f"diverged @{diverged}" if diverged else "ok")  # saves before health words
    steps, losses = curves.get(label, (np.zeros(0, np.int64), np.zeros(0)))
    return Member(printable(label), printable(str(m["variant"] if m["variant"] is not None else label)),
                  m["final_loss"], m["test_loss"], printable(health), diverged, fits.get(label), steps, losses)


def _data(saved: rundir.Saved) -> tuple[DataView | None, str | None]:
    """The points the run trained on, made again (its data file must be the one it trained on)."""
    try:
        spec = spec_mod.load_saved(saved, resume=True)
        from fitscope.core.data import dataset as data_mod  # torch: the data is made

        return data_mod.drawn(spec.base.data), None
    except (RunDirError, ConfigError) as exc:
        return None, str(exc)
