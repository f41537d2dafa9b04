"""Inside the network, drawn: the units that sum to the fit, and the fit's kinks."""

from __future__ import annotations

import dataclasses

import numpy as np

from fitscope.core.engine import inside
from fitscope.core.snapshot import Snapshot
from fitscope.tui.plotting import FIT_COLOR, draw_fit, member_style, scatter_sample, set_axes, y_limits

TOP = 8  # units drawn one by one in the units view


def draw_units(plt, snap: Snapshot, member: int, layers, *, width: int, color: bool = True,
               title_prefix: str = "") -> list[str]:
    """The data faint, each top unit's contribution w_j·a_j(x) thin, their sum plus the output bias
    (the fit) strong. Returns the curves' labels in drawing order, for the legend."""
    plt.clear_data()
    data = snap.data
    assert data is not None
    cfg = snap.spec.members()[member].cfg if snap.racing else snap.config
    x = snap.x_grid
    scale = data.y_range[1] - data.y_range[0]
    xs, ys = scatter_sample(data.x_train, data.y_train, 1500)
    plt.scatter(xs, ys, marker="braille" if color else "dot", color="gray" if color else None)
    if layers is None:
        plt.title(f"{title_prefix}units: not shown for this net (more than 50,000 parameters, or diverged)")
        set_axes(plt, data.x_range, y_limits(snap))
        return []
    (mx, sx), (my, sy) = _scale(snap, "x"), _scale(snap, "y")
    u = inside.units([tuple(a) for a in layers], cfg.model.activation, (x - mx) / sx)
    step = max(1, len(x) // max(width, 10))
    labels = []
    for k, (label, curve) in enumerate(zip(u.labels, u.curves)):
        c, mk = member_style(k + 1, color)
        plt.plot(x[::step], curve[::step] * sy, color=c, marker="braille" if color else mk)
        labels.append(label)
    plt.plot(x[::step], u.total[::step] * sy + my, color=FIT_COLOR if color else None, marker="braille" if color else "hd")
    lo, hi = y_limits(snap)
    spread_ = max(float(np.nanmax(np.abs(u.curves * sy))) if u.curves.size else 0.0, 0.0)
    set_axes(plt, data.x_range, (min(lo, -spread_ * 1.05) if spread_ < 20 * scale else lo,
                                max(hi, spread_ * 1.05) if spread_ < 20 * scale else hi))
    width_ = layers[-1][0].shape[1]
    shown = f"top {TOP} of {width_} units + the rest" if width_ > TOP else f"{width_} units"
    plt.title(f"{title_prefix}{shown} + bias {u.bias * sy + my:.3g} = the fit")
    return labels


def _scale(snap: Snapshot, axis: str) -> tuple[float, float]:
    """(mean, sd) that map training units back to the data's own (identity for generated targets,
    which train in their own units; a file's columns are standardised over all its points)."""
    data = snap.data
    assert data is not None
    if not snap.config.data.file:
        return 0.0, 1.0
    v = np.concatenate([data.x_train, data.x_test] if axis == "x" else [data.y_train, data.y_test])
    sd = float(v.std())
    return float(v.mean()), sd if sd > 0 else 1.0


def draw_kinks(plt, snap: Snapshot, member: int, layers, *, width: int, color: bool = True,
               title_prefix: str = "") -> int | None:
    """The fit, and a tick under it at every x where its slope changes (ReLU family); the count of
    linear pieces in the title. Smooth activations have none: the title says so. Returns the count
    of pieces (None when there are none to count)."""
    data = snap.data
    assert data is not None
    cfg = snap.spec.members()[member].cfg if snap.racing else snap.config
    draw_fit(plt, _only(snap, member), width=width, show_truth=False, color=color, legend=False)
    lo, hi = y_limits(snap)
    if layers is None:
        plt.title(f"{title_prefix}kinks: not shown for this net (more than 50,000 parameters, or diverged)")
        return None
    if cfg.model.activation not in inside.KINKED:
        plt.title(f"{title_prefix}{cfg.model.activation} is smooth: the fit has no kinks")
        return None
    mx, sx = _scale(snap, "x")
    ks = inside.kinks([tuple(a) for a in layers], cfg.model.activation,
                      ((data.x_range[0] - mx) / sx, (data.x_range[1] - mx) / sx)) * sx + mx
    mark = "▲" if color else "^"
    if len(ks):
        plt.scatter(ks, np.full(len(ks), lo + 0.03 * (hi - lo)), marker=mark, color="yellow+" if color else None)
    plt.title(kinks_title(title_prefix, len(ks), _marks_drawn(plt, mark) if len(ks) > 1 else len(ks), mark))
    return len(ks) + 1


def kinks_title(prefix: str, kinks: int, drawn: int, mark: str) -> str:
    """The count of pieces and kinks; ``drawn`` marks on the chart: fewer when kinks share a cell."""
    pieces = kinks + 1
    marks = f"{drawn} {mark}: some share a cell" if drawn < kinks else mark
    return f"{prefix}{pieces} linear piece{'s' * (pieces > 1)} ({kinks} kink{'s' * (kinks != 1)}, {marks})"


def _marks_drawn(plt, mark: str) -> int:
    """How many cells the kinks' marks take: the chart built once to see (kinks closer than a
    column apart land in one cell, and the title would count marks that are not there)."""
    try:
        return plt.build().count(mark)
    except Exception:  # plotext has edge cases; the title then counts the kinks alone
        return 1 << 30


def _only(snap: Snapshot, member: int) -> Snapshot:
    return dataclasses.replace(snap, members=(snap.members[member],))
