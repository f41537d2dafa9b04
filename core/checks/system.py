"""`fitscope check`, the machine: CPU tensors refused by a graph, a second GPU, a run moved between
devices, the memory budget, the app's worker process, the command line and the bench."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import torch

from fitscope.core import commands as C
from fitscope.core.checks.base import CHUNKS, NO_GPU, CheckBase, maxrel
from fitscope.core.config import FitConfig
from fitscope.core.engine import memory
from fitscope.core.engine.run import Run
from fitscope.core.engine.training import Experiment
from fitscope.core.snapshot import Level, State
from fitscope.core.spec import RunSpec


class SystemChecks(CheckBase):
    def wrong_device(self) -> None:
        if self.skip_without_gpu("wrong_device_refused"):
            self.add("graph_on_a_second_gpu", None, NO_GPU)
            return
        cpu = RunSpec(FitConfig().with_value("train.device", "cpu"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tried = Experiment(cpu, blocks="graph")
            got = tried.step(48)
        same = bool(np.array_equal(got, Experiment(cpu, blocks="off").step(48)))
        empty = any("CUDA Graph is empty" in str(w.message) for w in caught)
        self.add("wrong_device_refused", tried.stepper.notice is not None and same and not empty,
                 f"CPU tensors with CUDA graphs: {tried.stepper.notice or 'captured'}")
        if torch.cuda.device_count() < 2:
            self.add("graph_on_a_second_gpu", None, "one GPU")
            return
        spec = RunSpec(FitConfig().with_value("train.device", "cuda:1"))
        g, e = Experiment(spec, blocks="graph"), Experiment(spec, blocks="off")
        a, b = np.concatenate([g.step(n) for n in CHUNKS]), np.concatenate([e.step(n) for n in CHUNKS])
        self.add("graph_on_a_second_gpu", bool(np.array_equal(a, b)) and g.stepper.notice is None,
                 f"cuda:1 graph vs eager max rel {maxrel(a, b):.2g}" + (f"; {g.stepper.notice}" if g.stepper.notice else ""))

    def device_move(self) -> None:
        if self.skip_without_gpu("move_cpu_gpu_cpu"):
            return
        cpu = RunSpec(FitConfig().with_values({"train.device": "cpu", "train.optimizer": "adam", "train.lr": 0.01}))
        moved, stayed = Run(cpu), Run(cpu)
        moved.apply(C.Step(37))
        moved.apply(C.SetDevice(self.device))
        there = str(moved.exp.device)
        moved.apply(C.Step(63))
        moved.apply(C.SetDevice("cpu"))
        moved.apply(C.Step(20))
        stayed.apply(C.Step(120))
        a, b = moved.snapshot().members[0].losses, stayed.snapshot().members[0].losses
        ok = there.startswith("cuda") and moved.step == 120 and len(a) == len(b) == 120 and maxrel(a, b) < 1e-3
        self.add("move_cpu_gpu_cpu", ok, f"37 steps on cpu, 63 on {there}, 20 on cpu: within {maxrel(a, b):.2g} "
                 "of a run that stayed (≤ 1e-3)")

    def memory_budget(self) -> None:
        if self.skip_without_gpu("memory_budget") or self.quick and self.skip("memory_budget", "--quick"):
            return
        dev = torch.device(self.device)
        free0, _ = torch.cuda.mem_get_info(dev)
        members = max(2, min(64, int(0.9 * free0 / 1.5e9)))
        spec = RunSpec.race(self.base.with_values({"model.hidden": (256, 256), "data.points": 100_000}),
                            {"train.lr": [1e-3 * (i + 1) for i in range(members)]})
        estimate = memory.estimate(spec).total
        torch.cuda.reset_peak_memory_stats(dev)
        run = Run(spec)
        run.apply(C.Step(32))
        peak = torch.cuda.max_memory_allocated(dev)
        refused = ""
        try:
            run.apply(C.Reset())
        except C.Refused as exc:
            refused = str(exc)[:160]
        del run
        torch.cuda.empty_cache()
        self.add("memory_budget", peak <= estimate and not refused,
                 f"{members} members of 1-256-256-1 on 100,000 points: peak {peak / 1e9:.1f} GB ≤ estimate "
                 f"{estimate / 1e9:.1f} GB; its Reset {'refused: ' + refused if refused else 'fits'}")

    def worker(self) -> None:
        from fitscope.core.drivers.process import ProcessDriver

        said: list[str] = []
        driver = ProcessDriver(RunSpec(self.base.with_value("train.steps", 3000 if self.quick else 20_000)))
        driver.subscribe(lambda s: said.extend(n.text for n in s.notices if n.level != Level.INFO))
        try:
            driver.send(C.Start())
            snap = driver.wait_for(lambda s: s.state in (State.DONE, State.ERROR, State.DIVERGED), timeout=120)
        finally:
            driver.close()
        ok = snap is not None and snap.state == State.DONE and snap.device.startswith(self.device) and not said \
            and driver.failure is None
        self.add("worker_process", ok, f"the app's engine process: {snap.state.value if snap else 'no answer'} on "
                 f"{snap.device if snap else '?'}" + (f" at {snap.steps_per_s:,.0f} steps/s" if snap else "")
                 + (f"; {said[0][:100]}" if said else "") + (f"; {driver.failure}" if driver.failure else ""))

    def cli(self) -> None:
        r = subprocess.run([sys.executable, "-m", "fitscope.tui.cli", "run", "--steps", "300", "--no-save", "--quiet",
                            "--set", f"train.device={self.device}"], capture_output=True, text=True, timeout=180)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()[-160:]
        self.add("cli_run", r.returncode == 0 and f"· {self.device}" in r.stdout,
                 f"fitscope run --set train.device={self.device}: exit {r.returncode}; {last[:120]}")

    def bench(self) -> None:
        if self.skip_without_gpu("bench_graph_vs_eager") or self.quick and self.skip("bench_graph_vs_eager", "--quick"):
            return
        from fitscope.core.bench import device_speed

        r = device_speed(FitConfig(), rounds=3, steps=2000)
        lesson, large = r["lesson"], r["large"]
        self.add("bench_graph_vs_eager", not r["graph_notices"],
                 f"lesson net eager {lesson['eager_steps_per_s']:,.0f} · graph {lesson['graph_steps_per_s']:,.0f} "
                 f"steps/s ({lesson['graph_vs_eager']:.2f}×); 1-256-256-1 {large['gpu_vs_cpu']:.1f}× the CPU"
                 + (f"; {r['graph_notices'][0]}" if r["graph_notices"] else ""), bench=r)
