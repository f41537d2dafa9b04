"""A Run's save and restore: the files a save writes, and what a reopened run takes back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fitscope.core import commands as C
from fitscope.core import rundir, runs
from fitscope.core.snapshot import Level, State
from fitscope.core.snapshot_build import build

if TYPE_CHECKING:
    from fitscope.core.run import Run


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
    state = {"exp": exp_state, "run": {"elapsed": total, **run.ledger.state(),
                                       "finite_step": [[j, at] for j, at in finite_steps.items()]}}
    for j, at in finite_steps.items():
        summary["per_member"][j]["checkpoint_step"] = at
    assert snap.data is not None or run.exp.view is not None
    steps, fits, _ = run.exp.frames()
    files = runs.files(run.spec, runs.metrics_csv(run.tracker, run.exp.members, run.lrs, run.prior,
                                                   run.sampler.columns_log()), state,
                       runs.fit_csv(run.exp.view.grid, run.exp.predict(), run.exp.members),
                       cmd.fit_text or "(no chart: saved without one)", summary,
                       runs.timeline_npz(steps, run.exp.view.grid, fits))
    listing = {k: summary[k] for k in ("name", "target", "net", "members", "steps", "final_loss", "lead")}
    meta: dict[str, Any] = {"fitscope": runs.version(), "listing": listing}
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
    saved = loaded.state.get("run", {})
    k, step = len(run.exp.members), run.step
    run.home, run.prior = loaded.folder, loaded.prior
    run.elapsed = 0.0
    run.ledger.restore(saved)
    for j, at in saved.get("dead", []):  # checked by runs.load
        run.dead[j] = at
        run.exp.stepper.stop(j)
    run.lrs = [[(1, m.cfg.train.lr)] for m in run.exp.members]
    # the saved losses are the prior's rows, not the tracker's; drawn from step 1 in the charts, as if trained here
    run.outbox.resume(step, runs.prior_losses(loaded.prior, [m.label for m in run.exp.members], step))
    if run.dead and len(run.dead) == k:
        run.diverged_at = min(run.dead.values())
        run.state = State.DIVERGED
    elif step >= run.budget:
        run.state = State.DONE
