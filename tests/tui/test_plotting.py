"""Drawing at the edges: predictions far outside the chart."""

import dataclasses
import re
import warnings

import numpy as np
import pytest

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec
from fitscope.tui.plotting import chart_text

CPU = FitConfig().with_value("train.device", "cpu")


@pytest.mark.parametrize("race", [False, True], ids=["single", "race"])
def test_a_prediction_of_1e30_draws_without_overflow_and_leaves_the_chart(race):
    """A diverging member's fit went into plotext as is: its tick arithmetic overflowed (RuntimeWarning)."""
    spec = RunSpec.race(CPU, {"train.lr": [0.1, 0.2]}) if race else RunSpec(CPU)
    run = Run(spec)
    run.apply(C.Step(20))
    snap = dataclasses.replace(run.snapshot(), data=run.exp.view)
    wild = dataclasses.replace(snap.members[-1], y_pred=np.full_like(snap.members[-1].y_pred, 1e30))
    snap = dataclasses.replace(snap, members=(*snap.members[:-1], wild))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = chart_text(snap, 80, 24, color=False)
    assert "chart unavailable" not in text
    assert "e+30" not in text
    assert "┤" in text


def test_axis_labels_of_extreme_data_go_through_the_formatter():
    """plotext's own labels printed 59838722834509000355058194837405696 and 0.00000000098, and
    squeezed the chart to half its width."""
    from fitscope.tui.formatting import short

    for sets in ({"data.target": "exp(x)", "data.x_min": 0, "data.x_max": 80},
                 {"data.target": "1e-9*sin(x)"}, {"data.target": "1e6*x"}, {"data.x_min": 0, "data.x_max": 1e-6}):
        run = Run(RunSpec(CPU.with_values(sets)))
        run.apply(C.Step(3))
        snap = dataclasses.replace(run.snapshot(), data=run.exp.view)
        text = chart_text(snap, 80, 24, color=False)
        labels = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
        assert labels, (sets, labels)
        assert all(len(label) <= 7 for label in labels), (sets, labels)
        assert "00000" not in text, sets
    assert [short(v) for v in (2.5e-7, 1e-3, 7.5e-4, 2.5e9, -1e10)] == ["2.5e-7", "1e-3", "7.5e-4", "2.5e+9", "-1e+10"]


def test_a_diverged_member_neither_stretches_the_loss_axis_nor_runs_along_its_top():
    """Linear scale: a diverged member's 2e34 set the axis and the healthy curves fell onto its 0
    row; a curve above the axis was drawn flat along the top edge, as if it had those losses."""
    import plotext
    from textual_plotext.plot import Plot

    from fitscope.tui.plotting import plot_losses

    steps = np.arange(1, 101, dtype=float)
    healthy = 1.0 / steps
    wild = np.where(steps < 20, 1.0 / steps, 1e30)
    for log_y in (False, True):
        plot = Plot()
        plot.plotsize(60, 14)
        plot_losses(plot, [(steps, wild, None, "4", None), (steps, healthy, None, "1", None)], width=60,
                    log_y=log_y, diverged=[20], height=14, wild={0})
        text = plotext.uncolorize(plot.build())
        body = [re.split("[┤│]", line, maxsplit=1)[-1] for line in text.splitlines() if "┤" in line or "│" in line]
        assert sum(row.count("1") for row in body) > 40, text  # the healthy curve spans the chart's height
        assert body[0].count("4") <= 2, text  # the diverged one leaves through the top, not along it


def test_where_race_lines_meet_the_lowest_loss_is_the_one_seen():
    run = Run(RunSpec.race(CPU, {"train.lr": [0.2, 0.2001, 0.2002]}))  # three near-identical fits
    run.apply(C.Step(300))
    snap = dataclasses.replace(run.snapshot(), data=run.exp.view)
    best = min(range(3), key=lambda i: snap.members[i].loss)
    from fitscope.tui.plotting import draw_race, render_chart

    shown = [best] + [i for i in range(3) if i != best]  # asked for first: it is still drawn last
    text = render_chart(lambda plt, legend: draw_race(plt, snap, shown, width=80, color=False, legend=False),
                        80, 24, False)
    counts = {str(i + 1): text.count(str(i + 1)) for i in range(3)}
    assert max(counts, key=counts.get) == str(best + 1), counts


def test_the_kinks_title_counts_the_marks_drawn_when_kinks_share_a_cell():
    """Kinks closer than a column apart land in one cell: the title said 10 kinks while 8 marks
    were drawn (#22). Here a one-layer net with kinks at x = -b/w: two pairs 0.001 apart."""
    import plotext

    from fitscope.tui.inside_plot import draw_kinks

    run = Run(RunSpec(CPU))
    run.apply(C.Step(1))
    snap = dataclasses.replace(run.snapshot(), data=run.exp.view)
    at = np.array([-0.5, -0.499, 0.0, 0.3, 0.301])
    layers = [(np.ones((5, 1)), -at), (np.ones((1, 5)), np.zeros(1))]
    for width, color, mark in ((60, False, "^"), (100, True, "▲")):
        plotext.clear_figure()
        plotext.plot_size(width, 20)
        plotext.theme("clear")
        draw_kinks(plotext, snap, 0, layers, width=width, color=color)
        title, *chart = plotext.uncolorize(plotext.build()).splitlines()
        assert sum(line.count(mark) for line in chart) == 3
        assert f"6 linear pieces (5 kinks, 3 {mark}: some share a cell)" in title
    plotext.clear_figure()
    plotext.plot_size(100, 20)
    layers = [(np.ones((2, 1)), -np.array([-0.5, 0.5])), (np.ones((1, 2)), np.zeros(1))]
    draw_kinks(plotext, snap, 0, layers, width=100, color=False)
    assert "3 linear pieces (2 kinks, ^)" in plotext.build().splitlines()[0]  # apart: no word about cells
