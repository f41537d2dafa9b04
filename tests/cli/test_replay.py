"""Live changes are recorded with their steps, and replayed: ``run --config`` of a saved run's
config.toml, ``--resume``, and the exported script train what the run trained."""

import json
import subprocess
import sys
import tomllib

import pytest
from test_cli import ENV, fitscope

from fitscope.core import commands as C
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec

from support import metrics

AUTOGRAD = FitConfig().with_values({"train.device": "cpu", "train.kernels": "autograd"})


def changed_live(folder, cfg=AUTOGRAD, at=150, total=300):
    """The issue's session: ``-`` at step 150 (lr 0.2 → 0.1), then on to the end, saved."""
    run = Run(RunSpec(cfg))
    run.apply(C.Step(at))
    run.apply(C.SetLr(0.1))
    run.apply(C.Step(total - at))
    run.apply(C.Save(str(folder)))
    return run


def final_loss(folder) -> float:
    return json.loads((folder / "summary.json").read_text())["final_loss"]


def test_a_live_lr_change_is_recorded_with_its_step(tmp_path):
    run = changed_live(tmp_path / "r")
    assert run.spec.base.train.lr == 0.1  # the run trains with it now (what the app shows)
    config = tomllib.loads((tmp_path / "r" / "config.toml").read_text())
    assert config["train"]["lr"] == 0.2  # the rate from step 1 …
    assert config["train"]["lr_changes"] == [{"step": 151, "lr": 0.1}]  # … and the change, from its step on
    assert "[[train.lr_changes]]" in (tmp_path / "r" / "config.toml").read_text()
    lrs = {(r["step"], r["lr"]) for r in metrics.rows(tmp_path / "r") if r["step"] in ("150", "151")}
    assert lrs == {("150", "0.2"), ("151", "0.1")}


def test_run_config_of_the_saved_config_replays_the_change(tmp_path):
    changed_live(tmp_path / "r")
    r = fitscope("run", "--config", str(tmp_path / "r" / "config.toml"), "--quiet", "--out", str(tmp_path / "again"))
    assert r.returncode == 0, r.stderr
    assert final_loss(tmp_path / "again") == final_loss(tmp_path / "r")  # the same arithmetic, step for step
    assert metrics.column(tmp_path / "again", "train_loss") == metrics.column(tmp_path / "r", "train_loss")


def test_a_resume_replays_a_change_planned_past_its_step(tmp_path):
    """Saved at step 100 of a config that changes the lr at 151: the resume makes the change there."""
    cfg = AUTOGRAD.with_value("train.lr_changes", "151:0.1")
    run = Run(RunSpec(cfg))
    run.apply(C.Step(100))
    run.apply(C.Save(str(tmp_path / "r")))
    r = fitscope("run", "--resume", str(tmp_path / "r"), "--quiet")
    assert r.returncode == 0, r.stderr
    changed_live(tmp_path / "whole")
    assert final_loss(tmp_path / "r") == final_loss(tmp_path / "whole")
    resumed = Run(RunSpec(AUTOGRAD))
    resumed.apply(C.Open(str(tmp_path / "r")))
    assert resumed.spec.base.train.lr == 0.1  # reopened after the change: it trains with the changed rate


def test_an_exported_autograd_script_reproduces_a_run_with_live_lr_changes(tmp_path):
    changed_live(tmp_path / "r")
    script = fitscope("export", str(tmp_path / "r")).stdout
    assert "LR_CHANGES = {151: 0.1}" in script
    assert "ends on the run's final loss" in script
    (tmp_path / "fit.py").write_text(script)
    r = subprocess.run([sys.executable, str(tmp_path / "fit.py")], capture_output=True, text=True, timeout=300,
                       env={**ENV, "MPLBACKEND": "Agg"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    loss = float(r.stdout.splitlines()[-1].removeprefix("final loss "))
    assert loss == pytest.approx(final_loss(tmp_path / "r"), rel=1e-6)


def test_a_fast_export_says_how_close_it_is_and_never_that_it_reproduces(tmp_path):
    changed_live(tmp_path / "r", cfg=AUTOGRAD.with_value("train.kernels", "fast"), at=20, total=40)
    doc = fitscope("export", str(tmp_path / "r")).stdout.split('"""')[1]
    assert "near the run, not on it" in doc
    assert "reproduces" not in doc


@pytest.mark.parametrize("raw,field,allowed", [
    ("0:0.1", "train.lr_changes[1].step", "from 1 to"),
    ("50:0.1,50:0.2", "train.lr_changes[2].step", "from 51 to"),
    ("50:-1", "train.lr_changes[1].lr", "in (0, 100]"),
    ("50:nan", "train.lr_changes[1].lr", "in (0, 100]"),
    ("fifty", "train.lr_changes[1]", "a step and an lr"),
    ([{"step": 3}], "train.lr_changes[1]", "a table of step and lr"),
    ([{"step": 3, "lr": 0.1, "code": "x"}], "train.lr_changes[1]", "a table of step and lr"),
])
def test_a_bad_lr_change_names_the_field_the_value_and_what_is_allowed(raw, field, allowed):
    with pytest.raises(ConfigError) as err:
        FitConfig().with_value("train.lr_changes", raw)
    assert err.value.field == field
    assert allowed in err.value.allowed


def test_a_bad_lr_change_in_a_config_file_is_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nlr = 0.2\n\n[[train.lr_changes]]\nstep = 10\nlr = 1e9\n")
    r = fitscope("run", "--config", str(path), "--quiet", "--no-save")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "fitscope: train.lr_changes[1].lr: 1000000000.0 is not valid — expected a number in (0, 100], as train.lr"]


def test_a_race_that_varies_the_lr_takes_no_lr_changes():
    with pytest.raises(ConfigError, match="no lr changes in a race that varies train.lr"):
        RunSpec.race(AUTOGRAD.with_value("train.lr_changes", "5:0.1"), {"train.lr": [0.1, 0.2]})


@pytest.mark.parametrize("changes,field", [
    ('[[train.lr_changes]]\nstep = 10\nlr = "0.1)\\nimport os  #"\n', "train.lr_changes[1].lr"),
    ('[[train.lr_changes]]\nstep = "__import__(\'os\')"\nlr = 0.1\n', "train.lr_changes[1].step"),
    ('[[train.lr_changes]]\nstep = 10\nlr = 0.1\ncode = "x"\n', "train.lr_changes[1]"),
])
def test_a_crafted_folders_lr_changes_never_reach_the_script(tmp_path, changes, field):
    from test_crafted_folders import one_line, rewrite

    changed_live(tmp_path / "r", at=5, total=10)
    text = (tmp_path / "r" / "config.toml").read_text()
    crafted = text[:text.index("[[train.lr_changes]]")] + changes
    rewrite(tmp_path / "r", "config.toml", crafted.encode())
    for args in (["export", str(tmp_path / "r")], ["run", "--resume", str(tmp_path / "r"), "--quiet"]):
        r = fitscope(*args)
        one_line(r)
        assert field in r.stderr
        assert r.stdout == ""
