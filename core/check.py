"""`fitscope check`: the engine's GPU path proved on this machine, one result per check.

On CUDA the blocks are CUDA graphs; without it the same checks run with eager blocks (the graphs'
bookkeeping, on the CPU) and those that need a GPU are skipped with the reason. What each proves is
what the README's *On a GPU* section claims.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fitscope.core import commands as C
from fitscope.core import device as device_mod
from fitscope.core import kernels, memory
from fitscope.core.config import FitConfig
from fitscope.core.errors import ConfigError
from fitscope.core.run import Run
from fitscope.core.snapshot import Level, State
from fitscope.core.spec import RunSpec
from fitscope.core.training import Experiment, FastStepper

CHUNKS = [5, 40, 3, 33, 19, 160]  # uneven: eager steps fill in between blocks
OPTIMISERS: dict[str, dict[str, Any]] = {
    "sgd": {},
    "sgd+momentum+wd": {"train.momentum": 0.9, "train.lr": 0.05, "train.weight_decay": 0.01},
    "adam": {"train.optimizer": "adam", "train.lr": 0.01},
    "adamw": {"train.optimizer": "adamw", "train.lr": 0.01, "train.weight_decay": 0.01},
    "rmsprop": {"train.optimizer": "rmsprop", "train.lr": 0.001},
    "sgd+l1": {"train.loss": "l1"},
    "sgd+huber": {"train.loss": "huber"},
}
# fast kernels against torch.autograd: the same math in another order of float32 operations
FIRST_STEPS_REL, FINAL_REL = 1e-5, 5e-3
NO_GPU = "no GPU (CUDA is not available here)"


@dataclass
class Result:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status} {self.name}" + (f": {self.detail}" if self.detail else "")


class Checks:
    """The checks for one device: "cuda" (or "cuda:N") with CUDA graphs, "cpu" with eager blocks."""

    def __init__(self, device: str, quick: bool, report: Callable[[Result], None] = lambda r: None):
        if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
            raise ConfigError("--device", device, "expected cuda, cuda:N or cpu")
        self.gpu = device.startswith("cuda") and torch.cuda.is_available()
        if self.gpu and device not in device_mod.available():
            raise ConfigError("--device", device, "not on this machine; available: " + ", ".join(device_mod.available()))
        self.device = device if self.gpu else "cpu"
        self.asked_gpu = device.startswith("cuda")
        self.quick, self.report = quick, report
        self.blocks = "graph" if self.gpu else "eager"
        self.base = FitConfig().with_value("train.device", self.device)
        self.results: list[Result] = []

    def add(self, name: str, ok: bool | None, detail: str = "", **figures: Any) -> None:
        status = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        result = Result(name, status, detail, figures)
        self.results.append(result)
        self.report(result)

    def skip_without_gpu(self, name: str, why: str = NO_GPU) -> bool:
        if not self.gpu:
            self.add(name, None, why)
        return not self.gpu

    def all(self) -> list[Callable[[], None]]:
        return [self.precision, self.blocks_step, *[self._equal(o) for o in OPTIMISERS],
                *[self._autograd(o) for o in ("sgd", "adam", "rmsprop")], self.race_member, self.lr_change,
                self.divergence, self.capture_failure, self.wrong_device, self.chunk_alignment, self.device_move,
                self.memory_budget, self.worker, self.cli, self.bench]

    def run(self) -> list[Result]:
        for fn in self.all():
            try:
                fn()
            except Exception as exc:  # a crash is that check's FAIL, never the end of the others
                text = str(exc).splitlines()[0][:200] if str(exc) else ""
                self.add(getattr(fn, "__name__", "check"), False, f"{type(exc).__name__}: {text}")
        return self.results

    def race(self, extra: dict[str, Any]) -> RunSpec:
        return RunSpec.race(self.base.with_values(extra), {"model.activation": ["relu", "tanh"]}, seeds=2)

    def precision(self) -> None:
        Experiment(RunSpec(self.base), blocks="off")
        got = torch.get_float32_matmul_precision()
        tf32 = torch.backends.cuda.matmul.allow_tf32
        self.add("matmul_precision", got == "highest" and not tf32, f"float32 matmuls at {got!r}, TF32 "
                 f"{'on' if tf32 else 'off'} (set by every run: TF32 would void the exactness below)")

    def blocks_step(self) -> None:
        """An empty graph replays as a no-op with only a warning: poisoned loss rows must be overwritten."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exp = Experiment(RunSpec(self.base), blocks=self.blocks)
            exp.step(16)
            block = fast(exp)._block
            if block is None:
                self.add("blocks_do_work", False, f"no block was made: {exp.stepper.notice}")
                return
            for rows in block.rows:
                rows.fill_(float("nan"))
            before = fast(exp).groups[0].flat.clone()
            losses = exp.step(32)
        moved = not torch.equal(before, fast(exp).groups[0].flat)
        empty = any("CUDA Graph is empty" in str(w.message) for w in caught)
        captured = block.graph is not None or not self.gpu
        ok = captured and moved and not empty and bool(np.isfinite(losses).all())
        self.add("blocks_do_work", ok, f"{'CUDA graph' if self.gpu else 'eager block'}: weights "
                 f"{'moved' if moved else 'did not move'}, losses {'finite' if np.isfinite(losses).all() else 'NaN'}"
                 + (", 'CUDA Graph is empty'" if empty else ""))

    def _equal(self, name: str) -> Callable[[], None]:
        def check() -> None:
            spec = self.race(OPTIMISERS[name])
            g, e = Experiment(spec, blocks=self.blocks), Experiment(spec, blocks="off")
            got = np.concatenate([g.step(n) for n in CHUNKS])
            want = np.concatenate([e.step(n) for n in CHUNKS])
            weights = all(torch.equal(g.stepper.state_dict(j)[k], e.stepper.state_dict(j)[k])
                          for j in range(len(spec.members())) for k in e.stepper.state_dict(j))
            same = bool(np.array_equal(got, want))
            self.add(check.__name__, same and weights and g.stepper.notice is None,
                     f"{sum(CHUNKS)} steps × {got.shape[1]} members: losses {'bit-equal' if same else 'differ'} "
                     f"(max rel {maxrel(got, want):.2g}), weights {'equal' if weights else 'differ'}"
                     + (f"; {g.stepper.notice}" if g.stepper.notice else ""))
        check.__name__ = f"blocks_equal_steps[{name}]"
        return check

    def _autograd(self, name: str) -> Callable[[], None]:
        def check() -> None:
            cfg = self.base.with_values(OPTIMISERS[name])
            fast = Experiment(RunSpec(cfg), blocks=self.blocks).step(300)[:, 0]
            ref = Experiment(RunSpec(cfg.with_value("train.kernels", "autograd"))).step(300)[:, 0]
            first, final = maxrel(fast[:50], ref[:50]), abs(fast[-1] / ref[-1] - 1)
            self.add(check.__name__, first < FIRST_STEPS_REL and final < FINAL_REL,
                     f"300 steps: first 50 within {first:.2g} (≤ {FIRST_STEPS_REL:g}), final loss within "
                     f"{final:.2g} (≤ {FINAL_REL:g})")
        check.__name__ = f"fast_vs_autograd[{name}]"
        return check

    def race_member(self) -> None:
        lrs = [0.1, 0.2, 0.3]
        raced = Experiment(RunSpec.race(self.base, {"train.lr": lrs}), blocks=self.blocks).step(160)
        alone = np.stack([Experiment(RunSpec(self.base.with_value("train.lr", lr)), blocks=self.blocks).step(160)[:, 0]
                          for lr in lrs], 1)
        same = bool(np.array_equal(raced, alone))
        self.add("race_member_equals_its_run", same, f"3 members × 160 steps {'bit-equal' if same else 'differ'} "
                 f"(max rel {maxrel(raced, alone):.2g})")

    def lr_change(self) -> None:
        run, ref = Run(RunSpec(self.base), blocks=self.blocks), Run(RunSpec(self.base), blocks="off")
        run.apply(C.Step(16))
        for _ in range(16):
            ref.apply(C.Step(1))
        block = fast(run.exp)._block
        graph = block.graph if block else None
        for r in (run, ref):
            r.apply(C.SetLr(0.05))
        run.apply(C.Step(48))
        for _ in range(48):
            ref.apply(C.Step(1))
        a, b = run.snapshot().members[0].losses, ref.snapshot().members[0].losses
        kept = block is not None and fast(run.exp)._block is block and block.graph is graph
        self.add("lr_change_without_recapture", bool(np.array_equal(a, b)) and kept,
                 f"lr 0.2 → 0.05 at step 16: {'the same' if kept else 'another'} block, losses "
                 f"{'bit-equal' if np.array_equal(a, b) else 'differ'} to steps one at a time")

    def divergence(self) -> None:
        spec = RunSpec.race(self.base, {"train.lr": [0.2, 3.0, 9.0]})
        bulk, per = Run(spec, blocks=self.blocks), Run(spec, blocks="off")
        bulk.apply(C.Step(100))
        for _ in range(100):
            if per.state != State.DIVERGED:
                per.apply(C.Step(1))
        self.add("divergence_at_its_step", bulk.dead == per.dead and len(bulk.dead) == 2,
                 f"lr 3 and 9 diverge at steps {sorted(bulk.dead.values())} in blocks, "
                 f"{sorted(per.dead.values())} stepped one at a time")

    def capture_failure(self) -> None:
        """On the CPU a capture always fails; on CUDA a host sync inside the capture makes it fail."""
        spec = RunSpec(self.base)
        with self._sync_in_capture():
            tried = Run(spec, blocks="graph")
            tried.apply(C.Step(40))
            tried.apply(C.Step(40))
        plain = Run(spec, blocks="off")
        plain.apply(C.Step(80))
        snap = tried.snapshot()  # a snapshot hands over what is new since the last one: taken once
        said = [n.text for n in snap.notices if n.text.startswith("CUDA graph capture failed")]
        same = bool(np.array_equal(snap.members[0].losses, plain.snapshot().members[0].losses))
        again = Experiment(spec, blocks="graph") if self.gpu else None
        if again is not None:
            again.step(32)
        block = fast(again)._block if again is not None else None
        recaptured = again is None or (block is not None and block.graph is not None)
        self.add("capture_failure_steps_eagerly", len(said) == 1 and same and recaptured,
                 f"{len(said)} notice ({said[0][:140] if said else '-'}), losses {'equal' if same else 'differ'} to "
                 f"eager steps" + ("" if again is None else f", a later capture {'works' if recaptured else 'fails'}"))

    @contextmanager
    def _sync_in_capture(self) -> Iterator[None]:
        if not self.gpu:
            yield
            return
        step = kernels.Group.step

        def syncing(group: kernels.Group, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor,
                    captured: bool = False) -> None:
            if captured and torch.cuda.is_current_stream_capturing():
                float(group.flat[0])  # a host sync: not allowed while capturing
            step(group, x, y, out, captured)

        kernels.Group.step = syncing  # type: ignore[method-assign,assignment]  # undone below
        try:
            yield
        finally:
            kernels.Group.step = step  # type: ignore[method-assign]

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

    def chunk_alignment(self) -> None:
        """The app's chunks, as Run.tick sizes them: steps outside blocks are eager (defect 2 of issue 25)."""
        eager = [0]
        step = kernels.Group.step

        def counting(group: kernels.Group, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor,
                     captured: bool = False) -> None:
            eager[0] += not captured  # a single run: one group
            step(group, x, y, out, captured)

        kernels.Group.step = counting  # type: ignore[method-assign,assignment]  # undone below
        try:
            run = Run(RunSpec(self.base.with_value("train.steps", 10**7)), blocks=self.blocks, inside=False)
            run.apply(C.Start())
            steps = 3_000 if self.quick else 10_000  # by steps, not seconds: a loaded machine is no excuse
            while run.step < steps:
                run.tick()
        finally:
            kernels.Group.step = step  # type: ignore[method-assign]
        share = eager[0] / max(run.step, 1)
        self.add("chunks_in_blocks", share < 0.01, f"the app's chunks flat out: {100 * share:.1f} % of "
                 f"{run.step:,} steps outside blocks (≤ 1 %)")

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
        if self.skip_without_gpu("memory_budget") or self.quick and self._skip("memory_budget", "--quick"):
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

    def _skip(self, name: str, why: str) -> bool:
        self.add(name, None, why)
        return True

    def worker(self) -> None:
        from fitscope.core.process_driver import ProcessDriver

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
        if self.skip_without_gpu("bench_graph_vs_eager") or self.quick and self._skip("bench_graph_vs_eager", "--quick"):
            return
        from fitscope.core.bench import device_speed

        r = device_speed(FitConfig(), rounds=3, steps=2000)
        lesson, large = r["lesson"], r["large"]
        self.add("bench_graph_vs_eager", not r["graph_notices"],
                 f"lesson net eager {lesson['eager_steps_per_s']:,.0f} · graph {lesson['graph_steps_per_s']:,.0f} "
                 f"steps/s ({lesson['graph_vs_eager']:.2f}×); 1-256-256-1 {large['gpu_vs_cpu']:.1f}× the CPU"
                 + (f"; {r['graph_notices'][0]}" if r["graph_notices"] else ""), bench=r)


def fast(exp: Experiment) -> FastStepper:
    assert isinstance(exp.stepper, FastStepper)  # every check's experiment uses the fast kernels
    return exp.stepper


def maxrel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))) if a.size else 0.0


def environment(checks: Checks) -> dict[str, Any]:
    env: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": checks.device,
                           "blocks": checks.blocks}
    if checks.gpu:
        p = torch.cuda.get_device_properties(torch.device(checks.device))
        env |= {"gpu": p.name, "sm": f"{p.major}.{p.minor}", "gpus": torch.cuda.device_count()}
    return env
