"""What a saved run holds, and reading it back: the files of a save, made from a Run's state.

A run directory (committed as a whole by :mod:`fitscope.core.rundir`) holds ``config.toml`` (the
spec: a race's ``[race]`` table too), ``metrics.csv``, ``checkpoint.pt`` (weights, optimiser
state, data order and RNG: what the next step depends on), ``fit.csv`` (the final fit of every
member on the chart's grid), ``fit.txt`` (the final chart) and ``summary.json``.
Checkpoints are loaded with ``weights_only=True``: loading never runs code from a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import pickle
import platform
import warnings
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fitscope.core import readers, rundir
from fitscope.core import spec as spec_mod
from fitscope.core.config import data_label
from fitscope.core.rundir import RunDirError
from fitscope.core.snapshot import Snapshot
from fitscope.core.spec import Member, RunSpec
from fitscope.core.tracker import Tracker

CHECKPOINT_FORMAT = 1
METRICS_COLUMNS = "step,member,train_loss,test_loss,lr,seconds"
EVERY_STEP = "# fitscope metrics: every step"
STATS = ("dead", "weight_norm", "grad_norm", "update_ratio")


def version() -> str:
    try:
        return metadata.version("fitscope")
    except metadata.PackageNotFoundError:
        return "unknown"


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

    metrics_rows: list[str]  # metrics.csv rows, without the header
    stride: int  # 1 when every step is there
    elapsed: float  # seconds trained before
    step: int  # the step it was saved at


def stats_columns(members: list[Member]) -> list[str]:
    """The network's numbers as columns: one set per hidden layer (of the deepest member), then R²."""
    depth = max(len(m.cfg.model.hidden) for m in members)
    return [f"{name}_l{i}" for i in range(1, depth + 1) for name in STATS] + ["r2_train", "r2_test"]


def metrics_csv(tracker: Tracker, members: list[Member], lrs: list[list[tuple[int, float]]], prior: Prior | None,
                stats_log: list[tuple[int, list[dict[str, float | None] | None]]] | None = None) -> str:
    """One row per member per step (thinned evenly past the history's cap, and the header says so);
    the network's numbers on the rows where they were computed."""
    offset = prior.elapsed if prior else 0.0
    columns = stats_columns(members)
    stats = {(step, j): row for step, rows in stats_log or [] for j, row in enumerate(rows)}
    parts = []
    stride = prior.stride if prior else 1
    for j, m in enumerate(members):
        h = tracker.history(j)
        stride = max(stride, h.stride)
        tests = dict(tracker.test_history(j))
        steps = h.step
        change_steps = np.array([s for s, _ in lrs[j]])
        lr_values = [v for _, v in lrs[j]]
        at = np.searchsorted(change_steps, steps, side="right") - 1
        for i in range(len(h)):
            step = int(steps[i])
            test = tests.get(step)
            row = stats.get((step, j)) or {}
            extra = ",".join("" if row.get(c) is None else f"{row[c]:.6g}" for c in columns)
            parts.append((step, j, f"{step},{_csv_field(m.label)},{float(h.loss[i])!r},"  # repr: exact
                                   f"{'' if test is None else repr(float(test))},{lr_values[max(0, at[i])]:g},"
                                   f"{offset + h.seconds[i]:.6f},{extra}"))
    parts.sort(key=lambda p: (p[0], p[1]))
    head = EVERY_STEP if stride == 1 else (f"# fitscope metrics: thinned evenly — one row per {stride} steps "
                                           f"(each row is the last step of its {stride}), at most "
                                           f"{tracker.cap:,} rows per member")
    rows = (prior.metrics_rows if prior else []) + [p[2] for p in parts]
    return "\n".join([head, ",".join([METRICS_COLUMNS, *columns]), *rows]) + "\n"


def timeline_npz(steps: np.ndarray, x: np.ndarray, fits: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, steps=steps, x=x, fits=fits)
    return buf.getvalue()


def _csv_field(text: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([text])
    return buf.getvalue()


def fit_csv(grid: np.ndarray, fits: np.ndarray, members: list[Member]) -> str:
    out = io.StringIO()
    out.write(",".join(["x", *(_csv_field(m.label) for m in members)]) + "\n")
    for i, x in enumerate(grid):
        out.write(f"{x:.9g}," + ",".join(f"{v:.9g}" for v in fits[:, i]) + "\n")
    return out.getvalue()


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


def checkpoint_bytes(state: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "fitscope": version(), **state}, buf)
    return buf.getvalue()


def files(spec: RunSpec, metrics: str, state: dict[str, Any], fit_table: str, fit_text: str,
          summary_: dict[str, Any], timeline: bytes) -> dict[str, bytes]:
    config = spec_mod.to_toml(spec).encode()
    return {
        "timeline.npz": timeline,
        "config.toml": config,
        "metrics.csv": metrics.encode(),
        # the config the weights were trained with: a config.toml edited afterwards is refused on resume
        "checkpoint.pt": checkpoint_bytes({**state, "config_sha256": hashlib.sha256(config).hexdigest()}),
        "fit.csv": fit_table.encode(),
        "fit.txt": (fit_text.rstrip("\n") + "\n").encode(),
        "summary.json": (json.dumps(summary_, indent=1) + "\n").encode(),
    }


# ---- reading back ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Loaded:
    folder: Path
    spec: RunSpec
    state: dict[str, Any]  # the checkpoint
    prior: Prior
    summary: dict[str, Any]


def load_spec(saved: rundir.Saved) -> RunSpec:
    return spec_mod.load_saved(saved)


def load_checkpoint(data: bytes, where: Path) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():  # torch's pickle warnings came before the one line that says it
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, KeyError,
            AttributeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else ""
        if "weights_only" in first or "Weights only" in first or not first:  # torch's advice on how to skip the check
            first = "it holds something other than tensors and plain values" if isinstance(exc, pickle.UnpicklingError) \
                else type(exc).__name__
        raise RunDirError(f"{where}: not a loadable checkpoint ({first[:120]})") from None
    if not isinstance(state, dict) or "exp" not in state:
        raise RunDirError(f"{where}: not a fitscope checkpoint")
    if not isinstance(state.get("format"), int) or state["format"] > CHECKPOINT_FORMAT:
        raise RunDirError(f"{where}: saved by a newer fitscope (checkpoint format {state.get('format')!r}; this one "
                          f"reads {CHECKPOINT_FORMAT}) — upgrade fitscope to open it")
    return state


def checked_run_state(state: dict[str, Any], k: int, step: int, where: Path) -> dict[str, Any]:
    """The checkpoint's ``run`` part (bests, diverged members, time), each field of its type and
    length for ``k`` members, before a Run takes any of it."""
    run = state.get("run", {})
    if not isinstance(run, dict):
        raise RunDirError(f"{where}: its run record is not a table")

    def real(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    out: dict[str, Any] = {}
    for name, ok in (("best", real), ("last", real), ("first", real),
                     ("best_step", lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= step)):
        values = run.get(name)
        if values is None:
            continue
        if not (isinstance(values, list) and len(values) == k and all(map(ok, values))):
            raise RunDirError(f"{where}: {name} is not {k} number(s) of this run's members")
        out[name] = values
    dead = run.get("dead", [])
    if not (isinstance(dead, list) and len(dead) <= k and all(
            isinstance(d, (list, tuple)) and len(d) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in d)
            and 0 <= d[0] < k and 0 < d[1] <= step for d in dead)):
        raise RunDirError(f"{where}: dead is not a list of (member, step) pairs of this run")
    out["dead"] = [(int(j), int(at)) for j, at in dead]
    elapsed = run.get("elapsed", 0.0)
    if not real(elapsed) or not 0 <= elapsed < 1e12:
        raise RunDirError(f"{where}: elapsed is {elapsed!r}, expected seconds ≥ 0")
    out["elapsed"] = float(elapsed)
    return out


def check_unpacked_size(data: bytes, spec: RunSpec, where: Path) -> None:
    """A checkpoint is a zip: a few hundred kB of it can unpack to GBs of zeros (a crafted one
    made a resume take 540 MB). What it may unpack to is set by its config: each member's
    parameters with up to three optimiser buffers, the batch order, twice over, and 8 MB."""
    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip: the loader says so in its own words
    params = 0
    for m in spec.members():
        widths = [1, *m.cfg.model.hidden, 1]
        params += sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    budget = 2 * (params * 4 * 4 + spec.base.data.points * 8) + (8 << 20)
    if unpacked > budget:
        raise RunDirError(f"{where}: unpacks to {unpacked:,} bytes, more than a run of its config holds "
                          f"(at most {budget:,})")


def parse_prior(text: str, upto: int, where: Path = Path("metrics.csv")) -> tuple[list[str], int]:
    """metrics.csv rows up to step ``upto``, and the stride its header names; a row that is not
    one of fitscope's is refused, naming its line."""
    lines = text.splitlines()
    stride = 1
    if lines and lines[0].startswith("# fitscope metrics: thinned"):
        digits = [w for w in lines[0].split() if w.isascii() and w.isdigit() and len(w) <= readers.MAX_DIGITS]
        stride = int(digits[0]) if digits else 2
    out = []
    for n, row in enumerate(lines, 1):
        if not row or row.startswith("#") or row.startswith(METRICS_COLUMNS):
            continue
        if not row.isprintable():
            raise RunDirError(f"{where}: line {n:,} holds a control character (a NUL or the like)")
        if readers.step_of(row.split(",", 1)[0], where, n) <= upto:
            out.append(row)
    return out, stride


def load(folder: str | Path) -> Loaded:
    """A saved run, whole and checked; RunDirError (one line naming the file) otherwise."""
    saved = rundir.read(folder)
    spec = load_spec(saved)
    where = saved.folder / "checkpoint.pt"
    if "checkpoint.pt" not in saved.files:
        raise RunDirError(f"{where}: missing from this save")
    check_unpacked_size(saved.files["checkpoint.pt"], spec, where)
    state = load_checkpoint(saved.files["checkpoint.pt"], where)
    trained_with = state.get("config_sha256")  # absent in saves of fitscope 0.2.0 and before
    if trained_with is not None and trained_with != hashlib.sha256(saved.files.get("config.toml", b"")).hexdigest():
        raise RunDirError(f"{saved.folder / 'config.toml'}: changed since the checkpoint was saved — a resumed run "
                          "keeps the settings its weights were trained with; put the saved config back, or start a "
                          "new run with the new settings")
    step = state["exp"].get("step") if isinstance(state.get("exp"), dict) else None
    if not isinstance(step, int):
        raise RunDirError(f"{where}: holds no step count")
    rows, stride = parse_prior(saved.text("metrics.csv"), step, saved.folder / "metrics.csv")
    members = state["exp"].get("members")
    k = len(members) if isinstance(members, list) else 0
    state = {**state, "run": checked_run_state(state, k, step, where)}
    prior = Prior(rows, stride, state["run"]["elapsed"], step)
    summary_ = readers.summary(saved.json("summary.json"), saved.folder / "summary.json")
    return Loaded(saved.folder, spec, state, prior, summary_)


PRIOR_CURVE_LIMIT = 2_000_000  # losses in all; a longer saved run's charts start where it resumes


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
            losses[j].append(float(row[2]))
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
