"""The lesson's plain loop is the oracle: the engine must reproduce its losses step by step.

``train.kernels = "autograd"`` runs the lesson's own loop (nn modules, torch.optim, autograd), so
its losses must be the lesson's bit for bit. ``"fast"`` (the default: batched, hand-written
backward) does the same arithmetic in another order, so it agrees to float32 rounding.
"""

import functools

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.device import tune_threads
from fitscope.core.snapshot import State
from fitscope.core.spec import RunSpec
from fitscope.core.thread_driver import ThreadDriver
from fitscope.core.training import Experiment

ACTS = {"relu": torch.relu, "softplus": torch.nn.functional.softplus, "tanh": torch.tanh}
CPU = FitConfig().with_value("train.device", "cpu")
FIRST = 50  # steps compared one by one for the fast kernels
TOL = 1e-6  # absolute, and relative once a loss exceeds 1 (softplus overshoots to ~8 early at lr 0.2)
FINAL_REL = 0.005


class Net(torch.nn.Module):
    """The lesson's net, written the lesson's way."""

    def __init__(self, n_feature, n_hidden, n_output, act):
        super().__init__()
        self.hidden1 = torch.nn.Linear(n_feature, n_hidden)
        self.hidden2 = torch.nn.Linear(n_hidden, n_hidden)
        self.predict = torch.nn.Linear(n_hidden, n_output)
        self.act = act

    def forward(self, x):
        x = self.act(self.hidden1(x))
        x = self.act(self.hidden2(x))
        return self.predict(x)


@functools.cache
def lesson_losses(seed: int, activation: str, steps: int = 300, nudge: int = 0) -> np.ndarray:
    """The lesson's loop. ``nudge`` > 0: the same, with the initial weights moved by a seeded
    ±5e-7 relative (a few float32 ulps), to measure how much rounding alone moves this run."""
    # the engine's thread count for a net this size; torch's reductions differ in the last bit
    # between thread counts, so the lesson must run under the same one to compare bit for bit
    tune_threads(torch.device("cpu"), 300 * 10**2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = torch.unsqueeze(torch.linspace(-1, 1, 300), dim=1)
        y = x.pow(3) - x.pow(2) + 0.2 * torch.rand(x.size())
        net = Net(1, 10, 1, ACTS[activation])
    if nudge:
        gen = torch.Generator().manual_seed(nudge)
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(1 + 1e-6 * (torch.rand(p.shape, generator=gen) - 0.5))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.2)
    loss_func = torch.nn.MSELoss()
    losses = []
    for _ in range(steps):
        prediction = net(x)
        loss = loss_func(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    out = np.array(losses)
    out.setflags(write=False)
    return out


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


def assert_follows_the_lesson(ours: np.ndarray, ref: np.ndarray, seed: int, activation: str) -> None:
    """Step by step for the first steps; the final loss within 0.5 %, unless the lesson's own run
    is chaotic at float32 precision, when it must stay within what rounding alone does to it."""
    np.testing.assert_allclose(ours[:FIRST], ref[:FIRST], rtol=TOL, atol=TOL)
    rel = abs(ours[-1] - ref[-1]) / ref[-1]
    if rel <= FINAL_REL:
        return
    # A few of these runs sit at the edge of stability at lr 0.2: moving the lesson's own initial
    # weights by a few ulps moves its final loss by several percent (seed 3 softplus: ~20 %). For
    # those, 0.5 % is not a property any other float32 order of operations can have; what can be
    # checked is that the fast kernels land no further away than rounding alone throws the lesson.
    nudged = np.array([lesson_losses(seed, activation, nudge=k)[-1] for k in (1, 2, 3, 4)])
    spread = float(np.abs(nudged - ref[-1]).max() / ref[-1])
    assert spread > FINAL_REL, (f"final loss {ours[-1]:.6g} is {rel:.2%} from the lesson's {ref[-1]:.6g}, "
                                f"and the lesson is stable to rounding here (spread {spread:.2%})")
    assert rel <= 2 * spread, f"final loss {rel:.2%} from the lesson's; rounding alone moves it {spread:.2%}"


@pytest.mark.parametrize("seed,activation", CASES)
def test_fast_kernels_follow_the_lesson(seed, activation):
    ours = engine_losses(seed, activation, "fast")
    assert_follows_the_lesson(ours, lesson_losses(seed, activation), seed, activation)


def test_the_chaos_allowance_is_not_a_blank_cheque():
    """The allowance above must reject a run that simply ends somewhere else."""
    ref = lesson_losses(3, "softplus")  # the most chaotic case
    wrong = ref.copy()
    wrong[-1] *= 2
    with pytest.raises(AssertionError):
        assert_follows_the_lesson(wrong, ref, 3, "softplus")
    stable = lesson_losses(1, "relu")
    off = stable.copy()
    off[-1] *= 1.01
    with pytest.raises(AssertionError, match="stable to rounding"):
        assert_follows_the_lesson(off, stable, 1, "relu")


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
    assert snap is not None and snap.state == State.DONE and snap.step == 300
    h = driver.tracker.history(0)
    np.testing.assert_array_equal(h.step, np.arange(1, 301))
    np.testing.assert_array_equal(h.lo, h.hi)  # below the cap: one step per row
    ref = lesson_losses(seed, activation)
    if kernels == "autograd":
        np.testing.assert_array_equal(h.loss, ref)
    else:
        assert_follows_the_lesson(np.asarray(h.loss), ref, seed, activation)
    assert snap.train_loss == h.loss[-1]


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
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
