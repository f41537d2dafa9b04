"""The GPU path's logic, on the CPU: full-batch steps in blocks (what CUDA graphs capture) with the
step count on the device, losses read in bulk once per chunk, divergence found in that buffer,
lr changes in place (a captured step reads the same tensors)."""

import warnings

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine import cudagraphs as graphs
from fitscope.core.engine import device, handlers, memory
from fitscope.core.engine.cudagraphs import BLOCK
from fitscope.core.engine.run import Run
from fitscope.core.engine.training import Experiment, step_work
from fitscope.core.snapshot import Level, State
from fitscope.core.spec import RunSpec
from fitscope.core.store import saved as runs

from support.devices import absent_cuda

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
    assert blocks.stepper.block is not None  # blocks did run
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
    assert bulk.dead == per_step.dead
    assert len(bulk.dead) == 2
    assert all(at < 100 for at in bulk.dead.values())
    a, b = bulk.snapshot(), per_step.snapshot()
    for m, r in zip(a.members, b.members):
        assert m.diverged_at == r.diverged_at
        assert np.array_equal(m.losses, r.losses[:len(m.losses)])
        assert np.isfinite(m.losses).all()


def test_a_live_lr_change_writes_the_tensors_a_graph_reads():
    run = Run(RunSpec(CPU), blocks="eager")
    run.apply(C.Step(BLOCK))
    group = run.exp.stepper.groups[0]
    lr_el, negs = group.lr_el, dict(group._neg_lr_scaled)
    pointers = (lr_el.data_ptr(), *(t.data_ptr() for t in negs.values()))
    run.apply(C.SetLr(0.05))
    assert group.lr_el is lr_el
    assert (lr_el == 0.05).all()
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
    assert steps[0] == 0
    assert len(steps) == sum(CHUNKS) // BLOCK + 1
    assert all(s % BLOCK == 0 for s in steps)


def test_mini_batches_step_eagerly_and_say_so_once():
    run = Run(RunSpec(CPU.with_value("train.batch_size", 32)), blocks="eager")
    run.apply(C.Step(40))
    run.apply(C.Step(40))
    said = [n for n in run.snapshot().notices if "mini-batches" in n.text]
    assert len(said) == 1
    assert said[0].level == Level.WARNING
    assert run.exp.stepper.blocks == "off"
    assert run.step == 80


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
    handlers.relocate(moved, spec)
    assert moved.exp is not before
    assert moved.step == 37
    assert np.array_equal(moved.exp.frames()[0], frames_before)  # the history of fits went along
    moved.apply(C.Step(63))
    stayed.apply(C.Step(37))
    stayed.apply(C.Step(63))
    a, b = moved.snapshot(), stayed.snapshot()
    assert a.step == b.step == 100
    for m, r in zip(a.members, b.members):
        assert len(m.losses) == 100
        assert np.array_equal(m.losses, r.losses)


def test_g_to_an_absent_gpu_is_one_clear_refusal_and_the_run_goes_on():
    run = Run(RunSpec(CPU))
    run.apply(C.Step(5))
    absent = absent_cuda()
    with pytest.raises(C.Refused, match=rf"train.device: '{absent}' .*not available on this machine; available: auto, cpu"):
        run.apply(C.SetDevice(absent))
    with pytest.raises(C.Refused, match="the run is on cpu already"):
        run.apply(C.SetDevice("cpu"))
    run.apply(C.Step(5))
    assert run.step == 10
    assert str(run.exp.device) == "cpu"


def stub_gpu(monkeypatch, free: int, reserved: int = 0, allocated: int = 0) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (free, 141 * 10**9))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda dev=None: reserved)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda dev=None: allocated)


def test_on_a_gpu_the_memory_budget_is_its_free_memory(monkeypatch):
    """What another process holds on the GPU is not the run's: the budget is 90 % of what is free."""
    stub_gpu(monkeypatch, free=2 * 10**9)
    free = device.total_memory(torch.device("cuda"))
    assert free == 2 * 10**9
    spec = RunSpec(CPU.with_values({"data.points": 1_000_000, "model.hidden": (1024, 1024)}))
    assert memory.limit(spec, free) == (18 * 10**8, "90 % of the GPU's free memory")
    with pytest.raises(memory.MemoryBudgetError, match=r"the limit is 1\.8 GB \(90 % of the GPU's free memory\)"):
        memory.check(spec, free)


def test_a_reset_counts_the_run_it_replaces_and_pytorchs_cache_as_free(monkeypatch):
    """A race that fit when built fits its own Reset: its bytes and the allocator's unused cache are
    the new run's, only the driver's free memory was counted before."""
    spec = RunSpec(CPU.with_values({"data.points": 100_000, "model.hidden": (256, 256)}))
    need = memory.estimate(spec).total
    gpu = 3 * need  # all free when the first run was built
    memory.check(spec, gpu)
    held, cache = need, need // 4  # the first run's tensors, and what the allocator keeps reserved besides
    stub_gpu(monkeypatch, free=gpu - held - cache, reserved=held + cache, allocated=held)
    assert device.total_memory(torch.device("cuda")) == gpu - held  # another run beside it: only what is unused
    assert device.total_memory(torch.device("cuda"), releasing=held) == gpu
    memory.check(spec, device.total_memory(torch.device("cuda"), releasing=held))


def test_a_reset_hands_the_replaced_runs_bytes_to_the_budget(monkeypatch):
    asked = []
    monkeypatch.setattr(device, "memory_in_use", lambda dev: 123 << 20)
    monkeypatch.setattr(device, "total_memory", lambda dev, releasing=0: asked.append(releasing))
    run = Run(RunSpec(CPU))
    run.apply(C.Reset())
    assert asked == [0, 123 << 20]  # the first run replaces nothing


def test_a_graph_that_cannot_be_captured_falls_back_to_eager_with_one_notice():
    """CPU tensors cannot be captured, with or without CUDA: the run says so once and steps eagerly,
    exactly as a run that never tried."""
    tried, plain = Run(RunSpec(CPU), blocks="graph"), Run(RunSpec(CPU), blocks="off")
    tried.apply(C.Step(40))
    tried.apply(C.Step(40))
    plain.apply(C.Step(80))
    snap = tried.snapshot()
    notices = [n for n in snap.notices if "CUDA graph" in n.text]
    assert len(notices) == 1
    assert notices[0].level == Level.WARNING
    assert "\n" not in notices[0].text
    assert notices[0].text.startswith("CUDA graph capture failed (")
    assert notices[0].text.endswith("stepping eagerly")
    assert "the run's tensors are on cpu: a CUDA graph needs them on one CUDA device" in notices[0].text
    assert np.array_equal(snap.members[0].losses, plain.snapshot().members[0].losses)


def test_a_capture_refuses_tensors_off_cuda_before_touching_cuda(monkeypatch):
    """Captured on a CUDA machine, CPU ops run eagerly and the graph records nothing: refused first."""
    def no_cuda(*args, **kwargs):
        raise AssertionError("CUDA was touched")

    monkeypatch.setattr(torch.cuda, "Stream", no_cuda)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", no_cuda)
    exp = Experiment(RunSpec(CPU), blocks="off")
    with pytest.raises(graphs.CaptureError, match="the run's tensors are on cpu: "):
        graphs.Block(exp.stepper.groups, exp.batches.x, exp.batches.y)
    with pytest.raises(graphs.CaptureError, match="the run's tensors are on cpu, meta: .* on one CUDA device"):
        graphs.Block(exp.stepper.groups, exp.batches.x, exp.batches.y.to("meta"))


def test_an_empty_graph_is_a_capture_failure():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("The CUDA Graph is empty. This usually means that the graph was attempted to be captured "
                      "on wrong device or stream.", UserWarning, stacklevel=1)
    with pytest.raises(graphs.CaptureError, match="empty"):
        graphs.refuse_empty(caught)
    graphs.refuse_empty([])  # a graph that recorded kernels


def test_warm_up_and_capture_use_one_stream_per_device(monkeypatch):
    made = []

    class Stream:
        def __init__(self, device):
            made.append(device)

    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(graphs, "_STREAMS", {})
    one = graphs.side_stream(torch.device("cuda", 1))
    assert graphs.side_stream(torch.device("cuda:1")) is one
    assert graphs.side_stream(torch.device("cuda")) is not one  # the current device's
    assert made == [1, 0]


def test_eager_adam_steps_read_the_device_step_count():
    """On CUDA a captured step divides by the tensor count; eager ones must too, or they round apart."""
    exp = Experiment(RunSpec(CPU.with_values(OPTIMISERS["adam"])), blocks="off")
    exp.step(7)
    group = exp.stepper.groups[0]
    assert group.t == 7
    assert group.t_dev.item() == 7
    saved = group.copy()
    exp.step(3)
    group.restore(saved)
    exp.step(1)
    assert group.t_dev.item() == 8  # set from the host's count, which the restore moved back


def test_a_float32_step_count_keeps_adams_step_size_within_1e_5():
    """MPS has no float64: its counter is float32 (the bound is what counter_dtype's note says)."""
    assert device.counter_dtype(torch.device("mps")) == torch.float32
    assert device.counter_dtype(torch.device("cpu")) == torch.float64
    t = torch.arange(1, 1_000_001, dtype=torch.float64)
    size = (1 - 0.999 ** t) ** 0.5 / (1 - 0.9 ** t)
    t32 = t.float()
    size32 = ((1 - 0.999 ** t32) ** 0.5 / (1 - 0.9 ** t32)).double()
    assert ((size32 - size).abs() / size).max() < 1.1e-5


def test_a_run_sets_the_matmul_precision_and_records_it(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", True)
    torch.set_float32_matmul_precision("high")  # as an environment or another library might
    try:
        run = Run(RunSpec(CPU))
        assert torch.get_float32_matmul_precision() == "highest"
        assert not torch.backends.cuda.matmul.allow_tf32
        run.apply(C.Step(3))
        assert runs.summary(run.snapshot(), 1.0, "r")["matmul_precision"] == "highest"
    finally:
        torch.set_float32_matmul_precision("highest")


def test_auto_puts_a_small_net_on_the_cpu_even_with_a_gpu_and_says_why(monkeypatch):
    monkeypatch.setattr(device, "available", lambda: ["cpu", "cuda", "cuda:0"])
    lesson = RunSpec(FitConfig())
    assert step_work(lesson) < device.AUTO_CPU_BELOW
    run = Run(lesson)
    assert str(run.exp.device) == "cpu"
    said = [n.text for n in run.snapshot().notices if n.text.startswith("device auto")]
    assert said == [f"device auto: a small net ({step_work(lesson):,} multiply-adds a step, under "
                    f"{device.AUTO_CPU_BELOW:,}) steps faster on the CPU than on cuda — training on the CPU"]
    large = RunSpec(FitConfig().with_values({"data.points": 100_000, "model.hidden": (256, 256)}))
    assert device.choose("auto", step_work(large)) == (torch.device("cuda"), "device auto: training on cuda")


def test_auto_on_a_machine_without_a_gpu_says_it_trains_on_the_cpu(monkeypatch):
    monkeypatch.setattr(device, "available", lambda: ["cpu"])
    run = Run(RunSpec(FitConfig()))  # train.device = auto
    assert str(run.exp.device) == "cpu"
    assert "device auto: no GPU found — training on the CPU" in [n.text for n in run.snapshot().notices]
    assert not Run(RunSpec(CPU)).snapshot().notices  # asked for the CPU: nothing to say
