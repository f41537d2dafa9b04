"""Run directories: config.toml, metrics.csv and model.pt, each written atomically."""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import torch

from core.config import FitConfig, to_toml
from core.engine import Snapshot


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


def metrics_csv(snap: Snapshot) -> str:
    h = snap.history
    tests = dict(snap.test_history)
    has_test = snap.test_loss is not None
    out = io.StringIO()
    out.write("step,train_loss,seconds" + (",test_loss" if has_test else "") + "\n")
    for i in range(len(h)):
        step = int(h.step[i])
        row = f"{step},{h.loss[i]:.9g},{h.seconds[i]:.6f}"
        if has_test:
            row += f",{tests[step]:.9g}" if step in tests else ","
        out.write(row + "\n")
    return out.getvalue()


def save_run(path: str | Path, cfg: FitConfig, snap: Snapshot, model: torch.nn.Module) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _atomic_write(path / "config.toml", to_toml(cfg).encode())
    _atomic_write(path / "metrics.csv", metrics_csv(snap).encode())
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    _atomic_write(path / "model.pt", buf.getvalue())
    return path


def compare_csv(snap: Snapshot) -> str:
    out = io.StringIO()
    out.write("variant,seed,step,loss\n")
    for m in snap.members:
        h = m.history
        for i in range(len(h)):
            out.write(f"{_csv_field(m.variant)},{m.seed},{int(h.step[i])},{h.loss[i]:.9g}\n")
    return out.getvalue()


def _csv_field(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def save_compare(path: str | Path, snap: Snapshot) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _atomic_write(path / "compare.csv", compare_csv(snap).encode())
    _atomic_write(path / "config.toml", to_toml(snap.config).encode())
    return path
