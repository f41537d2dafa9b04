"""A Reset of a run that replays ``train.lr_changes`` starts it over as configured: the rate from
step 1, each change at its step — not from the rate it trains with now — so that what a save
writes replays what happened. Through the engine's commands, no UI."""

import tomllib

import numpy as np

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec

PLAN = FitConfig().with_values({"train.device": "cpu", "train.steps": 20, "train.lr_changes": "6:0.1"})


def losses(run: Run) -> np.ndarray:
    run.snapshot()
    return np.asarray(run.tracker.history(0).loss)


def planned(steps: int = 12) -> np.ndarray:
    run = Run(RunSpec(PLAN))
    run.apply(C.Step(steps))
    return losses(run)


def saved_lr(folder) -> tuple[float, list]:
    train = tomllib.loads((folder / "config.toml").read_text())["train"]
    return train["lr"], train["lr_changes"]


def test_a_reset_after_a_planned_change_starts_from_the_configs_lr(tmp_path):
    run = Run(RunSpec(PLAN))
    run.apply(C.Step(12))
    assert run.spec.base.train.lr == 0.1  # trains with the changed rate now
    run.apply(C.Reset())
    assert run.spec.base.train.lr == 0.2
    run.apply(C.Step(12))
    np.testing.assert_allclose(losses(run), planned(), rtol=1e-6)
    assert run.lrs[0] == [(1, 0.2), (6, 0.1)]
    run.apply(C.Save(str(tmp_path / "r")))
    assert saved_lr(tmp_path / "r") == (0.2, [{"step": 6, "lr": 0.1}])


def test_a_reopened_run_reset_with_the_spec_it_opened_as_replays_its_plan(tmp_path):
    first = Run(RunSpec(PLAN))
    first.apply(C.Step(10))
    first.apply(C.Save(str(tmp_path / "r")))
    run = Run(RunSpec(PLAN.with_value("train.lr_changes", "")))
    opened = run.apply(C.Open(str(tmp_path / "r")))  # what the app then holds and sends back with r
    assert opened.base.train.lr == 0.1
    run.apply(C.Reset(opened))
    assert run.step == 0
    assert run.spec.base.train.lr == 0.2
    run.apply(C.Step(12))
    np.testing.assert_allclose(losses(run), planned(), rtol=1e-6)


def test_a_reset_after_a_live_change_to_a_replayed_run_keeps_every_change(tmp_path):
    """Opened past its planned change, halved live at step 10 (the app's spec then has the new rate
    and the plan it opened with): the reset replays both changes, and so does its save."""
    first = Run(RunSpec(PLAN))
    first.apply(C.Step(8))
    first.apply(C.Save(str(tmp_path / "r")))
    run = Run(RunSpec(PLAN))
    opened = run.apply(C.Open(str(tmp_path / "r")))
    run.apply(C.Step(2))
    run.apply(C.SetLr(0.05))
    run.apply(C.Reset(opened.with_base(opened.base.with_value("train.lr", 0.05))))
    run.apply(C.Step(12))
    whole = Run(RunSpec(PLAN.with_value("train.lr_changes", "6:0.1,11:0.05")))
    whole.apply(C.Step(12))
    np.testing.assert_allclose(losses(run), losses(whole), rtol=1e-6)
    run.apply(C.Save(str(tmp_path / "again")))
    assert saved_lr(tmp_path / "again") == (0.2, [{"step": 6, "lr": 0.1}, {"step": 11, "lr": 0.05}])


def test_a_reset_with_a_spec_of_its_own_rate_and_no_plan_trains_that_rate_from_step_1():
    """The app after ``-`` in a fresh session: its spec says lr 0.1 and no changes; so does the run."""
    cfg = PLAN.with_value("train.lr_changes", "")
    run = Run(RunSpec(cfg))
    run.apply(C.Step(5))
    run.apply(C.SetLr(0.1))
    run.apply(C.Reset(RunSpec(cfg.with_value("train.lr", 0.1))))
    run.apply(C.Step(5))
    assert run.lrs[0] == [(1, 0.1)]
    other = Run(RunSpec(cfg.with_value("train.lr", 0.1)))
    other.apply(C.Step(5))
    np.testing.assert_allclose(losses(run), losses(other), rtol=1e-6)


def test_the_summary_gives_the_rate_it_began_with_and_each_change(tmp_path):
    """summary.json (and so ``show``) said ``sgd lr 0.1`` of a run that began at 0.2."""
    import json

    run = Run(RunSpec(PLAN))
    run.apply(C.Step(10))
    run.apply(C.Save(str(tmp_path / "r")))
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["optimizer"] == "sgd lr 0.2, 0.1 from step 6"
