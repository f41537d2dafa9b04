"""The run folder's files and the columns of its tables: the one schema that the save, the resume
and every reader (``show``, ``b``'s reference, the export) share. Torch-free, plain constants.

``metrics.csv`` is a plain CSV, its header on line 1 (format 1 had a ``# fitscope metrics: …``
comment above it, still read): one row per member per step, or per bucket of ``stride`` steps
(each row the last step of its bucket) past ``cap`` rows per member, as ``run.json`` and
``summary.json`` say under ``"metrics"``.
"""

from __future__ import annotations

from typing import TypedDict

INDEX = "run.json"
CONFIG = "config.toml"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
FIT_TABLE = "fit.csv"  # x, then one column of the final fit per member (named by its label)
FIT_CHART = "fit.txt"
SUMMARY = "summary.json"
TIMELINE = "timeline.npz"  # steps, x, fits: the fit at moments of the run, for the player
SAVED_NAMES = (CONFIG, METRICS, CHECKPOINT, FIT_TABLE, FIT_CHART, SUMMARY, TIMELINE)

# the most each file of a run folder is read for, in bytes: a little past what fitscope writes at
# its own caps (metrics.csv: 1.6M rows of a 64-member race with the network's numbers), so a
# crafted 2 GB file is refused from its size before any of it is read
LIMITS = {CONFIG: 1 << 20, SUMMARY: 4 << 20, FIT_CHART: 1 << 20, FIT_TABLE: 16 << 20,
          METRICS: 400 << 20, TIMELINE: 64 << 20, CHECKPOINT: 4 << 30}

# metrics.csv: who (member = its label; variant = what varies, without the seed; seed = its init
# seed), then its losses, lr and time, then the network's numbers per hidden layer and R²
MEMBER_COLUMNS = ("step", "member", "variant", "seed")
LOSS_COLUMNS = ("train_loss", "test_loss", "lr", "seconds")
STATS = ("dead", "weight_norm", "grad_norm", "update_ratio")
R2 = ("r2_train", "r2_test")
LEGACY_HEAD = "# fitscope metrics"  # format 1's first line


def stats_columns(depth: int) -> list[str]:
    """The network's numbers: one set per hidden layer (of the deepest member), then R²."""
    return [f"{name}_l{i}" for i in range(1, depth + 1) for name in STATS] + list(R2)


def metrics_columns(depth: int) -> list[str]:
    return [*MEMBER_COLUMNS, *LOSS_COLUMNS, *stats_columns(depth)]


class Thinning(TypedDict):
    """How metrics.csv was thinned: one row per ``stride`` steps past ``cap`` rows per member."""

    stride: int
    cap: int
