"""A saved run as a reference to draw beside a live one: its final fit and loss curve. Torch-free."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitscope.core.errors import RunDirError
from fitscope.core.store import folder as rundir
from fitscope.core.store import readers, runfiles


@dataclass(frozen=True)
class Reference:
    name: str  # the run's folder name
    label: str  # which member (a race's best)
    x: np.ndarray  # the grid its fit was saved on
    fit: np.ndarray
    steps: np.ndarray  # its loss curve
    losses: np.ndarray
    final_loss: float | None


def load(folder: str | Path) -> Reference:
    """The run's lead member (a single run's only one); RunDirError names what is wrong."""
    saved = rundir.read(folder, names=(runfiles.FIT_TABLE, runfiles.METRICS, runfiles.SUMMARY))
    summary = readers.summary(saved.json(runfiles.SUMMARY), saved.folder / runfiles.SUMMARY)
    label = summary["lead"] or "base"  # format 1 named a single run's member base
    try:
        rows = list(csv.reader(io.StringIO(saved.text(runfiles.FIT_TABLE))))
        column = rows[0].index(label)
        table = np.array([[float(r[0]), float(r[column])] for r in rows[1:]])
    except (ValueError, IndexError):
        raise RunDirError(f"{saved.folder / runfiles.FIT_TABLE}: not a fit table with a column for {label!r}") from None
    metrics = saved.folder / runfiles.METRICS
    steps, losses = [], []
    for n, step, row in readers.metrics(saved.text(runfiles.METRICS), metrics).rows:
        if row["member"] == label:
            try:
                losses.append(float(row["train_loss"] or "nan"))
            except ValueError:
                raise RunDirError(f"{metrics}: line {n:,}: train_loss is {row['train_loss'][:40]!r}, "
                                  "expected a number") from None
            steps.append(step)
    final = summary["final_loss"]
    return Reference(saved.folder.name, label, table[:, 0], table[:, 1], np.array(steps, float), np.array(losses),
                     None if final is None else float(final))
