"""Side-by-side timings, in one process: the engine against the lesson's bare PyTorch loop."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.thread import ThreadDriver
from fitscope.core.engine.model import make_loss, make_optimizer
from fitscope.core.engine.training import AutogradStepper, Experiment, FastStepper, build
from fitscope.core.snapshot import State
from fitscope.core.spec import Member, RunSpec


def spread(values: list[float], digits: int = 3) -> dict[str, Any]:
    return {"min": round(min(values), digits), "median": round(statistics.median(values), digits),
            "max": round(max(values), digits)}


def bare_loop_rate(cfg: FitConfig, steps: int) -> float:
    """Steps/s of the lesson's plain loop (nn.Linear layers, torch.optim, autograd) on the same data."""
    exp = Experiment(RunSpec(cfg.with_value("train.kernels", "autograd")))  # device and thread settings as the engine's
    _, (model,) = build(RunSpec(cfg))
    model = model.to(exp.device)
    opt, loss_fn = make_optimizer(model.parameters(), cfg.train, exp.device), make_loss(cfg.train)
    x, y = exp.data.x_train, exp.data.y_train
    _sync(exp.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss.item()  # wait for the device
    return steps / (time.perf_counter() - t0)


def engine_rate(spec: RunSpec, steps: int, publish_hz: float = 20.0, net_numbers: bool = True) -> tuple[float, int]:
    """Steps/s of the thread driver flat out, publishing snapshots, and how many it published."""
    driver = ThreadDriver(RunSpec(spec.base.with_value("train.steps", steps), spec.vary, spec.seeds),
                          publish_hz=publish_hz, net_numbers=net_numbers)
    count = [0]
    driver.subscribe(lambda s: count.__setitem__(0, count[0] + 1))
    t0 = time.perf_counter()
    driver.send(C.Start())
    snap = driver.wait_for(lambda s: s.state == State.DONE, timeout=600)
    wall = time.perf_counter() - t0
    driver.close()
    assert snap is not None
    return snap.step / wall, count[0]


def stepping_rate(spec: RunSpec, steps: int) -> float:
    """Steps/s of the bare `Experiment.step` on a spec: what the kernels give, with no engine around them."""
    exp = Experiment(RunSpec(spec.base.with_value("train.steps", steps), spec.vary, spec.seeds))
    exp.step(min(steps, 50))  # warm-up: buffers and blocks made
    _sync(exp.device)
    t0 = time.perf_counter()
    exp.step(steps)
    _sync(exp.device)
    return steps / (time.perf_counter() - t0)


BIG_NET = {"model.hidden": (64, 64), "data.points": 10_000}  # issue 24's second net: ~250 MFLOP a step
LARGE_NET = {"model.hidden": (256, 256), "data.points": 100_000}  # ~40 GFLOP a step
NETS = {"lesson": {}, "big": BIG_NET, "large": LARGE_NET}


def engine_vs_stepping(cfg: FitConfig, rounds: int, lesson_steps: int = 9000, big_steps: int = 600) -> dict[str, Any]:
    """The engine (thread driver, 20 snapshots/s, the network's numbers on) against its own bare
    stepping on the same spec, interleaved: the share of the kernels' speed the engine keeps."""
    out: dict[str, Any] = {}
    for name, c, n in (("lesson", cfg, lesson_steps), ("big", cfg.with_values(BIG_NET), big_steps)):
        spec = RunSpec(c)
        ratios = []
        for _ in range(rounds):
            bare = stepping_rate(spec, n)
            ratios.append(engine_rate(spec, n)[0] / bare)
        out[name] = spread(ratios)
    return out


# --quick: the lesson's net for each (one compile)
QUICK_NETS: dict[str, dict[str, Any]] = {"lesson": {}, "big": {}, "large": {}}


def engine_vs_bare(cfg: FitConfig, steps: int = 3000, rounds: int = 5, quick: bool = False) -> dict[str, Any]:
    """``quick``: tiny sizes, so every figure's code runs in seconds (a test's; nothing to quote)."""
    steps = min(steps, 300) if quick else steps
    bare, eng, pubs, plain = [], [], [], []
    bare_loop_rate(cfg, steps // 10)  # warm-up
    spec = RunSpec(cfg)
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
        bare.append(bare_loop_rate(cfg, steps))
        rate, n = engine_rate(spec, steps * 3)  # the engine is faster: time it over a similar span
        eng.append(rate)
        pubs.append(n / (steps * 3 / rate))
        plain.append(engine_rate(spec, steps * 3, net_numbers=False)[0])  # without the network's numbers
    ratios = [e / b for e, b in zip(eng, bare)]
    inside_costs = [1 - e / p for e, p in zip(eng, plain)]
    b, e = statistics.median(bare), statistics.median(eng)
    return {
        "device": str(Experiment(spec).device),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "kernels": cfg.train.kernels,
        "steps": steps,
        "rounds": rounds,
        "bare_steps_per_s": round(b, 1),
        "engine_steps_per_s": round(e, 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_spread": spread(ratios),
        "snapshots_per_s": round(statistics.median(pubs), 1),
        "inside_cost": round(statistics.median(inside_costs), 3),  # share of throughput the network's numbers take
        "inside_cost_spread": spread(inside_costs),
        "engine_vs_stepping": engine_vs_stepping(cfg, rounds, *((300, 20) if quick else ())),  # goal ≥ 0.9 for both
        "compiled": compiled_vs_fast(cfg, rounds, {"lesson": 20, "big": 20, "large": 20}, QUICK_NETS) if quick
        else compiled_vs_fast(cfg, rounds),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_timing(n: int, seed: int = 0) -> dict[str, Any]:
    """Seconds to read an n-row CSV and build a run on it (the goal for 1,000,000 rows: < 2 s),
    with numpy's own loadtxt on the same file as the side-by-side reference."""
    import tempfile

    import numpy as np

    from fitscope.core.data import file as datafile

    Experiment(RunSpec(FitConfig().with_value("train.device", "cpu")))  # torch's one-off imports are not the data's
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = np.sin(x) + 0.1 * rng.normal(size=n)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/points.csv"
        np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="x,y", comments="", fmt="%.6f")
        t0 = time.perf_counter()
        np.loadtxt(path, delimiter=",", skiprows=1)
        t_numpy = time.perf_counter() - t0
        t0 = time.perf_counter()
        xs, _, _ = datafile.load(path)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        cfg = FitConfig().with_values({"data.file": path, "train.device": "cpu"})
        exp = Experiment(RunSpec(cfg))
        t_build = time.perf_counter() - t0
        assert len(xs) == n
        assert exp.data.x_train.shape[0] == n
    return {"rows": n, "load_s": round(t_load, 3), "numpy_loadtxt_s": round(t_numpy, 3),
            "load_vs_numpy": round(t_load / t_numpy, 2), "trainer_build_s": round(t_build, 3),
            "total_s": round(t_load + t_build, 3)}


def compare_speed(cfg: FitConfig, k: int, steps: int = 300, rounds: int = 3) -> dict[str, Any]:
    """A K-member race batched against the same K runs one after another (each with the same fast
    kernels, and with autograd), interleaved rounds. Members vary lr (one activation); a second
    batched race of the same size cycles relu/softplus/tanh to price mixed activations: against
    the one-activation race, and against K-member races of each of its activations alone, weighed
    by their share of members (what mixing itself costs, softplus's dearer arithmetic aside)."""
    lrs = [0.05 + 0.01 * i for i in range(k)]
    acts = ["relu", "softplus", "tanh"]
    same = RunSpec.race(cfg, {"train.lr": lrs})
    mixed_members = [Member(acts[i % 3], cfg.with_values({"train.lr": lrs[i], "model.activation": acts[i % 3]}))
                     for i in range(k)]
    batched: list[float] = []
    sequential: list[float] = []
    seq_autograd: list[float] = []
    mixed_rates: list[float] = []
    apart: dict[str, list[float]] = {a: [] for a in acts}
    share = {a: sum(i % 3 == j for i in range(k)) / k for j, a in enumerate(acts)}
    Experiment(same).step(10)  # warm-up
    for _ in range(rounds):
        for kernels, out in (("fast", sequential), ("autograd", seq_autograd)):
            singles = [Experiment(RunSpec(m.cfg.with_value("train.kernels", kernels))) for m in same.members()]
            t0 = time.perf_counter()
            for exp in singles:
                exp.step(steps)
            out.append(steps / (time.perf_counter() - t0))  # race steps/s: all K advanced one step
        race = Experiment(same)
        t0 = time.perf_counter()
        race.step(steps)
        batched.append(steps / (time.perf_counter() - t0))
        mixed = Experiment(same)
        kind = AutogradStepper if isinstance(mixed.stepper, AutogradStepper) else FastStepper
        mixed.use(kind(mixed_members, build(RunSpec(cfg))[1] * k, mixed.device))
        t0 = time.perf_counter()
        mixed.step(steps)
        mixed_rates.append(steps / (time.perf_counter() - t0))
        for act in acts:
            alone = Experiment(RunSpec.race(cfg.with_value("model.activation", act), {"train.lr": lrs}))
            t0 = time.perf_counter()
            alone.step(steps)
            apart[act].append((time.perf_counter() - t0) / steps)  # seconds a step
    b, s, a, m = (statistics.median(v) for v in (batched, sequential, seq_autograd, mixed_rates))
    expected = sum(share[act] * statistics.median(apart[act]) for act in acts)  # seconds a step, unmixed
    return {"k": k, "steps": steps, "rounds": rounds, "cores": os.cpu_count(), "batched_steps_per_s": round(b, 1),
            "sequential_steps_per_s": round(s, 1), "speedup": round(b / s, 2),
            "speedup_spread": spread([x / y for x, y in zip(batched, sequential)], 2),
            "sequential_autograd_steps_per_s": round(a, 1), "speedup_vs_autograd": round(b / a, 2),
            "mixed_activation_steps_per_s": round(m, 1), "mixed_vs_single_activation": round(m / b, 3),
            "one_activation_steps_per_s": {act: round(1 / statistics.median(apart[act]), 1) for act in acts},
            "mixed_vs_its_activations_apart": round(m * expected, 3)}


def device_speed(cfg: FitConfig, rounds: int = 3, steps: int = 2000) -> dict[str, Any]:
    """On CUDA, side by side: full-batch steps eager against CUDA-graph blocks, for the lesson's net
    and a large one (1-256-256-1 on 100,000 points), the GPU against 2 CPU threads for both, and a
    K=32 race on the GPU. Without CUDA there is nothing to measure, and it says so."""
    if not torch.cuda.is_available():
        return {"cuda": False, "message": "no CUDA device on this machine: the GPU figures need one "
                                          "(fitscope bench measures the CPU)"}
    gpu = cfg.with_values({"train.device": "cuda", "train.kernels": "fast", "train.batch_size": 0})
    nets = {"lesson": gpu, "large": gpu.with_values({"model.hidden": (256, 256), "data.points": 100_000})}
    race32 = RunSpec.race(gpu, {"train.lr": [0.02 + 0.005 * i for i in range(32)]})
    out: dict[str, Any] = {"cuda": True, "device": torch.cuda.get_device_name(0), "cores": os.cpu_count(), "rounds": rounds,
                 "steps": steps, "cpu_threads": 2}
    graph_failed: list[str] = []

    def rate(spec: RunSpec, blocks: str, n: int) -> float:
        exp = Experiment(spec, blocks)
        if exp.device.type == "cpu":
            torch.set_num_threads(2)  # the goal compares the GPU with 2 CPU cores
        exp.step(64 if exp.device.type == "cuda" else 2)  # warm-up: kernels, cuBLAS, the graph's capture
        if exp.stepper.notice:
            graph_failed.append(exp.stepper.notice)
        _sync(exp.device)
        t0 = time.perf_counter()
        exp.step(n)  # reads the chunk's losses at its end: the device has finished
        return n / (time.perf_counter() - t0)

    for name, net in nets.items():
        spec, cpu = RunSpec(net), RunSpec(net.with_value("train.device", "cpu"))
        cpu_steps = steps if name == "lesson" else 10  # the large net: ~1 s a step on 2 CPU threads
        eager, graph, on_cpu = [], [], []
        for _ in range(rounds):  # interleaved
            eager.append(rate(spec, "off", steps))
            graph.append(rate(spec, "graph", steps))
            on_cpu.append(rate(cpu, "off", cpu_steps))
        e, g, c = (statistics.median(v) for v in (eager, graph, on_cpu))
        out[name] = {"eager_steps_per_s": round(e, 1), "graph_steps_per_s": round(g, 1),
                     "graph_vs_eager": round(g / e, 2), "cpu_steps_per_s": round(c, 1),
                     "gpu_vs_cpu": round(max(e, g) / c, 2)}
    eager32 = statistics.median(rate(race32, "off", steps) for _ in range(rounds))
    graph32 = statistics.median(rate(race32, "graph", steps) for _ in range(rounds))
    out["race32"] = {"eager_steps_per_s": round(eager32, 1), "graph_steps_per_s": round(graph32, 1),
                     "graph_vs_eager": round(graph32 / eager32, 2)}
    out["graph_notices"] = sorted(set(graph_failed))
    return out


def compiled_vs_fast(cfg: FitConfig, rounds: int, steps: dict[str, int] | None = None,
                     nets: dict[str, dict[str, Any]] = NETS) -> dict[str, Any]:
    """``train.kernels = "compiled"`` against ``fast`` per net (bare stepping, rounds interleaved),
    and the compile's wall time in fresh processes: cold (an empty cache folder) and warm (the same
    folder again), for the lesson's net."""
    steps = steps or {"lesson": 3000, "big": 60, "large": 2}
    out: dict[str, Any] = {"cores": os.cpu_count(), "rounds": rounds}
    for name, values in nets.items():
        c = cfg.with_values(values)
        comp = Experiment(RunSpec(c.with_value("train.kernels", "compiled")))
        comp.step(1)  # waits for its compile
        compiled_ok = getattr(comp.stepper, "compiled", False)
        fast = Experiment(RunSpec(c.with_value("train.kernels", "fast")))
        fast.step(1)
        rates: dict[str, list[float]] = {"fast": [], "compiled": []}
        for _ in range(rounds):
            for kind, exp in (("fast", fast), ("compiled", comp)):
                _sync(exp.device)
                t0 = time.perf_counter()
                exp.step(steps[name])
                rates[kind].append(steps[name] / (time.perf_counter() - t0))
        out[name] = {"threads": torch.get_num_threads(), "compiled": compiled_ok,
                     "fast_steps_per_s": spread(rates["fast"], 1), "compiled_steps_per_s": spread(rates["compiled"], 1),
                     "compiled_vs_fast": spread([a / b for a, b in zip(rates["compiled"], rates["fast"])])}
    out["compile_s"] = compile_times(cfg, rounds)
    return out


def compile_times(cfg: FitConfig, rounds: int) -> dict[str, Any]:
    """Seconds from a compiled run's making to its first step, in a fresh process per figure:
    cold in an empty TORCHINDUCTOR_CACHE_DIR, warm in the same folder once more (imports included)."""
    import json
    import subprocess
    import sys
    import tempfile

    code = ("import json, sys; from fitscope.core.bench import _first_step_s; "
            "print(json.dumps(_first_step_s(json.loads(sys.argv[1]))))")
    arg = json.dumps({"train.device": cfg.train.device, "model.hidden": list(cfg.model.hidden),
                      "model.activation": cfg.model.activation})
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
            for into in (cold, warm):
                r = subprocess.run([sys.executable, "-c", code, arg], env=env, capture_output=True, text=True,
                                   timeout=1800, check=True)
                into.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return {"net": "lesson", "cold": spread(cold, 2), "warm": spread(warm, 2)}


def _first_step_s(values: dict[str, Any]) -> float:
    """Run in a fresh process by :func:`compile_times`."""
    exp = Experiment(RunSpec(FitConfig().with_values({**values, "train.kernels": "compiled"})))
    t0 = time.perf_counter()
    exp.step(1)
    compile_s = getattr(exp.stepper, "compile_s", None)
    return compile_s if compile_s is not None else time.perf_counter() - t0


def _gemms(g: Any, b: Any) -> tuple[Callable[[], None], int]:
    """The matmuls of one fast step of group g on its buffers b (same tensors, shapes and layouts),
    alone, and their floating-point operations."""
    calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for i, block in enumerate(g.blocks):
        calls.append((block, b.inputs[i], b.z[i]))
    loss = torch.empty(g.k, 1, 1)
    calls.append((b.g_out, b.g_t, loss))
    for i in range(len(g.blocks) - 1, -1, -1):
        grad_out = b.g_out if i == len(g.blocks) - 1 else b.da[i]
        calls.append((grad_out, b.inputs_t[i], g.grads[i]))
        if 0 < i < len(g.blocks) - 1:  # the output's rank-1 product is a multiply in the step, not a matmul
            calls.append((g.weights_t[i], grad_out, b.da[i - 1]))
    flops = sum(2 * a.shape[0] * a.shape[1] * a.shape[2] * c.shape[2] for a, c, _ in calls)

    def run() -> None:
        for a, c, out in calls:
            torch.bmm(a, c, out=out)
    return run, flops


def step_vs_gemm(cfg: FitConfig, rounds: int, quick: bool = False) -> dict[str, Any]:
    """The whole fast step against the same step's matmuls alone (same shapes, tensors and threads:
    the floor this machine's BLAS sets), for 1-64-64-1 on 10,000 points and 1-256-256-1 on 100,000,
    rounds interleaved. ``step_vs_gemm`` = matmul time / step time (1: the step is all matmul)."""
    steps = {"big": 5, "large": 5} if quick else {"big": 50, "large": 2}
    nets = {"big": {"model.hidden": (8, 8), "data.points": 500}, "large": {"model.hidden": (16, 16), "data.points": 1000}} \
        if quick else {"big": BIG_NET, "large": LARGE_NET}
    out: dict[str, Any] = {"cores": os.cpu_count(), "rounds": rounds}
    for name, values in nets.items():
        c = cfg.with_values({**values, "train.kernels": "fast"})
        exp = Experiment(RunSpec(c))
        exp.step(1)  # buffers made
        assert isinstance(exp.stepper, FastStepper)
        g = exp.stepper.groups[0]
        gemm, flops = _gemms(g, g._buffers[exp.batches.rows])
        n = steps[name]
        step_rates, gemm_rates = [], []
        for _ in range(rounds):
            _sync(exp.device)
            t0 = time.perf_counter()
            exp.step(n)
            step_rates.append(n / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            for _ in range(n):
                gemm()
            _sync(exp.device)
            gemm_rates.append(n / (time.perf_counter() - t0))
        out[name] = {"hidden": list(c.model.hidden), "points": c.data.points, "threads": torch.get_num_threads(),
                     "matmul_mflop_per_step": round(flops / 1e6, 3),
                     "step_steps_per_s": spread(step_rates, 2), "gemm_steps_per_s": spread(gemm_rates, 2),
                     "gemm_gflop_per_s": spread([r * flops / 1e9 for r in gemm_rates], 1),
                     "step_vs_gemm": spread([s / m for s, m in zip(step_rates, gemm_rates)])}
    return out
