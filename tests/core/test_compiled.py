"""``train.kernels = "compiled"``: the fast step through torch.compile. Same losses every time,
the fast kernels' within rounding (race = single, every optimiser), resumed bit for bit, said
before the first step waits for a compile, and the fast kernels (said once) where it fails.

Each distinct net, batch and optimiser is one compile (seconds warm, tens of seconds cold), so
the cases share few shapes; the oracle's cases are in test_oracle.py."""

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.thread import ThreadDriver
from fitscope.core.engine import compiled
from fitscope.core.engine.run import Run
from fitscope.core.engine.training import Experiment, FastStepper, build
from fitscope.core.snapshot import State
from fitscope.core.spec import Member, RunSpec

from support.oracle import assert_follows_the_lesson

pytestmark = pytest.mark.compiled

CPU = FitConfig().with_values({"train.device": "cpu", "train.kernels": "compiled"})
T = 900  # seconds: a cold compile on two busy cores; a backstop, never what decides a test
# one member per optimiser group, two activations in the SGD group (one with momentum: not plain)
MIXED = [
    {"model.activation": "relu"},
    {"model.activation": "softplus", "train.momentum": 0.9, "train.lr": 0.05},
    {"model.activation": "tanh", "train.optimizer": "adam", "train.lr": 0.01, "train.weight_decay": 0.01},
    {"model.activation": "gelu", "train.optimizer": "adamw", "train.lr": 0.01, "train.weight_decay": 0.1},
    {"model.activation": "silu", "train.optimizer": "rmsprop", "train.lr": 0.001, "train.momentum": 0.5},
]


def mixed_race(kernels: str, steps: int) -> np.ndarray:
    members = [Member(str(v), CPU.with_values({**v, "train.kernels": kernels})) for v in MIXED]
    exp = Experiment(RunSpec(members[0].cfg))
    models = [build(RunSpec(m.cfg))[1][0] for m in members]
    kind = compiled.CompiledStepper if kernels == "compiled" else FastStepper
    stepper = kind(members, models, exp.device, exp.batches) if kernels == "compiled" else kind(members, models, exp.device)
    exp.use(stepper)
    return exp.step(steps)


def test_every_optimiser_in_a_compiled_race_is_the_fast_kernels_within_rounding():
    race, fast = mixed_race("compiled", 60), mixed_race("fast", 60)
    np.testing.assert_allclose(race, fast, rtol=0, atol=1e-5)
    assert all(race[-1] < 0.95 * race[0])  # each member trained: its update rule ran
    assert len({round(float(v), 7) for v in race[-1]}) == len(MIXED)


def test_a_compiled_race_member_equals_its_compiled_single_run():
    spec = RunSpec.race(CPU, {"model.activation": ["relu", "tanh"]})
    race = Experiment(spec).step(100)
    for j, m in enumerate(spec.members()):
        alone = Experiment(RunSpec(m.cfg)).step(100)[:, 0]
        np.testing.assert_allclose(race[:, j], alone, rtol=0, atol=1e-5, err_msg=m.label)


def test_the_same_settings_give_the_same_losses_every_time():
    """A second run reuses the compiled step (no compile to wait for); both are bit for bit one."""
    cfg = CPU.with_values({"train.batch_size": 64, "train.optimizer": "adam", "train.lr": 0.01})
    first = Experiment(RunSpec(cfg))
    a = np.concatenate([first.step(7), first.step(33)])  # chunks of any size
    second = Experiment(RunSpec(cfg))
    assert second.stepper.notice is None  # compiled in this process already: nothing to wait for
    assert isinstance(second.stepper, compiled.CompiledStepper)
    assert second.stepper.compiled
    np.testing.assert_array_equal(second.step(40), a)
    fast = Experiment(RunSpec(cfg.with_value("train.kernels", "fast"))).step(40)
    np.testing.assert_allclose(a, fast, rtol=0, atol=1e-5)


def curves(snaps) -> torch.Tensor:
    k = len(snaps[0].members)
    return torch.tensor(np.stack([np.concatenate([s.members[j].losses for s in snaps]) for j in range(k)]))


@pytest.mark.parametrize("race", [False, True], ids=["single", "race"])
def test_a_resumed_compiled_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path, race):
    cfg = CPU.with_values({"train.steps": 90, "train.batch_size": 64, "train.optimizer": "adam", "train.lr": 0.01})
    spec = RunSpec.race(cfg, {"model.activation": ["relu", "tanh"]}, seeds=2) if race else RunSpec(cfg)
    whole = Run(spec)
    whole.apply(C.Step(90))
    expected = curves([whole.snapshot()])
    first = Run(spec)
    first.apply(C.Step(37))  # mid-epoch: the data order, the weights and Adam's state carry over
    first.apply(C.Save(str(tmp_path / "r")))
    resumed = Run(RunSpec(FitConfig().with_value("train.device", "cpu")))
    resumed.apply(C.Open(str(tmp_path / "r"), 90))
    assert resumed.step == 37
    opened = resumed.snapshot()
    resumed.apply(C.Step(53))
    assert torch.equal(curves([opened, resumed.snapshot()]), expected)


def test_the_run_says_it_compiles_before_the_first_step_waits(monkeypatch):
    monkeypatch.setattr(compiled, "_READY", set())  # as in a fresh process: a compile to wait for
    run = Run(RunSpec(CPU))
    said = [n.text for n in run.snapshot().notices]  # the first frame, before any step
    assert any(t.startswith("compiling the training step") and " s " in t for t in said), said
    run.apply(C.Step(3))
    said = [n.text for n in run.snapshot().notices]
    assert any(t.startswith("compiled the training step in") for t in said), said


def test_a_failing_compile_falls_back_to_the_fast_kernels_said_once(monkeypatch):
    """No C++ compiler: inductor fails at the first call. The run steps with fast, bit for bit."""
    def no_compiler(fn, **kw):
        def call(*a, **k):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore text")
        return call

    monkeypatch.setattr(compiled, "_COMPILED", {})
    monkeypatch.setattr(compiled, "_READY", set())
    monkeypatch.setattr(torch, "compile", no_compiler)
    cfg = CPU.with_value("train.steps", 40)
    run = Run(RunSpec(cfg))
    assert any(n.text.startswith("compiling") for n in run.snapshot().notices)
    run.apply(C.Step(20))
    said = [n.text for n in run.snapshot().notices]
    assert said == ["torch.compile failed (RuntimeError: InvalidCxxCompiler: No working C++ compiler found): "
                    "stepping with the fast kernels"]
    assert not run.exp.stepper.compiled
    run.apply(C.Step(20))
    assert run.snapshot().notices == ()  # once
    fast = Experiment(RunSpec(cfg.with_value("train.kernels", "fast"))).step(40)[:, 0]
    np.testing.assert_array_equal(np.asarray(run.tracker.history(0).loss), fast)


def test_the_thread_driver_runs_the_compiled_kernels_to_the_lessons_losses():
    driver = ThreadDriver(RunSpec(CPU.with_values({"model.activation": "tanh", "data.seed": 2})))
    try:
        driver.send(C.Start()).result(timeout=T)
        snap = driver.wait_for(lambda s: s.state == State.DONE, timeout=T)
    finally:
        driver.close()
    assert snap is not None
    assert snap.state == State.DONE
    assert_follows_the_lesson(np.asarray(driver.tracker.history(0).loss), 2, "tanh")


def test_a_compile_that_hangs_gives_way_to_the_fast_kernels_for_good():
    """A compile past its limit (seen: inductor without a vector unit in CI) must not hold the run:
    the first step waits at most the limit, then every step is the fast kernels', even once the
    compile finishes."""
    release = __import__("threading").Event()

    def hangs(plan):
        release.wait()  # the compile never finishes while the run waits
        return lambda *args: torch.full((1,), 123.0)  # a late step that would show in the losses if used

    spec = RunSpec(CPU)
    exp = Experiment(spec)
    exp.use(compiled.CompiledStepper(spec.members(), build(spec)[1], exp.device, exp.batches, compile=hangs,
                                     wait_limit_s=0.2))
    first = exp.step(20)[:, 0]
    assert exp.stepper.notice == "torch.compile failed (it did not finish in 0.2 s): stepping with the fast kernels"
    release.set()
    exp.stepper.ready(T)
    assert not exp.stepper.compiled
    rest = exp.step(20)[:, 0]
    fast = Experiment(RunSpec(CPU.with_value("train.kernels", "fast"))).step(40)[:, 0]
    np.testing.assert_array_equal(np.concatenate([first, rest]), fast)
