"""Side-by-side timings, in one process: the engine against a bare PyTorch loop."""

from __future__ import annotations

import statistics
import time

import torch

from fitscope.core.config import FitConfig
from fitscope.core.engine import DONE, Engine
from fitscope.core.trainer import Trainer


def bare_loop_rate(cfg: FitConfig, steps: int) -> float:
    """Steps/s of the lesson's plain loop on the same data, net and optimiser."""
    trainer = Trainer(cfg)  # the same device and thread settings as the engine gets
    model, opt, loss_fn = trainer.model, trainer.optimizer, trainer.loss_fn
    x, y = trainer.data.x_train, trainer.data.y_train
    _sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss.item()  # wait for the device
    return steps / (time.perf_counter() - t0)


def engine_rate(cfg: FitConfig, steps: int, publish_hz: float = 20.0) -> tuple[float, int]:
    """Steps/s of the background engine flat out, and how many snapshots it published."""
    engine = Engine(cfg.with_value("train.steps", steps), publish_hz=publish_hz)
    count = [0]
    engine.subscribe(lambda s: count.__setitem__(0, count[0] + 1))
    t0 = time.perf_counter()
    engine.start()
    snap = engine.wait_for(lambda s: s.state == DONE, timeout=600)
    wall = time.perf_counter() - t0
    engine.stop()
    return snap.step / wall, count[0]


def engine_vs_bare(cfg: FitConfig, steps: int = 3000, rounds: int = 5) -> dict:
    bare, eng, pubs = [], [], []
    bare_loop_rate(cfg, steps // 10)  # warm-up
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
        bare.append(bare_loop_rate(cfg, steps))
        rate, n = engine_rate(cfg, steps)
        eng.append(rate)
        pubs.append(n)
    b, e = statistics.median(bare), statistics.median(eng)
    return {
        "device": str(Trainer(cfg).device),
        "threads": torch.get_num_threads(),
        "steps": steps,
        "rounds": rounds,
        "bare_steps_per_s": round(b, 1),
        "engine_steps_per_s": round(e, 1),
        "ratio": round(e / b, 3),
        "snapshots_per_s": round(statistics.median(pubs) / (steps / e), 1),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)




def load_timing(n: int, seed: int = 0) -> dict:
    """Seconds to read an n-row CSV and build a trainer on it (the goal for 1,000,000 rows: < 2 s),
    with numpy's own loadtxt on the same file as the side-by-side reference."""
    import tempfile

    import numpy as np

    from fitscope.core import datafile

    Trainer(FitConfig().with_value("train.device", "cpu"))  # torch's one-off imports are not the data's cost
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
        trainer = Trainer(cfg)
        t_build = time.perf_counter() - t0
        assert len(xs) == n and trainer.data.x_train.shape[0] == n
    return {"rows": n, "load_s": round(t_load, 3), "numpy_loadtxt_s": round(t_numpy, 3),
            "load_vs_numpy": round(t_load / t_numpy, 2), "trainer_build_s": round(t_build, 3),
            "total_s": round(t_load + t_build, 3)}


def compare_speed(cfg: FitConfig, k: int, steps: int = 300, rounds: int = 3) -> dict:
    """A K-member race batched against the same K runs one after another, interleaved rounds.

    Members vary lr (one activation); a second batched race of the same size cycles
    relu/softplus/tanh to price mixed activations."""
    from fitscope.core.compare import CompareTrainer, Member

    lrs = [0.05 + 0.01 * i for i in range(k)]
    acts = ["relu", "softplus", "tanh"]
    same = [Member(f"lr {lr:g}", cfg.with_value("train.lr", lr)) for lr in lrs]
    mixed = [Member(f"{acts[i % 3]}", cfg.with_values({"train.lr": lrs[i], "model.activation": acts[i % 3]}))
             for i in range(k)]
    batched, sequential, mixed_rates = [], [], []
    CompareTrainer(same).step(10)  # warm-up
    for _ in range(rounds):
        t0 = time.perf_counter()
        for m in same:
            Trainer(m.cfg).step(steps)
        sequential.append(steps / (time.perf_counter() - t0))  # race steps/s: all K advanced one step
        for members, out in ((same, batched), (mixed, mixed_rates)):
            race = CompareTrainer(members)
            t0 = time.perf_counter()
            race.step(steps)
            out.append(steps / (time.perf_counter() - t0))
    b, s, m = (statistics.median(v) for v in (batched, sequential, mixed_rates))
    return {"k": k, "steps": steps, "rounds": rounds, "batched_steps_per_s": round(b, 1),
            "sequential_steps_per_s": round(s, 1), "speedup": round(b / s, 2),
            "mixed_activation_steps_per_s": round(m, 1), "mixed_vs_single_activation": round(m / b, 3)}
