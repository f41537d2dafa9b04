"""Options written before the command: taken by the command when it has them (argparse let the
command's defaults replace them, without a word), refused by name, with where they go, when not."""

import json

import pytest
from test_cli import fitscope


def test_settings_before_run_are_the_runs(tmp_path):
    r = fitscope("--set", "train.steps=7", "--set", "train.device=cpu", "run", "--quiet", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["steps"] == 7
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["device"] == "cpu"


def test_options_before_and_after_the_command_both_count(tmp_path):
    r = fitscope("--steps", "4", "run", "--set", "train.device=cpu", "--set", "model.hidden=[5]", "--quiet",
                 "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert (summary["steps"], summary["net"]) == (4, "1-5-1 relu")


def test_a_race_asked_for_before_compare_is_raced():
    r = fitscope("--vary", "model.activation=relu,tanh", "--seeds=2", "compare", "--steps", "3", "--quiet", "--no-save",
                 "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    assert [line.split()[-1] for line in r.stdout.splitlines() if line.startswith(("relu", "tanh"))] == ["2", "2"]


@pytest.mark.parametrize("args,first", [
    (["--engine", "thread", "run", "--no-save"],
     "fitscope: --engine: 'thread' is not valid — given before run, which takes no --engine; it goes with the app "
     "(fitscope --engine …, no command), or fitscope bench --engine …"),
    (["--steps", "5", "export", "r"], "fitscope: --steps: '5' is not valid — given before export, which takes no "
     "--steps"),
    (["--open", "runs/x", "run"], "fitscope: --open: 'runs/x' is not valid — given before run, which takes no --open"),
])
def test_an_option_the_command_does_not_take_is_refused_by_name(args, first):
    r = fitscope(*args)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0].startswith(first)
    assert len(r.stderr.strip().splitlines()) == 1
