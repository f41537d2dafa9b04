"""The GPU path's logic, on the CPU: full-batch steps in blocks (what CUDA graphs capture) with the
step count on the device, losses read in bulk once per chunk, divergence found in that buffer,
lr changes in place (a captured step reads the same tensors)."""

import numpy as np
import pytest

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.graphs import BLOCK
from fitscope.core.run import Run
from fitscope.core.snapshot import Level, State
from fitscope.core.spec import RunSpec
from fitscope.core.training import Experiment

CPU = FitConfig().with_value("train.device", "cpu")
OPTIMISERS = {
    "sgd": {},
    "sgd+momentum+wd": {"train.momentum": 0.9, "train.lr": 0.05, "train.weight_decay": 0.01},
    "adam": {"train.optimizer": "adam", "train.lr": 0.01},
    "rmsprop": {"train.optimizer": "rmsprop", "train.lr": 0.001},
}
CHUNKS = [5, 40, 3, 33, 19]  # uneven: blocks start only at multiples of BLOCK, eager steps fill in


def race(extra: dict) -> RunSpec:
    return RunSpec.race(CPU.with_values(extra), {"model.activation": ["relu", "tanh"]}, seeds=2)


@pytest.mark.parametrize("optimiser", list(OPTIMISERS))
def test_steps_in_blocks_equal_steps_one_at_a_time(optimiser):
    """The reference reads every step's loss at once; the blocks read a chunk's at its end."""
    spec = race(OPTIMISERS[optimiser])
    blocks, reference = Experiment(spec, blocks="eager"), Experiment(spec, blocks="off")
    got = np.concatenate([blocks.step(n) for n in CHUNKS])
    want = np.concatenate([reference.step(1) for _ in range(sum(CHUNKS))])
    assert blocks.stepper._block is not None  # blocks did run
    # the very same arithmetic: Adam's step count on the device is float64, as the host's corrections are
    assert np.array_equal(got, want)
    for j in range(4):
        w_got, w_want = blocks.stepper.state_dict(j), reference.stepper.state_dict(j)
        assert all(np.array_equal(w_got[key].numpy(), w_want[key].numpy()) for key in w_want)


@pytest.mark.parametrize("blocks", ["eager", "off"])
def test_the_divergence_step_from_the_bulk_buffer_is_the_per_step_one(blocks):
    spec = RunSpec.race(CPU.with_value("train.lr", 1.0), {"train.lr": [0.2, 3.0, 9.0]})
    bulk, per_step = Run(spec, blocks=blocks), Run(spec, blocks="off")
    bulk.apply(C.Step(100))
    for _ in range(100):
        if per_step.state != State.DIVERGED:
            per_step.apply(C.Step(1))
    assert bulk.dead == per_step.dead and len(bulk.dead) == 2  # lr 3 and 9 diverge, each at its own step
    assert all(at < 100 for at in bulk.dead.values())
    a, b = bulk.snapshot(), per_step.snapshot()
    for m, r in zip(a.members, b.members):
        assert m.diverged_at == r.diverged_at
        assert np.array_equal(m.losses, r.losses[:len(m.losses)]) and np.isfinite(m.losses).all()


def test_a_live_lr_change_writes_the_tensors_a_graph_reads():
    run = Run(RunSpec(CPU), blocks="eager")
    run.apply(C.Step(BLOCK))
    group = run.exp.stepper.groups[0]
    lr_el, negs = group.lr_el, dict(group._neg_lr_scaled)
    pointers = (lr_el.data_ptr(), *(t.data_ptr() for t in negs.values()))
    run.apply(C.SetLr(0.05))
    assert group.lr_el is lr_el and (lr_el == 0.05).all()
    assert pointers == (lr_el.data_ptr(), *(t.data_ptr() for t in group._neg_lr_scaled.values()))
    for scale, neg in group._neg_lr_scaled.items():
        assert np.allclose(neg.numpy(), -0.05 * scale)
    # and the blocks step with it: the same as a run stepped one at a time with the same change
    reference = Run(RunSpec(CPU), blocks="off")
    for _ in range(BLOCK):
        reference.apply(C.Step(1))
    reference.apply(C.SetLr(0.05))
    run.apply(C.Step(3 * BLOCK))
    for _ in range(3 * BLOCK):
        reference.apply(C.Step(1))
    assert np.array_equal(run.snapshot().members[0].losses, reference.snapshot().members[0].losses)


def test_frames_fall_on_block_ends():
    exp = Experiment(RunSpec(CPU), blocks="eager")
    for n in CHUNKS:
        exp.step(n)
    steps, _, _ = exp.frames()
    assert steps[0] == 0 and len(steps) == sum(CHUNKS) // BLOCK + 1
    assert all(s % BLOCK == 0 for s in steps)


def test_mini_batches_step_eagerly_and_say_so_once():
    run = Run(RunSpec(CPU.with_value("train.batch_size", 32)), blocks="eager")
    run.apply(C.Step(40))
    run.apply(C.Step(40))
    said = [n for n in run.snapshot().notices if "mini-batches" in n.text]
    assert len(said) == 1 and said[0].level == Level.WARNING
    assert run.exp.stepper.blocks == "off" and run.step == 80


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_a_moved_run_goes_on_as_if_it_had_stayed(kernels):
    """What `g` does between CPU and GPU, here from the CPU to a fresh CPU experiment: weights,
    optimiser state, data order and timeline carried over; the step count and losses kept."""
    spec = RunSpec.race(CPU.with_values({"train.optimizer": "adam", "train.lr": 0.01, "train.batch_size": 64,
                                         "train.kernels": kernels}), {"model.activation": ["relu", "tanh"]})
    moved, stayed = Run(spec), Run(spec)
    moved.apply(C.Step(37))
    before = moved.exp
    frames_before = before.frames()[0]
    moved._relocate(spec)
    assert moved.exp is not before and moved.step == 37
    assert np.array_equal(moved.exp.frames()[0], frames_before)  # the history of fits went along
    moved.apply(C.Step(63))
    stayed.apply(C.Step(37))
    stayed.apply(C.Step(63))
    a, b = moved.snapshot(), stayed.snapshot()
    assert a.step == b.step == 100
    for m, r in zip(a.members, b.members):
        assert len(m.losses) == 100 and np.array_equal(m.losses, r.losses)


def test_g_without_a_gpu_is_one_clear_refusal_and_the_run_goes_on():
    run = Run(RunSpec(CPU))
    run.apply(C.Step(5))
    with pytest.raises(C.Refused, match=r"train.device: 'cuda' .*not available on this machine; available: auto, cpu"):
        run.apply(C.SetDevice("cuda"))
    with pytest.raises(C.Refused, match="the run is on cpu already"):
        run.apply(C.SetDevice("cpu"))
    run.apply(C.Step(5))
    assert run.step == 10 and str(run.exp.device) == "cpu"


def test_on_a_gpu_the_memory_budget_is_its_free_memory(monkeypatch):
    """What another process holds on the GPU is not the run's: the budget is 90 % of what is free."""
    import torch

    from fitscope.core import device, memory

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (2 * 10**9, 80 * 10**9))
    free = device.total_memory(torch.device("cuda"))
    assert free == 2 * 10**9
    spec = RunSpec(CPU.with_values({"data.points": 1_000_000, "model.hidden": (1024, 1024)}))
    assert memory.limit(spec, free) == (18 * 10**8, "90 % of the GPU's free memory")
    with pytest.raises(memory.MemoryBudgetError, match=r"the limit is 1\.8 GB \(90 % of the GPU's free memory\)"):
        memory.check(spec, free)


def test_a_graph_that_cannot_be_captured_falls_back_to_eager_with_one_notice():
    """Here there is no CUDA at all, so the capture fails: the run says so once and steps eagerly,
    exactly as a run that never tried."""
    tried, plain = Run(RunSpec(CPU), blocks="graph"), Run(RunSpec(CPU), blocks="off")
    tried.apply(C.Step(40))
    tried.apply(C.Step(40))
    plain.apply(C.Step(80))
    snap = tried.snapshot()
    notices = [n for n in snap.notices if "CUDA graph" in n.text]
    assert len(notices) == 1 and notices[0].level == Level.WARNING and "\n" not in notices[0].text
    assert notices[0].text.startswith("CUDA graph capture failed (") and notices[0].text.endswith("stepping eagerly")
    assert np.array_equal(snap.members[0].losses, plain.snapshot().members[0].losses)


def test_auto_on_a_machine_without_a_gpu_says_it_trains_on_the_cpu():
    run = Run(RunSpec(FitConfig()))  # train.device = auto
    assert str(run.exp.device) == "cpu"
    assert "device auto: no GPU found — training on the CPU" in [n.text for n in run.snapshot().notices]
    assert not Run(RunSpec(CPU)).snapshot().notices  # asked for the CPU: nothing to say
