"""What a saved run holds, and reading it back: the files of a save, made from a Run's state.

A run directory (committed as a whole by :mod:`fitscope.core.store.folder`; its files and columns named
in :mod:`fitscope.core.store.runfiles`) holds ``config.toml`` (the spec: a race's ``[race]`` table too),
``metrics.csv``, ``checkpoint.pt`` (:mod:`fitscope.core.store.checkpoint`), ``fit.csv`` (the final fit of
every member on the chart's grid), ``fit.txt`` (the final chart), ``summary.json`` and
``timeline.npz``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fitscope.core import spec as spec_mod
from fitscope.core.config import data_label
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.errors import RunDirError
from fitscope.core.snapshot import Snapshot
from fitscope.core.spec import Member, RunSpec
from fitscope.core.store import checkpoint, readers, runfiles
from fitscope.core.store import folder as rundir
from fitscope.core.store.checkpoint import Checkpoint, CheckpointState
from fitscope.core.store.runfiles import Thinning

version = checkpoint.version


def short_name(spec: RunSpec) -> str:
    """For the folder's name: the data, then the activation or what a race varies."""
    base = spec.base
    what = "race-" + "-".join(k.split(".")[-1] for k, _ in spec.vary) if spec.racing else base.model.activation
    if spec.racing and not spec.vary:
        what = f"seeds{spec.seeds}"
    return f"{data_label(base.data)}-{what}"


@dataclass(frozen=True)
class Prior:
    """What a reopened run brings from its folder: losses before this session, for the files."""

    metrics_rows: list[str]  # metrics.csv rows (CSV lines in today's columns), without the header
    stride: int  # 1 when every step is there
    elapsed: float  # seconds trained before
    step: int  # the step it was saved at


def _depth(members: list[Member]) -> int:
    return max(len(m.cfg.model.hidden) for m in members)


def _lines(rows: Iterable[list[str]]) -> list[str]:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().splitlines()


def metrics_csv(tracker: Tracker, members: list[Member], lrs: list[list[tuple[int, float]]], prior: Prior | None,
                stats_log: list[tuple[int, list[dict[str, float | None] | None]]] | None = None) -> tuple[str, Thinning]:
    """One row per member per step (thinned evenly past the history's cap: the returned stride and
    cap say so); the network's numbers on the rows where they were computed."""
    offset = prior.elapsed if prior else 0.0
    depth = _depth(members)
    stats_cols = runfiles.stats_columns(depth)
    stats = {(step, j): row for step, rows in stats_log or [] for j, row in enumerate(rows)}
    parts: list[tuple[int, int, list[str]]] = []
    stride = prior.stride if prior else 1
    for j, m in enumerate(members):
        h = tracker.history(j)
        stride = max(stride, h.stride)
        tests = dict(tracker.test_history(j))
        at = np.searchsorted(np.array([s for s, _ in lrs[j]]), h.step, side="right") - 1
        who = [m.label, m.variant or m.label, str(m.seed)]
        for i in range(len(h)):
            step = int(h.step[i])
            test, row = tests.get(step), stats.get((step, j)) or {}
            parts.append((step, j, [str(step), *who, repr(float(h.loss[i])),  # repr: exact
                                    "" if test is None else repr(float(test)), f"{lrs[j][max(0, at[i])][1]:g}",
                                    f"{offset + h.seconds[i]:.6f}",
                                    *("" if row.get(c) is None else f"{row[c]:.6g}" for c in stats_cols)]))
    parts.sort(key=lambda p: (p[0], p[1]))
    lines = _lines([runfiles.metrics_columns(depth)]) + (prior.metrics_rows if prior else []) \
        + _lines(p[2] for p in parts)
    return "\n".join(lines) + "\n", Thinning(stride=stride, cap=tracker.cap)


def timeline_npz(steps: np.ndarray, x: np.ndarray, fits: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, steps=steps, x=x, fits=fits)
    return buf.getvalue()


def fit_csv(grid: np.ndarray, fits: np.ndarray, members: list[Member]) -> str:
    rows = [["x", *(m.label for m in members)]]
    rows += [[f"{x:.9g}", *(f"{v:.9g}" for v in fits[:, i])] for i, x in enumerate(grid)]
    return "\n".join(_lines(rows)) + "\n"


def summary(snap: Snapshot, total_elapsed: float, name: str) -> dict[str, Any]:
    cfg = snap.config
    lead = snap.lead

    def finite(v: float | None) -> float | None:
        return v if v is not None and math.isfinite(v) else None

    return {
        "name": name,
        "target": data_label(cfg.data),
        "net": spec_mod.net_text(snap.spec),
        "optimizer": f"{cfg.train.optimizer} lr {cfg.train.lr:g}",
        "members": len(snap.members),
        "varies": {k: [spec_mod.show(v) for v in vals] for k, vals in snap.spec.vary},
        "seeds": snap.spec.seeds,
        "steps": snap.step if snap.diverged_at is None else min(snap.step, max(
            m.diverged_at for m in snap.members if m.diverged_at is not None)),  # the steps it trained
        "budget": snap.budget,
        "final_loss": finite(lead.loss),
        "test_loss": finite(lead.test_loss),
        "best_loss": finite(lead.best_loss),
        "best_step": lead.best_step,
        "lead": lead.label,
        "diverged_at": snap.diverged_at,
        "health": lead.health,  # core.health's word for the lead; each member's below
        "per_member": [{"label": m.label, "variant": m.variant, "seed": m.seed, "final_loss": finite(m.loss),
                        "test_loss": finite(m.test_loss), "best_loss": finite(m.best_loss), "best_step": m.best_step,
                        "diverged_at": m.diverged_at, "health": m.health} for m in snap.members],
        "steps_per_s": snap.step / total_elapsed if total_elapsed > 0 else None,
        "seconds": total_elapsed,
        "device": snap.device,
        "kernels": cfg.train.kernels,
        "matmul_precision": torch.get_float32_matmul_precision(),  # set by every run: TF32 would void exactness
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "fitscope": version()},
    }


def files(spec: RunSpec, metrics: str, state: CheckpointState, fit_table: str, fit_text: str,
          summary_: dict[str, Any], timeline: bytes) -> dict[str, bytes]:
    config = spec_mod.to_toml(spec).encode()
    return {
        runfiles.TIMELINE: timeline,
        runfiles.CONFIG: config,
        runfiles.METRICS: metrics.encode(),
        # the config the weights were trained with: a config.toml edited afterwards is refused on resume
        runfiles.CHECKPOINT: checkpoint.to_bytes(state, hashlib.sha256(config).hexdigest()),
        runfiles.FIT_TABLE: fit_table.encode(),
        runfiles.FIT_CHART: (fit_text.rstrip("\n") + "\n").encode(),
        runfiles.SUMMARY: (json.dumps(summary_, indent=1) + "\n").encode(),
    }


# ---- reading back ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Loaded:
    folder: Path
    spec: RunSpec
    state: Checkpoint  # its run record checked
    prior: Prior
    summary: dict[str, Any]


def load_spec(saved: rundir.Saved) -> RunSpec:
    return spec_mod.load_saved(saved)


def parse_prior(text: str, upto: int, members: list[Member],
                where: Path = Path(runfiles.METRICS)) -> tuple[list[str], int | None]:
    """metrics.csv rows up to step ``upto`` in today's columns (a file of format 1, without
    ``variant`` and ``seed`` and with a single run's member named ``base``, mapped onto the members
    in the order its rows name them), and the stride format 1's header named; a row that is not
    one of fitscope's is refused, naming its line."""
    table = readers.metrics(text, where)
    columns = runfiles.metrics_columns(_depth(members))
    labels = [m.label for m in members]
    index: dict[str, int] = {}
    out: list[list[str]] = []
    for n, step, row in table.rows:
        label = row["member"] or ""
        if label not in index:
            index[label] = labels.index(label) if label in labels else len(index)
        j = index[label]
        if j >= len(members):
            raise RunDirError(f"{where}: line {n:,}: member {label[:40]!r} is not one of this run's {len(members)}")
        if step <= upto:
            m = members[j]
            values = {**row, "member": m.label, "variant": m.variant or m.label, "seed": str(m.seed)}
            out.append([values.get(c) or "" for c in columns])
    return _lines(out), table.legacy_stride


def load(folder: str | Path) -> Loaded:
    """A saved run, whole and checked; RunDirError (one line naming the file) otherwise."""
    saved = rundir.read(folder)
    spec = load_spec(saved)
    where = saved.folder / runfiles.CHECKPOINT
    if runfiles.CHECKPOINT not in saved.files:
        raise RunDirError(f"{where}: missing from this save")
    checkpoint.check_unpacked_size(saved.files[runfiles.CHECKPOINT], spec, where)
    state = checkpoint.load(saved.files[runfiles.CHECKPOINT], where)
    trained_with = state.get("config_sha256")  # absent in saves of fitscope 0.2.0 and before
    if trained_with is not None and trained_with != hashlib.sha256(saved.files.get(runfiles.CONFIG, b"")).hexdigest():
        raise RunDirError(f"{saved.folder / runfiles.CONFIG}: changed since the checkpoint was saved — a resumed run "
                          "keeps the settings its weights were trained with; put the saved config back, or start a "
                          "new run with the new settings")
    step = state["exp"].get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        raise RunDirError(f"{where}: holds no step count")
    members = state["exp"].get("members")
    k = len(members) if isinstance(members, list) else 0
    state["run"] = checkpoint.checked_run(state["run"], k, step, where)
    rows, legacy = parse_prior(saved.text(runfiles.METRICS), step, spec.members(), saved.folder / runfiles.METRICS)
    meta = saved.index.get("metrics")
    stride = readers.thinning(meta, saved.folder / runfiles.INDEX)["stride"] if meta is not None else legacy or 1
    prior = Prior(rows, stride, state["run"].get("elapsed", 0.0), step)
    summary_ = readers.summary(saved.json(runfiles.SUMMARY), saved.folder / runfiles.SUMMARY)
    return Loaded(saved.folder, spec, state, prior, summary_)


PRIOR_CURVE_LIMIT = 2_000_000  # losses in all; a longer saved run's charts start where it resumes
LOSS_AT = runfiles.metrics_columns(0).index("train_loss")


def prior_losses(prior: Prior, labels: list[str], step: int) -> list[np.ndarray] | None:
    """Each member's saved loss at steps 1..step, for the charts (a thinned stretch holds its
    bucket's last loss); None when the rows do not cover every member, or when too long."""
    if not step or step * len(labels) > PRIOR_CURVE_LIMIT or not prior.metrics_rows:
        return None
    index = {label: j for j, label in enumerate(labels)}
    steps: list[list[int]] = [[] for _ in labels]
    losses: list[list[float]] = [[] for _ in labels]
    for row in csv.reader(prior.metrics_rows):
        try:
            j = index[row[1]]
            steps[j].append(int(row[0]))
            losses[j].append(float(row[LOSS_AT]))
        except (KeyError, IndexError, ValueError):
            return None
    out = []
    for s, v in zip(steps, losses):
        if not s:
            return None
        s_arr, v_arr = np.array(s), np.array(v)
        at = np.minimum(np.searchsorted(s_arr, np.arange(1, step + 1)), len(s_arr) - 1)
        out.append(v_arr[at])
    return out
