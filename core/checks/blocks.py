"""`fitscope check`, the blocks: steps grouped into CUDA graphs (eager blocks on the CPU) compute
exactly what steps one at a time compute, for every optimiser, member, lr change and divergence."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from fitscope.core import commands as C
from fitscope.core.checks.base import CHUNKS, FINAL_REL, FIRST_STEPS_REL, OPTIMISERS, CheckBase, fast, maxrel
from fitscope.core.engine import kernels
from fitscope.core.engine.run import Run
from fitscope.core.engine.training import Experiment
from fitscope.core.snapshot import State
from fitscope.core.spec import RunSpec


class BlockChecks(CheckBase):
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
            block = fast(exp).block
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
        block = fast(run.exp).block
        graph = block.graph if block else None
        for r in (run, ref):
            r.apply(C.SetLr(0.05))
        run.apply(C.Step(48))
        for _ in range(48):
            ref.apply(C.Step(1))
        a, b = run.snapshot().members[0].losses, ref.snapshot().members[0].losses
        kept = block is not None and fast(run.exp).block is block and block.graph is graph
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
        block = fast(again).block if again is not None else None
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
            run = Run(RunSpec(self.base.with_value("train.steps", 10**7)), blocks=self.blocks, net_numbers=False)
            run.apply(C.Start())
            steps = 3_000 if self.quick else 10_000  # by steps, not seconds: a loaded machine is no excuse
            while run.step < steps:
                run.tick()
        finally:
            kernels.Group.step = step  # type: ignore[method-assign]
        share = eager[0] / max(run.step, 1)
        self.add("chunks_in_blocks", share < 0.01, f"the app's chunks flat out: {100 * share:.1f} % of "
                 f"{run.step:,} steps outside blocks (≤ 1 %)")
