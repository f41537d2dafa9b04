"""The lesson's plain loop is the oracle: the engine must reproduce its losses step by step.

``train.kernels = "autograd"`` runs the lesson's own loop (nn modules, torch.optim, autograd), so
its losses must be the lesson's bit for bit. ``"fast"`` (the default: batched, hand-written
backward) does the same arithmetic in another order, so it agrees to float32 rounding; so does
``"compiled"`` (fast's step through torch.compile, its elementwise work fused).
"""

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.thread import ThreadDriver
from fitscope.core.engine.training import Experiment
from fitscope.core.snapshot import State
from fitscope.core.spec import RunSpec

from support.oracle import ACTS, assert_follows_the_lesson, lesson_losses

CPU = FitConfig().with_value("train.device", "cpu")


def engine_losses(seed: int, activation: str, kernels: str, steps: int = 300) -> np.ndarray:
    cfg = CPU.with_values({"data.seed": seed, "model.activation": activation, "train.kernels": kernels})
    losses = Experiment(RunSpec(cfg)).step(steps)
    assert losses.shape == (steps, 1)
    return losses[:, 0]


CASES = [(seed, act) for act in ACTS for seed in range(5)]


@pytest.mark.parametrize("seed,activation", CASES)
def test_autograd_kernels_are_the_lesson_bit_for_bit(seed, activation):
    ours = engine_losses(seed, activation, "autograd")
    np.testing.assert_array_equal(ours, lesson_losses(seed, activation))


@pytest.mark.parametrize("seed,activation", CASES)
def test_fast_kernels_follow_the_lesson(seed, activation):
    ours = engine_losses(seed, activation, "fast")
    assert_follows_the_lesson(ours, seed, activation)


@pytest.mark.compiled
@pytest.mark.parametrize("seed,activation", CASES)
def test_compiled_kernels_follow_the_lesson(seed, activation):
    """torch.compile'd fast step: the same rule (one compile per activation; the seeds reuse it)."""
    ours = engine_losses(seed, activation, "compiled")
    assert_follows_the_lesson(ours, seed, activation)


def test_the_chaos_allowance_is_not_a_blank_cheque():
    """The allowance above must reject a run that simply ends somewhere else."""
    ref = lesson_losses(3, "softplus")  # the most chaotic case
    wrong = ref.copy()
    wrong[-1] *= 2
    with pytest.raises(AssertionError):
        assert_follows_the_lesson(wrong, 3, "softplus")
    stable = lesson_losses(1, "relu")
    off = stable.copy()
    off[-1] *= 1.01
    with pytest.raises(AssertionError, match="stable to rounding"):
        assert_follows_the_lesson(off, 1, "relu")


@pytest.mark.parametrize("activation,kernels,seed", [("relu", "autograd", 3), ("tanh", "autograd", 3),
                                                     ("softplus", "fast", 1)])
def test_thread_driver_end_to_end_matches_the_lesson(activation, kernels, seed):
    cfg = CPU.with_values({"model.activation": activation, "data.seed": seed, "train.kernels": kernels})
    driver = ThreadDriver(RunSpec(cfg))
    try:
        driver.send(C.Start()).result(timeout=30)
        snap = driver.wait_for(lambda s: s.state == State.DONE, timeout=60)
    finally:
        driver.close()
    assert snap is not None
    assert snap.state == State.DONE
    assert snap.step == 300
    h = driver.tracker.history(0)
    np.testing.assert_array_equal(h.step, np.arange(1, 301))
    np.testing.assert_array_equal(h.lo, h.hi)  # below the cap: one step per row
    ref = lesson_losses(seed, activation)
    if kernels == "autograd":
        np.testing.assert_array_equal(h.loss, ref)
    else:
        assert_follows_the_lesson(np.asarray(h.loss), seed, activation)
    assert snap.train_loss == h.loss[-1]


@pytest.mark.parametrize("kernels", ["fast", "autograd", pytest.param("compiled", marks=pytest.mark.compiled)])
def test_default_run_converges_to_the_lesson_loss(kernels):
    losses = Experiment(RunSpec(CPU.with_value("train.kernels", kernels))).step(300)[:, 0]
    assert losses[0] > 0.1
    assert 0.003 < losses[-1] < 0.007


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_building_an_experiment_leaves_the_global_rng_alone(kernels):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Experiment(RunSpec.race(CPU.with_value("train.kernels", kernels), {"model.activation": ["relu", "tanh"]}))
    assert torch.equal(torch.rand(3), expected)
