"""A saved run as a reference to draw beside a live one: its final fit and loss curve. Torch-free."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitscope.core import readers, rundir
from fitscope.core.rundir import RunDirError


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
    saved = rundir.read(folder, names=("fit.csv", "metrics.csv", "summary.json"))
    summary = readers.summary(saved.json("summary.json"), saved.folder / "summary.json")
    label = summary["lead"] or "base"
    try:
        rows = list(csv.reader(io.StringIO(saved.text("fit.csv"))))
        column = rows[0].index(label)
        table = np.array([[float(r[0]), float(r[column])] for r in rows[1:]])
    except (ValueError, IndexError):
        raise RunDirError(f"{saved.folder / 'fit.csv'}: not a fit table with a column for {label!r}") from None
    steps, losses = [], []
    for row in csv.reader(line for line in io.StringIO(saved.text("metrics.csv")) if line[:1].isdigit()):
        if len(row) > 2 and row[1] == label:
            try:
                steps.append(int(row[0]))
                losses.append(float(row[2]))
            except ValueError:
                raise RunDirError(f"{saved.folder / 'metrics.csv'}: row {row[:3]} is not step, member, loss") from None
    final = summary["final_loss"]
    return Reference(saved.folder.name, label, table[:, 0], table[:, 1], np.array(steps, float), np.array(losses),
                     None if final is None else float(final))
