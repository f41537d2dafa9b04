"""checkpoint.pt: what the next step depends on (the experiment's weights, optimiser state, data
order and RNG) and the run's own record (bests, diverged members, time), as typed tables.

Loaded with ``weights_only=True``: loading never runs code from a file; every field of the run's
record is checked for its type and length before a Run takes any of it.
"""

from __future__ import annotations

import io
import pickle
import warnings
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict, cast

import torch

from fitscope.core.errors import RunDirError
from fitscope.core.spec import RunSpec

FORMAT = 1


class RunRecord(TypedDict, total=False):
    """The run's part of a checkpoint: per member its best, last and first loss and best step, the
    members that diverged (member, step), the step of each diverged member's kept weights, time."""

    elapsed: float
    best: list[float]
    best_step: list[int]
    last: list[float]
    first: list[float]
    dead: list[tuple[int, int]]
    finite_step: list[list[int]]


class CheckpointState(TypedDict):
    """What a save puts in checkpoint.pt: the experiment's state (``Experiment.state()``: step,
    kernels, members' weights and optimiser state, batches, torch_rng) and the run's record."""

    exp: dict[str, Any]
    run: RunRecord


class Checkpoint(CheckpointState, total=False):
    """checkpoint.pt as read back: the state, the formats, and the config.toml it was trained with."""

    format: int
    fitscope: str
    config_sha256: str


def version() -> str:
    try:
        return metadata.version("fitscope")
    except metadata.PackageNotFoundError:
        return "unknown"


def to_bytes(state: CheckpointState, config_sha256: str) -> bytes:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "fitscope": version(), **state, "config_sha256": config_sha256}, buf)
    return buf.getvalue()


def load(data: bytes, where: Path) -> Checkpoint:
    """The checkpoint's tables, loaded without running code; RunDirError names what is wrong."""
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
    if not isinstance(state, dict) or "exp" not in state or not isinstance(state["exp"], dict):
        raise RunDirError(f"{where}: not a fitscope checkpoint")
    if not isinstance(state.get("format"), int) or state["format"] > FORMAT:
        raise RunDirError(f"{where}: saved by a newer fitscope (checkpoint format {state.get('format')!r}; this one "
                          f"reads {FORMAT}) — upgrade fitscope to open it")
    raw_run = state.get("run", {})
    if not isinstance(raw_run, dict):
        raise RunDirError(f"{where}: its run record is not a table")
    out = Checkpoint(exp=state["exp"], run=cast(RunRecord, raw_run), format=state["format"])  # checked_run checks it
    sha = state.get("config_sha256")  # absent in saves of fitscope 0.2.0 and before
    if sha is not None:
        out["config_sha256"] = sha if isinstance(sha, str) else repr(sha)
    return out


def _real(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _step(step: int) -> Any:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= step


def checked_run(run: dict[str, Any] | RunRecord, k: int, step: int, where: Path) -> RunRecord:
    """The checkpoint's run record, each field of its type and length for ``k`` members."""
    raw: dict[str, Any] = dict(run)
    out = RunRecord()
    for name, ok in (("best", _real), ("last", _real), ("first", _real), ("best_step", _step(step))):
        values = raw.get(name)
        if values is None:
            continue
        if not (isinstance(values, list) and len(values) == k and all(map(ok, values))):
            raise RunDirError(f"{where}: {name} is not {k} number(s) of this run's members")
        out[name] = values  # type: ignore[literal-required]
    dead = raw.get("dead", [])
    if not (isinstance(dead, list) and len(dead) <= k and all(
            isinstance(d, (list, tuple)) and len(d) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in d)
            and 0 <= d[0] < k and 0 < d[1] <= step for d in dead)):
        raise RunDirError(f"{where}: dead is not a list of (member, step) pairs of this run")
    out["dead"] = [(int(j), int(at)) for j, at in dead]
    elapsed = raw.get("elapsed", 0.0)
    if not _real(elapsed) or not 0 <= elapsed < 1e12:
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
