"""The numpy rasteriser puts every cell where plotext itself would: same characters, same colours."""

from __future__ import annotations

import numpy as np
import pytest
from textual_plotext.plot import Plot

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec
from fitscope.tui import raster
from fitscope.tui.plotting import draw_fit, draw_loss, draw_race, draw_race_losses, member_style


def _cells(draw, width: int, height: int, ours: bool) -> list:
    plot = Plot()
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme("pro")
    draw(plot)
    plot._set_sizes()
    if ours:
        raster.build_matrix(plot)
    else:
        plot._build_matrix()
    m = plot.monitor.matrix
    return [m.marker, m.fullground, m.style, m.background]


def _same(draw, width: int = 70, height: int = 22) -> None:
    theirs, ours = _cells(draw, width, height, False), _cells(draw, width, height, True)
    for name, a, b in zip(("marker", "colour", "style", "background"), theirs, ours):
        diff = [(r, c, a[r][c], b[r][c]) for r in range(len(a)) for c in range(len(a[r])) if a[r][c] != b[r][c]]
        assert not diff, f"{name} differs at {len(diff)} cells, e.g. {diff[:5]}"


def _random_series(rng, n: int, spread: float):
    x = np.sort(rng.uniform(-1.3, 1.3, n))
    y = np.cumsum(rng.normal(0, spread, n))
    return x, y


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("marker", ["braille", "hd", "x", "3"])
def test_random_lines_and_scatters_match_plotext(seed, marker):
    rng = np.random.default_rng(seed)

    def draw(plt):
        plt.clear_data()
        for k in range(int(rng.integers(1, 6))):
            x, y = _random_series(rng, int(rng.integers(1, 200)), float(rng.choice([0.01, 0.2, 3.0])))
            colour = [None, "red+", "cyan", 33, (10, 200, 30)][k % 5]
            if rng.random() < 0.4:
                plt.scatter(x, y, marker=marker, color=colour)
            else:
                plt.plot(x, y, marker=marker, color=colour)
        if rng.random() < 0.5:
            plt.vline(float(rng.uniform(-1, 1)), "red")
        plt.xlim(-1.0, 1.0)  # data beyond the limits too: cut at the canvas's edge
        plt.ylim(float(rng.uniform(-3, 0)), float(rng.uniform(0.5, 3)))
        plt.title("t")

    state = rng.bit_generator.state
    theirs = _cells(draw, 70, 22, False)
    rng.bit_generator.state = state
    ours = _cells(draw, 70, 22, True)
    assert theirs == ours


def test_a_series_it_cannot_take_keeps_its_place_in_the_order():
    # a labelled series is plotext's alone: nothing is drawn here, and the result is plotext's
    def draw(plt):
        plt.clear_data()
        plt.plot([0, 1], [0, 1], marker="braille", color="red")
        plt.scatter([0.5], [0.5], marker="braille", color="blue", label="dot")
        plt.plot([0, 1], [1, 0], marker="braille", color="green")
        plt.xlim(0, 1)
        plt.ylim(0, 1)

    _same(draw)
    # an unset limit (plotext's own from all data), a fill, and non-finite values: the same
    for tweak in ("nolim", "fill", "nan"):
        def draw2(plt, tweak=tweak):
            plt.clear_data()
            y = np.array([0.0, 0.4, np.nan if tweak == "nan" else 0.2, 0.9])
            plt.plot([0, 0.3, 0.6, 1], y, marker="braille", color="red", fillx=tweak == "fill")
            plt.scatter([0.2, 0.8], [0.1, 0.7], marker="braille", color="cyan")
            if tweak != "nolim":
                plt.xlim(0, 1)
                plt.ylim(0, 1)

        _same(draw2)


@pytest.fixture(scope="module")
def race():
    """A trained 3-member race (one diverges) and its loss histories."""
    cfg = FitConfig().with_value("train.device", "cpu")
    run = Run(RunSpec.race(cfg, {"train.lr": [0.05, 0.3, 9.0]}))
    tracker = Tracker()
    for _ in range(6):
        run.apply(C.Step(40))
        snap = tracker.feed(run.snapshot())
    return snap, [tracker.history(i) for i in range(3)]


def test_the_apps_charts_match_plotext(race):
    snap, histories = race
    _same(lambda plt: draw_fit(plt, snap, width=70, legend=False), 70, 22)
    _same(lambda plt: draw_fit(plt, snap, width=70, legend=False, color=False), 70, 22)
    _same(lambda plt: draw_race(plt, snap, [0, 1, 2], width=70, legend=False), 70, 22)
    _same(lambda plt: draw_race(plt, snap, [0, 1, 2], width=70, legend=False, color=False), 70, 22)
    _same(lambda plt: draw_loss(plt, histories[0], width=70, legend=False), 70, 10)
    _same(lambda plt: draw_loss(plt, histories[0], width=70, legend=False, log_y=False, color=False), 70, 10)
    _same(lambda plt: draw_race_losses(plt, histories, [0, 1, 2], width=70, diverged=[12]), 70, 10)
    _same(lambda plt: draw_race_losses(plt, histories, [0, 1, 2], width=70, color=False, log_y=False), 70, 10)
    assert member_style(3, False)[1] == "4"


def test_a_huge_span_is_cut_short_not_drawn_for_minutes():
    plot = Plot()
    plot.plotsize(60, 20)
    plot._set_size(60, 20)
    plot.plot([0, 1], [0, 1e15], marker="braille")
    plot.xlim(0, 1)
    plot.ylim(0, 1)
    plot._set_sizes()
    raster.build_matrix(plot)  # a line of 10^15 pixels: left out, at once
    assert all(ch == " " for row in plot.monitor.matrix.marker[2:-2] for ch in row[10:-2])

