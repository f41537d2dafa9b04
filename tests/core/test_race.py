"""Races: every member of a batched race equals its own single run; fast kernels equal autograd."""

import numpy as np
import pytest
import torch

from fitscope.core.config import ACTIVATIONS, FitConfig
from fitscope.core.engine.kernels import KERNELS
from fitscope.core.engine.model import ACTIVATION_MODULES
from fitscope.core.engine.training import AutogradStepper, Experiment, FastStepper, build
from fitscope.core.spec import Member, RunSpec

from support.oracle import NUDGES, assert_final_within_rounding, engine_final

CPU = FitConfig().with_values({"train.device": "cpu", "train.steps": 200})


def single(cfg: FitConfig, steps: int) -> np.ndarray:
    return Experiment(RunSpec(cfg)).step(steps)[:, 0]


def mixed_race(members: list[Member], steps: int) -> np.ndarray:
    """Members that no product of varied values gives, batched by the kernels' own grouping:
    each starts from its single run's first weights, on the shared data."""
    kernels = members[0].cfg.train.kernels
    exp = Experiment(RunSpec(members[0].cfg))  # the data, batches and device
    models = [build(RunSpec(m.cfg))[1][0] for m in members]
    exp.use((FastStepper if kernels == "fast" else AutogradStepper)(members, models, exp.device))
    return exp.step(steps)


MIXED = [
    {"model.activation": "relu"},
    {"model.activation": "tanh", "train.lr": 0.05},
    {"model.activation": "softplus", "train.momentum": 0.9, "train.lr": 0.05},
    {"model.activation": "relu", "train.optimizer": "adam", "train.lr": 0.01},
    {"model.activation": "tanh", "train.optimizer": "adam", "train.lr": 0.003, "train.weight_decay": 0.01},
    {"model.activation": "gelu", "train.optimizer": "adamw", "train.lr": 0.01, "train.weight_decay": 0.1},
    {"model.activation": "silu", "train.optimizer": "rmsprop", "train.lr": 0.001},
    {"model.activation": "relu", "model.hidden": "16", "model.init_seed": 3},
    {"model.activation": "relu", "model.init_seed": 7},
]


def test_a_race_member_follows_its_single_run():
    """The lesson's tolerances: step by step for 50 steps, the final loss by the oracle's rule."""
    spec = RunSpec.race(CPU.with_value("train.steps", 300), {"model.activation": ["relu", "softplus", "tanh"]},
                        seeds=5)
    race = Experiment(spec).step(300)
    assert race.shape == (300, 15)
    for j, m in enumerate(spec.members()):
        assert m.cfg.train.kernels == "fast"
        alone = single(m.cfg, 300)
        np.testing.assert_allclose(race[:50, j], alone[:50], rtol=1e-6, atol=1e-6, err_msg=m.label)
        # 0.5 %, or for a member chaotic at lr 0.2 what rounding alone does to its single run
        assert_final_within_rounding(float(race[-1, j]), float(alone[-1]),
                                     lambda cfg=m.cfg: [engine_final(cfg, 300, nudged=k) for k in NUDGES])
    assert len({round(float(v), 6) for v in race[-1]}) == 15  # fifteen different runs, not one copied


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_every_mixed_member_equals_its_single_run(kernels):
    steps = 200 if kernels == "fast" else 100  # autograd steps nine optimisers one by one: slower
    members = [Member(str(v), CPU.with_values({**v, "train.kernels": kernels})) for v in MIXED]
    race = mixed_race(members, steps)
    assert race.shape == (steps, len(MIXED))
    for j, m in enumerate(members):
        np.testing.assert_allclose(race[:, j], single(m.cfg, steps), rtol=0, atol=1e-5, err_msg=m.label)


OPTIMIZERS = [
    {"train.optimizer": "sgd"},
    {"train.optimizer": "sgd", "train.momentum": 0.9, "train.weight_decay": 0.01, "train.lr": 0.05},
    {"train.optimizer": "adam", "train.lr": 0.01},
    {"train.optimizer": "adam", "train.lr": 0.003, "train.weight_decay": 0.01},
    {"train.optimizer": "adamw", "train.lr": 0.01, "train.weight_decay": 0.1},
    {"train.optimizer": "rmsprop", "train.lr": 0.001},
    {"train.optimizer": "rmsprop", "train.lr": 0.001, "train.momentum": 0.5, "train.weight_decay": 0.01},
]


@pytest.mark.parametrize("values", OPTIMIZERS, ids=lambda v: "-".join(f"{k.split('.')[1]}={x}" for k, x in v.items()))
def test_fast_kernels_equal_autograd_for_every_optimizer(values):
    cfg = CPU.with_values({**values, "model.activation": "tanh"})
    fast = single(cfg, 50)
    slow = single(cfg.with_value("train.kernels", "autograd"), 50)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-5)
    assert fast[-1] < 0.9 * fast[0]  # it trained: the update rule was applied, not skipped


def test_fast_kernels_equal_autograd_in_one_race_of_every_optimizer():
    """Optimisers form separate groups in one race; each must still be its own optimiser."""
    spec = RunSpec.race(CPU.with_values({"train.lr": 0.01, "train.momentum": 0.5}),
                        {"train.optimizer": ["sgd", "adam", "adamw", "rmsprop"], "train.weight_decay": [0.0, 0.05]})
    fast = Experiment(spec).step(40)
    slow = Experiment(RunSpec(spec.base.with_value("train.kernels", "autograd"), spec.vary)).step(40)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-5)
    labels = [m.label for m in spec.members()]
    final = dict(zip(labels, fast[-1]))
    assert final["adam 0"] == final["adamw 0"]  # AdamW without decay is Adam...
    assert len({round(float(v), 7) for v in fast[-1]}) == 7  # ...and every other member its own run


def test_kernels_are_autograds_own_forward_and_backward():
    assert set(KERNELS) == set(ACTIVATION_MODULES) == set(ACTIVATIONS)
    z = torch.cat([torch.randn(2, 40, 5, generator=torch.Generator().manual_seed(0)) * 8,
                   torch.full((1, 40, 5), 25.0), torch.zeros(1, 40, 5)])  # past softplus's threshold; at relu's kink
    g = torch.randn_like(z)
    for name, (fwd, bwd) in KERNELS.items():
        zz = z.clone().requires_grad_()
        ref = ACTIVATION_MODULES[name]()(zz)
        (ref_grad,) = torch.autograd.grad(ref, zz, g)
        a, dz = fwd(z, torch.empty_like(z)), torch.empty_like(z)
        bwd(g, z, a, dz)
        assert torch.equal(a, ref.detach()), name
        assert torch.equal(dz, ref_grad), name


@pytest.mark.parametrize("loss", ["mse", "l1", "huber"])
def test_every_activation_and_loss_through_three_hidden_layers(loss):
    """One fast race of every activation against each member run alone by autograd."""
    base = CPU.with_values({"train.loss": loss, "model.hidden": "8,6,4", "train.lr": 0.1})
    spec = RunSpec.race(base, {"model.activation": list(ACTIVATIONS)})
    race = Experiment(spec).step(80)
    for j, m in enumerate(spec.members()):
        assert m.cfg.model.activation == m.label
        alone = single(m.cfg.with_value("train.kernels", "autograd"), 80)
        np.testing.assert_allclose(race[:, j], alone, rtol=0, atol=1e-5, err_msg=f"{loss} {m.label}")


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_minibatch_members_equal_their_single_runs(kernels):
    base = CPU.with_values({"train.batch_size": 32, "train.kernels": kernels})
    spec = RunSpec.race(base, {"model.activation": ["relu", "tanh"]})
    race = Experiment(spec).step(60)
    for j, m in enumerate(spec.members()):
        np.testing.assert_allclose(race[:, j], single(m.cfg, 60), rtol=0, atol=1e-5)
        np.testing.assert_allclose(race[:, j], single(m.cfg.with_value("train.kernels", "autograd"), 60),
                                   rtol=0, atol=1e-5)


def test_predictions_and_test_loss_per_member():
    base = CPU.with_value("data.split", "extrapolate")
    spec = RunSpec.race(base, {"model.activation": ["relu", "tanh", "softplus"]})
    exp = Experiment(spec)
    exp.step(5)
    pred, test = exp.predict(), exp.test_losses()
    assert pred.shape == (3, 400)
    assert test.shape == (3,)
    for j, m in enumerate(spec.members()):
        alone = Experiment(RunSpec(m.cfg.with_value("train.kernels", "autograd")))
        alone.step(5)
        np.testing.assert_allclose(pred[j], alone.predict()[0], rtol=0, atol=1e-5, err_msg=m.label)
        np.testing.assert_allclose(test[j], alone.test_losses()[0], rtol=1e-5, err_msg=m.label)
    assert Experiment(RunSpec(CPU)).test_losses() is None  # no split: no test set


def test_seeded_members_start_from_their_own_seed():
    spec = RunSpec.race(CPU, {"model.activation": ["relu"]}, seeds=3)
    race = Experiment(spec).step(3)
    for j, m in enumerate(spec.members()):
        assert m.seed == j
        np.testing.assert_allclose(race[:, j], single(CPU.with_value("model.init_seed", j), 3), rtol=1e-6, atol=1e-6)
    assert race[0, 0] != race[0, 1]
