"""A Run's save and restore: the files a save writes, and what a reopened run takes back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fitscope.core import commands as C
from fitscope.core.engine import lrplan
from fitscope.core.engine.snapshot_build import build
from fitscope.core.snapshot import Level, State
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import saved as runs
from fitscope.core.store.checkpoint import CheckpointState, RunRecord

if TYPE_CHECKING:
    from fitscope.core.engine.run import Run


def save(run: Run, cmd: C.Save) -> Path:
    snap = build(run)
    run.outbox.keep(snap, run.tracker)  # the steps since the last snapshot too: a save is never behind
    folder = Path(cmd.path) if cmd.path else run.home or rundir.new_run_dir("runs", runs.short_name(run.spec))
    prior_elapsed = run.prior.elapsed if run.prior else 0.0
    total = prior_elapsed + run.elapsed
    summary = runs.summary(snap, total, folder.name)
    exp_state = run.exp.state()
    finite_steps = {}
    for j, kept in run.finite.items():  # never NaN weights saved as if they were a model
        if kept is not None:
            finite_steps[j], exp_state["members"][j] = kept
    led = run.ledger.state()
    record = RunRecord(elapsed=total, best=led["best"], best_step=led["best_step"], last=led["last"],
                       first=led["first"], dead=led["dead"], finite_step=[[j, at] for j, at in finite_steps.items()])
    state = CheckpointState(exp=exp_state, run=record)
    for j, at in finite_steps.items():
        summary["per_member"][j]["checkpoint_step"] = at
    assert snap.data is not None or run.exp.view is not None
    steps, fits, _ = run.exp.frames()
    metrics, thinning = runs.metrics_csv(run.tracker, run.exp.members, run.lrs, run.prior, run.sampler.columns_log())
    summary["metrics"] = thinning
    first = replay_spec(run).base.train
    if first.lr_changes and "train.lr" not in run.spec.varied:  # the rate it began with and each change, not the last
        summary["optimizer"] = f"{first.optimizer} lr {lrplan.describe(first.lr, first.lr_changes)}"
    if run.spec.base.data.file:
        summary["data_units"] = data_units(summary, run.exp.data.x_scale, run.exp.data.y_scale, run.spec.base.train.loss)
    files = runs.files(replay_spec(run), metrics, state,
                       runs.fit_csv(run.exp.view.grid, run.exp.predict(), run.exp.members),
                       cmd.fit_text or "(no chart: saved without one)", summary,
                       runs.timeline_npz(steps, run.exp.view.grid, fits))
    listing = {k: summary[k] for k in ("name", "target", "net", "members", "steps", "final_loss", "lead")}
    meta: dict[str, Any] = {"fitscope": runs.version(), "listing": listing, "metrics": thinning}
    if run.data_record is not None:
        meta["data"] = run.data_record
    rundir.commit(folder, files, meta)
    run.home = folder
    for j, at in finite_steps.items():
        run.say(f"{run.exp.members[j].label if len(run.exp.members) > 1 else 'the run'} diverged at step "
                 f"{run.dead[j]:,}: checkpoint.pt holds its last finite weights, from step {at:,}", Level.WARNING)
    return folder


def restore(run: Run, loaded: runs.Loaded) -> None:
    """The rest of a saved run: bests, diverged members, time, and its losses for the charts."""
    saved = loaded.state["run"]
    k, step = len(run.exp.members), run.step
    run.home, run.prior = loaded.folder, loaded.prior
    run.elapsed = 0.0
    run.ledger.restore(dict(saved))
    for j, at in saved.get("dead", []):  # checked by runs.load
        run.dead[j] = at
        run.exp.stepper.stop(j)
    changes = run.spec.base.train.lr_changes  # the planned and live lr changes so far, replayed from here
    run.lrs = [[(1, m.cfg.train.lr), *((s, v) for s, v in changes if s <= step)] for m in run.exp.members]
    lr = lrplan.lr_at(run.spec.base.train.lr, changes, step)
    if lr != run.spec.base.train.lr:  # the live form: train.lr is the rate the run trains with now
        _use_lr(run, lr)
    # the saved losses are the prior's rows, not the tracker's; drawn from step 1 in the charts, as if trained here
    run.outbox.resume(step, runs.prior_losses(loaded.prior, [m.label for m in run.exp.members], step))
    if run.dead and len(run.dead) == k:
        run.diverged_at = min(run.dead.values())
        run.state = State.DIVERGED
    elif step >= run.budget:
        run.state = State.DONE


def _use_lr(run: Run, lr: float) -> None:
    run.spec = run.spec.with_base(run.spec.base.with_value("train.lr", lr))
    run.exp.members = run.spec.members()
    for j in range(len(run.exp.members)):
        if j not in run.dead:
            run.exp.stepper.set_lr(j, lr)


def planned_lr(run: Run) -> None:
    """A ``train.lr_changes`` entry for the next step takes effect now (``run --config`` of a run
    that had live changes, and a resumed one); a live change (SetLr) has changed the plan already."""
    changes = run.spec.base.train.lr_changes
    if not changes or "train.lr" in run.spec.varied:
        return
    lr = lrplan.lr_at(run.lrs[0][0][1], changes, run.step + 1)
    if lr != run.spec.base.train.lr:
        _use_lr(run, lr)
        for j in range(len(run.exp.members)):
            if j not in run.dead:
                run.lrs[j].append((run.step + 1, lr))


def replay_spec(run: Run) -> RunSpec:
    """The spec a save writes: ``train.lr`` the rate from step 1 and the changes after it, so that
    ``run --config``, ``--resume`` and an export train what this run trained (the run itself keeps
    ``train.lr`` as the rate it trains with now, which is what the app shows and ``+``/``-`` scale)."""
    base = run.spec.base
    if not base.train.lr_changes or "train.lr" in run.spec.varied:
        return run.spec
    return run.spec.with_base(base.with_value("train.lr", run.lrs[0][0][1]))


def reset_spec(run: Run, given: RunSpec | None) -> RunSpec:
    """What a Reset starts over: a run that replays lr changes from its first rate, each change at
    its step (a save then replays what happened), not from the rate it trains with now.

    ``given`` is the run's own when it carries the plan the run was opened with or has now and the
    rate it trains with now (what the app holds after opening a run, or after ``+``/``-`` on one):
    then the run's plan, planned and live changes alike. Any other spec is taken as it is."""
    if given is None:
        return replay_spec(run)
    base, now = given.base, run.spec.base
    own = (base.train.lr_changes and base.train.lr_changes in (run.plan, now.train.lr_changes)
           and base.train.lr == now.train.lr and "train.lr" not in given.varied)
    if not own:
        return given
    return given.with_base(base.with_values({"train.lr": run.lrs[0][0][1],
                                             "train.lr_changes": now.train.lr_changes}))


LOSS_POWER = {"mse": 2, "huber": 2, "l1": 1}  # a loss in y's units is the standardised one times sd**power


def data_units(summary: dict[str, Any], x_scale: tuple[float, float], y_scale: tuple[float, float],
               loss: str) -> dict[str, float | None]:
    """A data file is trained standardised: the scale it was trained in, and the lead's losses back
    in the data's own units (Huber's threshold scales with it: delta = y's sd)."""
    factor = y_scale[1] ** LOSS_POWER.get(loss, 2)
    own = {k: None if summary[k] is None else summary[k] * factor for k in ("final_loss", "test_loss", "best_loss")}
    return {"x_mean": x_scale[0], "x_sd": x_scale[1], "y_mean": y_scale[0], "y_sd": y_scale[1], "loss_factor": factor,
            **own}
