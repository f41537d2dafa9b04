"""Run directories: config.toml, metrics.csv and model.pt (a race: compare.csv), each written atomically."""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import torch

from fitscope.core.config import to_toml
from fitscope.core.spec import Member, RunSpec, show
from fitscope.core.tracker import Tracker


def new_run_dir(base: str | Path = "runs") -> Path:
    """runs/20261127-134501, made unique with a suffix if two saves land in one second."""
    base = Path(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        path = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise OSError(f"cannot make a new run directory under {base}")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def metrics_csv(tracker: Tracker, has_test: bool) -> str:
    h = tracker.history(0)
    tests = dict(tracker.test_history(0))
    out = io.StringIO()
    out.write("step,train_loss,seconds" + (",test_loss" if has_test else "") + "\n")
    for i in range(len(h)):
        step = int(h.step[i])
        row = f"{step},{h.loss[i]:.9g},{h.seconds[i]:.6f}"
        if has_test:
            row += f",{tests[step]:.9g}" if step in tests else ","
        out.write(row + "\n")
    return out.getvalue()


def compare_csv(tracker: Tracker, members: list[Member]) -> str:
    out = io.StringIO()
    out.write("variant,seed,step,loss\n")
    for j, m in enumerate(members):
        h = tracker.history(j)
        for i in range(len(h)):
            out.write(f"{_csv_field(m.variant or m.label)},{m.seed},{int(h.step[i])},{h.loss[i]:.9g}\n")
    return out.getvalue()


def _csv_field(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def race_toml(spec: RunSpec) -> str:
    lines = ["# a race: the base settings below, with these varied (their product) over init seeds",
             "# " + " ".join(f"--vary {k}={(';' if k == 'model.hidden' else ',').join(show(v) for v in vals)}"
                             for k, vals in spec.vary) + f" --seeds {spec.seeds}", ""]
    return "\n".join(lines) + to_toml(spec.base)


def save(path: Path, spec: RunSpec, members: list[Member], tracker: Tracker, has_test: bool,
         model: dict[str, torch.Tensor]) -> Path:
    """``model``: the first member's state dict (a single run's model)."""
    path.mkdir(parents=True, exist_ok=True)
    if spec.racing:
        _atomic_write(path / "config.toml", race_toml(spec).encode())
        _atomic_write(path / "compare.csv", compare_csv(tracker, members).encode())
        return path
    _atomic_write(path / "config.toml", to_toml(spec.base).encode())
    _atomic_write(path / "metrics.csv", metrics_csv(tracker, has_test).encode())
    buf = io.BytesIO()
    torch.save(model, buf)
    _atomic_write(path / "model.pt", buf.getvalue())
    return path
