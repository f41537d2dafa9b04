"""Drawing at the edges: predictions far outside the chart."""

import dataclasses
import warnings

import numpy as np
import pytest

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.run import Run
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
    assert "chart unavailable" not in text and "e+30" not in text and "┤" in text
