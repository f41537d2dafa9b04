"""The lesson's plain loop is the oracle: the engine must reproduce its losses step by step."""

import numpy as np
import pytest
import torch

from fitscope.core.config import FitConfig
from fitscope.core.engine import DONE, run_to_end
from fitscope.core.trainer import Trainer

ACTS = {"relu": torch.relu, "softplus": torch.nn.functional.softplus, "tanh": torch.tanh}


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


def lesson_losses(seed: int, activation: str, steps: int = 300) -> np.ndarray:
    torch.manual_seed(seed)
    x = torch.unsqueeze(torch.linspace(-1, 1, 300), dim=1)
    y = x.pow(3) - x.pow(2) + 0.2 * torch.rand(x.size())
    net = Net(1, 10, 1, ACTS[activation])
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
    return np.array(losses)


@pytest.mark.parametrize("activation", ["relu", "softplus", "tanh"])
@pytest.mark.parametrize("seed", range(5))
def test_trainer_matches_the_lesson(seed, activation):
    cfg = FitConfig().with_values({"data.seed": seed, "model.activation": activation, "train.device": "cpu"})
    trainer = Trainer(cfg)
    ours = trainer.step(300)
    np.testing.assert_allclose(ours, lesson_losses(seed, activation), rtol=0, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_background_engine_matches_the_lesson(activation):
    cfg = FitConfig().with_values({"model.activation": activation, "train.device": "cpu", "data.seed": 3})
    engine, snap = run_to_end(cfg)
    engine.stop()
    assert snap.state == DONE and snap.step == 300
    np.testing.assert_allclose(snap.history.loss, lesson_losses(3, activation), rtol=0, atol=1e-6)
    assert list(snap.history.step) == list(range(1, 301))


def test_default_run_converges_to_the_lesson_loss():
    losses = Trainer(FitConfig().with_value("train.device", "cpu")).step(300)
    assert losses[0] > 0.1
    assert 0.003 < losses[-1] < 0.007


def test_building_a_trainer_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Trainer(FitConfig())
    assert torch.equal(torch.rand(3), expected)
