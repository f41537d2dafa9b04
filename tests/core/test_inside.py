"""Inside the network: units sum to the fit, kinks where the slope changes, dead units, the timeline."""

import io
import json

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import ACTIVATIONS, FitConfig, ModelConfig
from fitscope.core.engine import inside
from fitscope.core.engine.model import make_mlp
from fitscope.core.engine.run import Run
from fitscope.core.engine.sampler import NetNumbers
from fitscope.core.engine.timeline import Timeline
from fitscope.core.spec import RunSpec
from fitscope.core.store import runfiles

CPU = FitConfig().with_value("train.device", "cpu")
GRID = np.linspace(-1.5, 1.5, 301)


def net_and_layers(hidden, activation, seed=0):
    torch.manual_seed(seed)
    net = make_mlp(ModelConfig(hidden=hidden, activation=activation))
    layers = inside.layers_of({k: v.detach().double().numpy() for k, v in net.state_dict().items()})
    with torch.no_grad():
        y = net(torch.tensor(GRID, dtype=torch.float32)[:, None])[:, 0].double().numpy()
    return layers, y


@pytest.mark.parametrize("hidden", [(12,), (10, 10), (6, 9, 5)], ids=["1 layer", "2 layers", "3 layers"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_units_plus_the_bias_are_the_fit(activation, hidden):
    layers, y = net_and_layers(hidden, activation)
    u = inside.units(layers, activation, GRID)
    np.testing.assert_allclose(u.curves.sum(axis=0) + u.bias, y, rtol=0, atol=1e-5)
    np.testing.assert_allclose(u.total, y, rtol=0, atol=1e-5)
    assert len(u.curves) == min(hidden[-1], 8) + (hidden[-1] > 8)
    peaks = np.abs(u.curves[:min(hidden[-1], 8)]).max(axis=1)
    assert np.all(np.diff(peaks) <= 1e-12)  # sorted by how much each contributes
    if hidden[-1] > 8:
        assert u.labels[-1] == f"others (+{hidden[-1] - 8})"


def test_one_hidden_layer_relu_kinks_are_exactly_minus_b_over_w():
    w1 = np.array([[1.0], [-2.0], [0.5], [0.0], [4.0]])
    b1 = np.array([0.2, 0.3, -0.9, 1.0, 8.0])  # kinks at -0.2, 0.15, 1.8 (outside), none, -2 (outside)
    layers = [(w1, b1), (np.array([[1.0, 1.0, 1.0, 1.0, 1.0]]), np.array([0.0]))]
    np.testing.assert_array_equal(inside.kinks(layers, "relu", (-1.0, 1.0)), np.array([-0.2, 0.15]))
    assert len(inside.kinks(layers, "tanh", (-1.0, 1.0))) == 0  # smooth: none


@pytest.mark.parametrize("seed", range(4))
def test_deeper_kinks_are_where_the_fit_changes_slope(seed):
    layers, _ = net_and_layers((8, 8), "relu", seed)
    found = inside.kinks(layers, "relu", (-1.0, 1.0))
    x = np.linspace(-1, 1, 40_001)
    y = inside.forward(layers, "relu", x)
    slope = np.diff(y) / np.diff(x)
    bends = x[1:-1][np.abs(np.diff(slope)) > 1e-6 * max(1.0, np.abs(slope).max())]
    assert len(bends)
    assert len(found)
    gap = np.abs(bends[:, None] - found[None, :]).min(axis=1)
    assert gap.max() < 1e-3  # every bend of the fit is at a detected kink
    for k in found:  # and every detected kink that bends the fit does so there
        near = (x > k - 2e-3) & (x < k + 2e-3)
        assert near.any()


def test_dead_units_of_a_constructed_net_are_counted_exactly():
    w1 = np.array([[1.0], [0.0], [2.0], [0.0], [-1.0]])
    b1 = np.array([0.0, -1.0, 0.5, -0.1, -5.0])  # units 2, 4 and 5 never turn on for x in [-1, 1]
    layers = [(w1, b1), (np.ones((1, 5)), np.zeros(1))]
    x = np.linspace(-1, 1, 50)
    assert inside.dead_fraction(layers, "relu", x) == [pytest.approx(3 / 5)]
    assert inside.dead_fraction(layers, "tanh", x) == [None]


def test_the_engines_dead_units_match_a_count_on_its_own_weights():
    run = Run(RunSpec(CPU))
    run.apply(C.Step(200))
    snap = run.snapshot()
    m = snap.members[0]
    layers = [tuple(a) for a in m.layers]
    mine = inside.dead_fraction(layers, "relu", snap.data.x_train)
    assert list(m.stats.dead) == pytest.approx(mine)
    assert 0.9 < m.stats.r2_train < 1
    assert m.stats.r2_test is None  # the lesson's data has no test split
    assert len(m.stats.weight_norm) == len(m.stats.grad_norm) == len(m.stats.update_ratio) == 2
    assert min(m.stats.weight_norm) > 0
    assert min(m.stats.grad_norm) > 0


def test_the_network_numbers_go_by_the_metrics_columns_names():
    """metrics.csv writes them by name: the names NetNumbers gives are the ones its header has."""
    numbers = NetNumbers((0.25, None), (1.5, 2.5), (0.1, 0.2), (None, 0.03), 0.97, 0.9)
    cfg = CPU.with_value("model.hidden", (4, 4))
    assert list(numbers.columns()) == runfiles.stats_columns(max(len(m.cfg.model.hidden) for m in RunSpec(cfg).members()))
    assert numbers.columns()["dead_l1"] == 0.25
    assert numbers.columns()["update_ratio_l2"] == 0.03
    assert numbers.columns()["r2_test"] == 0.9
    assert numbers.dead_known == [0.25]


def test_a_timeline_of_a_million_steps_holds_at_most_512_frames_in_fixed_memory():
    tl = Timeline([7], torch.device("cpu"))
    source = [torch.zeros(7)]
    held = tl.nbytes()
    tl.add(0, lambda: source)
    for step in range(1, 1_000_001):
        if step % tl.stride == 0:
            source[0].fill_(step)
            tl.add(step, lambda: source)
    steps, (rows,) = tl.frames()
    assert len(steps) <= 512
    assert steps[0] == 0
    assert steps[-1] >= 1_000_000 - tl.stride
    assert np.all(np.diff(steps) > 0)
    assert np.all(np.diff(steps[1:]) == tl.stride)
    assert tl.nbytes() == held  # nothing grew
    np.testing.assert_array_equal(rows[:, 0].numpy(), steps.astype(np.float32))  # each frame is its own step's


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_a_frames_fit_equals_a_replayed_runs_fit_at_that_step(kernels):
    spec = RunSpec.race(CPU.with_values({"train.kernels": kernels, "train.steps": 2000}),
                        {"model.activation": ["relu", "tanh"]})
    run = Run(spec)
    run.apply(C.Step(1500))
    frames = run.apply(C.Timeline(1))
    assert len(frames.steps) <= 512
    assert frames.steps[0] == 0
    assert frames.steps[-1] == 1500
    assert np.all(np.diff(frames.steps) > 0)
    assert frames.layers is not None
    assert frames.layers[0][0].shape == (len(frames.steps), 10, 1)
    for i in (1, len(frames.steps) // 2, len(frames.steps) - 1):
        replay = Run(spec)
        if frames.steps[i]:
            replay.apply(C.Step(int(frames.steps[i])))
        np.testing.assert_allclose(frames.fits[i], replay.exp.predict(), rtol=0, atol=1e-5)
        w, b = frames.layers[0]
        want = replay.exp.stepper.state_dict(1)["0.weight"].double().numpy()
        np.testing.assert_allclose(w[i], want, rtol=0, atol=1e-7)


def test_a_save_keeps_the_timeline_and_the_networks_numbers(tmp_path, monkeypatch):
    # every snapshot (their cost is bench's to measure)
    monkeypatch.setattr("fitscope.core.engine.snapshot_build.STATS_SHARE", 1e9)
    run = Run(RunSpec(CPU.with_value("data.split", "random")))
    for _ in range(6):
        run.apply(C.Step(50))
        run.snapshot()  # the snapshot cadence: the numbers are measured here
    run.apply(C.Save(str(tmp_path / "r")))
    with np.load(io.BytesIO((tmp_path / "r" / "timeline.npz").read_bytes())) as z:
        assert z["fits"].shape == (len(z["steps"]), 1, len(z["x"]))
        assert z["steps"][-1] == 300
    rows = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    head = rows[0].split(",")
    assert head[8:] == ["dead_l1", "weight_norm_l1", "grad_norm_l1", "update_ratio_l1", "dead_l2", "weight_norm_l2",
                        "grad_norm_l2", "update_ratio_l2", "r2_train", "r2_test"]
    filled = [r.split(",") for r in rows[1:] if r.split(",")[-1] != ""]
    assert [int(r[0]) for r in filled] == [50, 100, 150, 200, 250, 300]
    assert all(0 < float(r[head.index("r2_train")]) <= 1 for r in filled)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["steps"] == 300
