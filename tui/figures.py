"""The figures of `fitscope plot`, drawn with matplotlib (the optional ``[plot]`` extra) as the lesson
draws them: the data scattered, the truth dashed, the fit in red; a race as one panel per variant,
its median member bold and the other seeds faint; with the losses, each panel's loss curves below it.

Imported only by the plot command, after matplotlib was found: the app's start never pays for it.
Everything drawn comes in as plain numpy (a :class:`~fitscope.tui.plot_cmd.SavedRun`), so the figure is tested from its
objects (axes, lines, titles), not from pixels.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fitscope.tui.formatting import num
from fitscope.tui.plot_cmd import SavedRun

COLUMNS = 4  # panels per row; a larger race wraps
FIT, FAINT, LOSS, TEST = "tab:red", 0.3, "tab:blue", "tab:orange"


def figure(runs: list[SavedRun], with_loss: bool) -> Figure:
    """Every run's panels side by side (a race: one per variant), with the losses a row below each."""
    panels = [(run, variant, idx) for run in runs for variant, idx in run.variants().items()]
    cols = min(len(panels), COLUMNS)
    rows = math.ceil(len(panels) / cols)
    per = 2 if with_loss else 1
    fig = Figure(figsize=(4.4 * cols, 3.4 * rows * per), layout="constrained")
    FigureCanvasAgg(fig)  # headless: no display, no pyplot state
    grid = fig.add_gridspec(rows * per, cols)
    for n, (run, variant, idx) in enumerate(panels):
        r, c = divmod(n, cols)
        name = f"{run.name}: " if len(runs) > 1 else ""
        fit_panel(fig.add_subplot(grid[r * per, c]), run, idx, name + _variant_title(run, variant, idx))
        if with_loss:
            loss_panel(fig.add_subplot(grid[r * per + 1, c]), run, idx)
    if len(runs) == 1:
        fig.suptitle(runs[0].title)
    return fig


def _variant_title(run: SavedRun, variant: str, idx: list[int]) -> str:
    """``relu · final loss 0.00470``; a race's variant says its median and its seeds."""
    lead = run.members[run.median(idx)]
    what = variant if len(run.varies) != 1 or run.varies[0] == "model.activation" \
        else f"{run.varies[0].split('.')[-1]} {variant}"
    if not run.varies:  # a single run (its net is in the suptitle) or a race of seeds alone
        what = ""
    losses = f"final loss {num(lead.final_loss)}"
    if lead.test_loss is not None:
        losses += f", test {num(lead.test_loss)}"
    if lead.health != "ok":
        losses = lead.health
    if len(idx) > 1:
        losses += f" (median of {len(idx)})"
    return f"{what} · {losses}" if what else losses


def fit_panel(ax: Axes, run: SavedRun, idx: list[int], title: str) -> None:
    data = run.data
    if data is not None:
        split = data.x_test.size > 0
        ax.scatter(data.x_train, data.y_train, s=6, color="0.45", alpha=0.6, label="train" if split else "data")
        if split:
            ax.scatter(data.x_test, data.y_test, s=14, color=TEST, marker="x", linewidths=0.8, label="test")
        if data.truth is not None:
            ax.plot(data.grid, data.truth, "--", color="0.15", linewidth=1.0, label="truth")
    bold = run.median(idx)
    drawn = 0
    for i in idx:
        fit = run.members[i].fit
        if fit is None or run.members[i].diverged_at is not None:  # a diverged fit is no curve
            continue
        drawn += 1
        if i == bold:
            ax.plot(run.x, fit, color=FIT, linewidth=2.4, zorder=3,
                    label="fit" if len(idx) == 1 else f"fit ({run.members[i].label}, the median)")
        else:
            ax.plot(run.x, fit, color=FIT, linewidth=1.0, alpha=FAINT, zorder=2)
    if not drawn:
        ax.text(0.5, 0.5, "no fit: " + ("it diverged" if len(idx) == 1 else "every member diverged"),
                transform=ax.transAxes, ha="center", va="center", color=FIT)
    _fit_limits(ax, run, idx)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x")
    _legend(ax)


def _fit_limits(ax: Axes, run: SavedRun, idx: list[int]) -> None:
    """The data's range (a diverged fit would stretch the axis to nothing), else the fits'."""
    if run.data is not None and (run.data.y_train.size or run.data.y_test.size):
        lo, hi = run.data.y_range
    else:
        values = np.concatenate([m.fit for m in (run.members[i] for i in idx) if m.fit is not None] or [np.zeros(1)])
        values = values[np.isfinite(values)]
        lo, hi = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
    pad = 0.08 * (hi - lo) or 0.5
    ax.set_ylim(lo - pad, hi + pad)


def loss_panel(ax: Axes, run: SavedRun, idx: list[int]) -> None:
    """Each member's training loss on a log axis; a failed member's last finite loss marked with its word."""
    bold = run.median(idx)
    marked = False
    for i in idx:
        m = run.members[i]
        keep = np.isfinite(m.losses) & (m.losses > 0)  # a log axis has no place for 0 or inf
        steps, losses = m.steps[keep], m.losses[keep]
        if i == bold:
            ax.plot(steps, losses, color=LOSS, linewidth=2.0, zorder=3, label=m.label if len(idx) > 1 else "loss")
        else:
            ax.plot(steps, losses, color=LOSS, linewidth=1.0, alpha=FAINT + 0.1, zorder=2)
        if m.health != "ok" and steps.size:
            at = steps[-1] if m.diverged_at is None else min(int(steps[-1]), m.diverged_at)
            ax.plot([at], [losses[-1]], "x", color="black", markersize=8, markeredgewidth=1.6, zorder=4,
                    label=f"{m.label}: {m.health}")
            marked = True
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("training loss (log)" + (", failed members marked ×" if marked else ""), fontsize=9)
    _legend(ax)


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


def save(fig: Figure, path: str) -> None:
    fig.savefig(path, dpi=120)
