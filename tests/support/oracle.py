"""The lesson's plain loop, and the rule that compares any other float32 run with it.

A trained float is never asserted exactly: the first steps agree to float32 rounding, the final
loss within 0.5 % — unless the run is chaotic at float32 precision (lr 0.2 SGD on tanh/softplus
sits at the edge of stability), when it must land no further away than rounding alone throws the
reference itself. That spread is measured, not assumed: the same run from initial weights moved
by a few ulps. It is what holds on any BLAS build and vector unit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import torch

from fitscope.core.engine.device import tune_threads

ACTS = {"relu": torch.relu, "softplus": torch.nn.functional.softplus, "tanh": torch.tanh}
FIRST = 50  # steps compared one by one
TOL = 1e-6  # absolute, and relative once a loss exceeds 1 (softplus overshoots to ~8 early at lr 0.2)
FINAL_REL = 0.005
NUDGES = (1, 2, 3, 4)


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


def nudge(params, k: int) -> None:
    """Move weights by a seeded ±5e-7 relative (a few float32 ulps): what rounding alone does."""
    gen = torch.Generator().manual_seed(k)
    with torch.no_grad():
        for p in params:
            p.mul_(1 + 1e-6 * (torch.rand(p.shape, generator=gen) - 0.5))


@functools.cache
def lesson_losses(seed: int, activation: str, steps: int = 300, nudged: int = 0) -> np.ndarray:
    """The lesson's loop. ``nudged`` > 0: the same from initial weights moved by :func:`nudge`."""
    # the engine's thread count for a net this size; torch's reductions differ in the last bit
    # between thread counts, so the lesson must run under the same one to compare bit for bit
    tune_threads(torch.device("cpu"), 300 * 10**2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = torch.unsqueeze(torch.linspace(-1, 1, 300), dim=1)
        y = x.pow(3) - x.pow(2) + 0.2 * torch.rand(x.size())
        net = Net(1, 10, 1, ACTS[activation])
    if nudged:
        nudge(net.parameters(), nudged)
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


def lesson_final(seed: int = 0, activation: str = "relu", steps: int = 300) -> float:
    return float(lesson_losses(seed, activation, steps)[-1])


def assert_final_within_rounding(ours: float, ref: float, nudged: Callable[[], Sequence[float]],
                                 rel: float = FINAL_REL, slack: float = 0.0) -> None:
    """``ours`` within ``rel`` of ``ref``, or, where the reference run is chaotic, within twice
    the spread rounding alone gives it (``nudged()``: its final losses from nudged weights, asked
    for only when needed). ``slack``: an absolute allowance for a printed, rounded figure."""
    off = abs(ours - ref)
    if off <= rel * ref + slack:
        return
    spread = float(np.abs(np.asarray(nudged(), dtype=float) - ref).max() / ref)
    assert spread > rel, (f"final loss {ours:.6g} is {off / ref:.2%} from the reference's {ref:.6g}, "
                          f"and the reference is stable to rounding here (spread {spread:.2%})")
    assert off <= 2 * spread * ref + slack, (f"final loss {off / ref:.2%} from the reference's; "
                                             f"rounding alone moves it {spread:.2%}")


def assert_follows_the_lesson(ours: np.ndarray, seed: int, activation: str) -> None:
    """Step by step for the first steps; the final loss by :func:`assert_final_within_rounding`."""
    ref = lesson_losses(seed, activation, len(ours))
    np.testing.assert_allclose(ours[:FIRST], ref[:FIRST], rtol=TOL, atol=TOL)
    assert_final_within_rounding(float(ours[-1]), float(ref[-1]),
                                 lambda: [lesson_losses(seed, activation, len(ours), nudged=k)[-1] for k in NUDGES])


def assert_printed_lesson_loss(printed: str, seed: int = 0, activation: str = "relu", steps: int = 300) -> None:
    """A loss printed to 5 decimals (``0.00470``) is the lesson's, by the rule above."""
    assert_final_within_rounding(float(printed), lesson_final(seed, activation, steps),
                                 lambda: [lesson_losses(seed, activation, steps, nudged=k)[-1] for k in NUDGES],
                                 slack=5e-6)


def engine_final(cfg, steps: int, nudged: int = 0) -> float:
    """The engine's final loss for a single-member config, from weights moved by :func:`nudge`."""
    from fitscope.core.engine.training import AutogradStepper, CompiledStepper, Experiment, FastStepper, build
    from fitscope.core.spec import RunSpec

    spec = RunSpec(cfg)
    exp = Experiment(spec)
    if nudged:
        models = build(spec)[1]
        nudge(models[0].parameters(), nudged)
        if cfg.train.kernels == "compiled":
            exp.use(CompiledStepper(spec.members(), models, exp.device, exp.batches))
        else:
            stepper = FastStepper if cfg.train.kernels == "fast" else AutogradStepper
            exp.use(stepper(spec.members(), models, exp.device))
    return float(exp.step(steps)[-1, 0])
