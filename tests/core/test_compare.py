"""Compare mode: every member of a batched race equals its own single run."""

import numpy as np
import pytest

from fitscope.core.compare import MAX_MEMBERS, CompareTrainer, Member, members_from, parse_values
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.trainer import Trainer

CPU = FitConfig().with_values({"train.device": "cpu", "train.steps": 200})


def single(cfg: FitConfig, steps: int) -> np.ndarray:
    return Trainer(cfg).step(steps)


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


def test_every_member_equals_its_single_run():
    members = [Member(str(v), CPU.with_values(v)) for v in MIXED]
    race = CompareTrainer(members).step(200)
    assert race.shape == (200, len(MIXED))
    for j, m in enumerate(members):
        np.testing.assert_allclose(race[:, j], single(m.cfg, 200), rtol=0, atol=1e-5, err_msg=m.label)


def test_kernels_are_autograds_own_forward_and_backward():
    import torch

    from fitscope.core.compare import KERNELS
    from fitscope.core.model import ACTIVATION_MODULES

    assert set(KERNELS) == set(ACTIVATION_MODULES)
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
    from fitscope.core.model import ACTIVATION_MODULES

    base = CPU.with_values({"train.loss": loss, "model.hidden": "8,6,4", "train.lr": 0.1})
    members = [Member(a, base.with_value("model.activation", a)) for a in ACTIVATION_MODULES]
    race = CompareTrainer(members).step(80)
    for j, m in enumerate(members):
        np.testing.assert_allclose(race[:, j], single(m.cfg, 80), rtol=0, atol=1e-5, err_msg=f"{loss} {m.label}")


def test_minibatch_members_equal_their_single_runs():
    base = CPU.with_value("train.batch_size", 32)
    members = [Member(a, base.with_value("model.activation", a)) for a in ("relu", "tanh")]
    race = CompareTrainer(members).step(60)
    for j, m in enumerate(members):
        np.testing.assert_allclose(race[:, j], single(m.cfg, 60), rtol=0, atol=1e-5)


def test_one_member_diverging_leaves_the_others_going():
    members = [Member("wild", CPU.with_value("train.lr", 60)), Member("calm", CPU)]
    t = CompareTrainer(members)
    race = t.step(10)
    assert not np.isfinite(race[:, 0]).all()
    t.stop_member(0)
    more = t.step(20)
    np.testing.assert_allclose(np.concatenate([race[:, 1], more[:, 1]]), single(CPU, 30), atol=1e-5)


def test_predictions_and_test_loss_per_member():
    base = CPU.with_value("data.split", "extrapolate")
    t = CompareTrainer([Member(a, base.with_value("model.activation", a)) for a in ("relu", "tanh", "softplus")])
    t.step(5)
    assert t.predict().shape == (3, 400)
    assert t.test_loss().shape == (3,)


def test_members_are_the_product_over_seeds():
    ms = members_from(CPU, {"model.activation": ["relu", "tanh"], "train.lr": [0.05, 0.2]}, seeds=3)
    assert len(ms) == 12
    assert {m.cfg.model.init_seed for m in ms} == {0, 1, 2}
    assert ms[0].label == "relu 0.05 s0"


@pytest.mark.parametrize("key,text,why", [
    ("model.activation", "", "none empty"),
    ("model.activation", "relu,,tanh", "none empty"),
    ("model.activation", "relu,tanh,relu", "lists relu twice"),
    ("model.activation", "relu,swish", "expected one of"),
    ("train.lr", "0.1,abc", "expected a number"),
    ("model.hidden", "10,10;0", "from 1 to 1024"),
])
def test_bad_lists_are_clear_errors(key, text, why):
    with pytest.raises(ConfigError, match=why.replace("(", "\\(")):
        parse_values(key, text)


def test_too_many_members_and_unknown_keys():
    with pytest.raises(ConfigError, match="2 to 64 members"):
        members_from(CPU, {"train.lr": [0.01 * (i + 1) for i in range(13)]}, seeds=5)
    with pytest.raises(ConfigError, match="can vary"):
        members_from(CPU, {"data.points": [10, 20]})
    assert MAX_MEMBERS == 64


def test_compare_engine_marks_a_diverged_member_and_the_others_go_on():
    from fitscope.core.compare_engine import CompareEngine
    from fitscope.core.engine import DONE

    members = [Member("wild", CPU.with_value("train.lr", 60), "wild"), Member("calm", CPU, "calm")]
    e = CompareEngine(members)
    try:
        e.start()
        snap = e.wait_for(lambda s: s.state == DONE, timeout=30)
    finally:
        e.stop()
    wild, calm = snap.members
    assert wild.diverged_at is not None and wild.state == f"diverged at step {wild.diverged_at}"
    assert np.isnan(wild.y_pred).all()  # its line stops
    assert calm.diverged_at is None and len(calm.history) == 200
    np.testing.assert_allclose(calm.history.loss, single(CPU, 200), atol=1e-5)
    assert snap.train_loss == calm.loss  # the leader
