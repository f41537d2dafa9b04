"""The app's chunks fall on the fast kernels' blocks (issue 25, defect 2; "eager" blocks are the CPU's
stand-in for CUDA graphs): a chunk that ended
between two block boundaries ran its head and tail eagerly — 14 % of the app's steps."""

import pytest

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine import kernels
from fitscope.core.engine.cudagraphs import BLOCK
from fitscope.core.engine.pacer import BLOCK_WAIT
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec


def drive(monkeypatch, pace, steps=2000, dt=0.01):
    """Tick a run as the drivers do, on a clock that moves dt a tick; count the steps run outside blocks."""
    eager = [0]
    step = kernels.Group.step

    def counting(group, x, y, out, captured=False):
        eager[0] += not captured
        step(group, x, y, out, captured)

    monkeypatch.setattr(kernels.Group, "step", counting)
    now = [0.0]
    run = Run(RunSpec(FitConfig().with_values({"train.steps": 10**6, "train.device": "cpu"})), pace=pace,
              clock=lambda: now[0], net_numbers=False, blocks="eager")
    run.apply(C.Start())
    ticks = 0
    while run.step < steps and ticks < 100_000:
        run.tick()
        now[0] += dt
        ticks += 1
    return run, eager[0]


@pytest.mark.parametrize("pace", [None, 1000.0, 3000.0])
def test_flat_out_and_fast_paces_step_in_blocks(monkeypatch, pace):
    run, eager = drive(monkeypatch, pace)
    assert run.step >= 2000
    assert eager / run.step <= 0.01, f"{eager} of {run.step} steps outside blocks at pace {pace}"


@pytest.mark.parametrize("pace", [10.0, 30.0, 100.0, 300.0])
def test_paces_for_the_eye_keep_their_steps_small(monkeypatch, pace):
    """Where a block would take longer than BLOCK_WAIT, the curve moves step by step, not a block at a time."""
    assert BLOCK / pace > BLOCK_WAIT
    run, _ = drive(monkeypatch, pace, steps=60, dt=0.01)
    seconds = run.clock()
    assert run.step == pytest.approx(pace * seconds, abs=pace * 0.01 + 2)  # the pace kept, a tick's steps at a time


def test_a_run_off_a_boundary_gets_back_on_it(monkeypatch):
    """After an odd number of single steps (`n`), flat-out chunks realign: at most one block's head eagerly."""
    eager = [0]
    step = kernels.Group.step
    monkeypatch.setattr(kernels.Group, "step",
                        lambda g, x, y, out, captured=False: (eager.__setitem__(0, eager[0] + (not captured)),
                                                              step(g, x, y, out, captured))[1])
    run = Run(RunSpec(FitConfig().with_values({"train.steps": 10**6, "train.device": "cpu"})), net_numbers=False,
              blocks="eager")
    run.apply(C.Step(5))
    before = eager[0]
    run.apply(C.Start())
    while run.step < 3000:
        run.tick()
    assert eager[0] - before <= BLOCK + 8  # the head to the next boundary, and the first small chunks
