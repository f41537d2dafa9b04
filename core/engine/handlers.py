"""What each command does to a Run: one handler per command, called by ``Run.apply``.

A handler raises :class:`~fitscope.core.commands.Refused` when the run's state forbids the
command; the run then tells the next snapshot why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fitscope.core import commands as C
from fitscope.core.engine import device as device_mod
from fitscope.core.engine import lrplan
from fitscope.core.engine.training import Experiment
from fitscope.core.errors import ConfigError
from fitscope.core.snapshot import Frames, Level, State
from fitscope.core.spec import RunSpec
from fitscope.core.store import saved as runs
from fitscope.core.store import saving as store
from fitscope.core.store.folder import RunDirError

if TYPE_CHECKING:
    from fitscope.core.engine.run import Run

MAX_STEP = 100_000  # one Step command trains at once; more would hold commands back
FRAMES_LIMIT = 4_000_000  # numbers of fits a Timeline answer carries (16 MB as float32)


def steps_refusal(steps: int, path: str, trained: int) -> str:
    """One wording for a total that leaves nothing to train."""
    most = 100_000_000  # train.steps' own limit: a suggestion past it would be refused in turn
    if trained >= most:
        return f"--steps {steps:,}: {path} has trained {trained:,} steps, the most a run may have"
    return (f"--steps {steps:,}: {path} has trained {trained:,} steps already — give a larger total, "
            f"e.g. --steps {min(2 * trained, most)}")


# ---- training -------------------------------------------------------------------------------
def on_start(run: Run) -> None:
    check_trainable(run, "run")
    check_budget(run)
    run.state = State.RUNNING
    run.pacer.started(run.step)


def on_pause(run: Run) -> None:
    if run.state == State.RUNNING:
        run.state = State.PAUSED


def on_step(run: Run, cmd: C.Step) -> None:
    check_trainable(run, "step")
    if not 1 <= cmd.n <= MAX_STEP:
        raise C.Refused(f"step: {cmd.n} is not valid — expected 1 to {MAX_STEP:,} steps at once")
    check_budget(run)
    run.state = State.PAUSED
    run.train(min(cmd.n, run.budget - run.step))
    if run.state == State.PAUSED and run.step >= run.budget:
        run.state = State.DONE


def on_reset(run: Run, cmd: C.Reset) -> None:
    try:
        run.open(store.reset_spec(run, cmd.spec))
    except ConfigError as exc:  # e.g. a device that is not there: keep the old run
        raise C.Refused(str(exc)) from None
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:  # whatever else building met
        raise C.Refused(f"these settings cannot run: {type(exc).__name__}: {str(exc)[:200]}") from None
    run.say("reset")


def on_set_lr(run: Run, cmd: C.SetLr) -> None:
    if "train.lr" in run.spec.varied:
        raise C.Refused("lr is what this race varies: start a new race to change it")
    set_base(run, "train.lr", cmd.lr)
    set_base(run, "train.lr_changes", lrplan.live(run.spec.base.train.lr_changes, run.step + 1, cmd.lr))  # replayed
    run.exp.members = run.spec.members()
    for j in range(len(run.exp.members)):
        if j not in run.dead:
            run.exp.stepper.set_lr(j, run.spec.base.train.lr)
            run.lrs[j].append((run.step + 1, run.spec.base.train.lr))


def on_set_steps(run: Run, cmd: C.SetSteps) -> None:
    set_base(run, "train.steps", cmd.steps)
    run.budget = run.spec.base.train.steps
    if run.state == State.DONE and run.step < run.budget:
        run.state = State.PAUSED
    elif run.state in (State.RUNNING, State.PAUSED) and run.step >= run.budget:
        run.state = State.DONE


def on_set_pace(run: Run, cmd: C.SetPace) -> None:
    if cmd.steps_per_s is not None and not cmd.steps_per_s > 0:
        raise C.Refused(f"pace: {cmd.steps_per_s} is not valid — expected steps per second > 0, or flat out")
    run.pacer.set_pace(cmd.steps_per_s)


def check_budget(run: Run) -> None:
    if run.step >= run.budget:
        raise C.Refused(f"the step budget ({run.budget:,}) is reached — raise train.steps to go on")


def check_trainable(run: Run, what: str) -> None:
    if run.state == State.DIVERGED:
        raise C.Refused(f"{what}: the run diverged at step {run.diverged_at} — reset (r) to train again")
    if run.state == State.ERROR:
        raise C.Refused(f"{what}: the run stopped on an error — reset (r) to train again")


def set_base(run: Run, key: str, value: Any) -> None:
    try:
        run.spec = run.spec.with_base(run.spec.base.with_value(key, value))
    except ConfigError as exc:
        raise C.Refused(str(exc)) from None


# ---- files, views, devices ------------------------------------------------------------------
def on_save(run: Run, cmd: C.Save) -> Path:
    if run.step == 0:
        raise C.Refused("nothing to save yet: the run has not trained a step")
    try:
        path = store.save(run, cmd)
    except (OSError, RunDirError) as exc:  # a full disk or a read-only folder: said; the run goes on
        raise C.Refused(f"save failed: {exc}") from None
    run.say(f"saved run to {path}")
    run.kept_at = (run.run_id, run.step)
    return path


def on_open(run: Run, cmd: C.Open) -> RunSpec:
    try:
        loaded = runs.load(cmd.path)
        spec = loaded.spec
        trained = loaded.state["exp"]["step"]
        if cmd.steps is not None:
            if cmd.steps < trained:
                raise C.Refused(steps_refusal(cmd.steps, cmd.path, trained))
            spec = spec.with_base(spec.base.with_value("train.steps", cmd.steps))
        run.open(spec, loaded)
    except (RunDirError, ConfigError) as exc:
        raise C.Refused(str(exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:  # a crafted file past the checks
        raise C.Refused(f"{cmd.path}: cannot open it ({type(exc).__name__}: {str(exc)[:120]}); "
                        "the current run is kept") from None
    run.say(f"opened {loaded.folder} at step {run.step:,} of {run.budget:,}")
    run.kept_at = (run.run_id, run.step)  # as its folder holds it: leaving it loses nothing
    return run.spec


def member_index(run: Run, what: str, member: int) -> None:
    if not 0 <= member < len(run.exp.members):
        raise C.Refused(f"{what}: there is no member {member + 1}")


def on_inspect(run: Run, cmd: C.Inspect) -> None:
    member_index(run, "inspect", cmd.member)
    run.inspected = cmd.member


def on_timeline(run: Run, cmd: C.Timeline) -> Frames:
    member_index(run, "timeline", cmd.member)
    steps, fits, layers = run.exp.frames()
    keep = np.arange(len(steps))
    if fits.size > FRAMES_LIMIT:  # a big race: every member's fit, at fewer moments
        keep = np.unique(np.linspace(0, len(steps) - 1, max(2, FRAMES_LIMIT // fits[0].size)).astype(int))
    mine = [(w[keep], b[keep]) for w, b in layers[cmd.member]] if layers else None
    return Frames(steps[keep], run.exp.view.grid, fits[keep].astype(np.float32), cmd.member, mine)


def on_set_device(run: Run, cmd: C.SetDevice) -> None:
    """The run to another device: its weights, optimiser state, data order and timeline go
    with it; the step count, the losses and every record of the run stay as they are."""
    if run.state == State.ERROR:
        raise C.Refused("device: the run stopped on an error — reset (r) first")
    try:
        target = device_mod.resolve(cmd.device)
    except ConfigError as exc:
        raise C.Refused(str(exc)) from None
    if target == run.exp.device:
        raise C.Refused(f"device: the run is on {target} already")
    was = run.exp.device
    try:
        relocate(run, run.spec.with_base(run.spec.base.with_value("train.device", cmd.device)))
    except ConfigError as exc:
        raise C.Refused(str(exc)) from None
    except (RuntimeError, MemoryError) as exc:
        raise C.Refused(f"device: cannot move to {target}: {type(exc).__name__}: {str(exc)[:200]}") from None
    run.say(f"moved from {was} to {target} at step {run.step:,}")


def relocate(run: Run, spec: RunSpec) -> None:
    """The experiment rebuilt for ``spec`` (another device) and the run's state carried into it."""
    state, timeline = run.exp.state(), run.exp.timeline
    exp = Experiment(spec, run.blocks)  # the memory budget is checked for the new device
    exp.load(state)
    exp.timeline = timeline.to(exp.device, exp.stepper.block_steps)
    for j in run.dead:
        exp.stepper.stop(j)
    run.exp, run.spec = exp, spec
    run.pacer.restart(run.step)


def error_text(exc: BaseException) -> str:
    """What a failed step says: out of memory with what to lower, or the error's first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text.lower():
        return (f"error: out of memory while training ({type(exc).__name__}: {text[:160]}) — lower "
                "data.points or model.hidden, or use train.batch_size")
    return f"error: {type(exc).__name__}: {text[:300]}"


def pass_on_notice(run: Run) -> None:
    """The stepper's one notice (a compile under way, a CUDA graph that failed), said once."""
    if run.exp.stepper.notice:
        run.say(run.exp.stepper.notice, Level.WARNING)
        run.exp.stepper.notice = None
