"""`fitscope show A B …` side by side, `show` of a race with compare's table, and `runs` naming
the member a race's loss is of, with a test-loss column; the metrics reader the plot uses."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import fitscope

from fitscope.core.store import readers
from fitscope.core.store.folder import RunDirError

WAVE = Path(__file__).resolve().parents[1] / "fixtures" / "wave.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    cpu = ("--set", "train.device=cpu", "--quiet")
    for args in (("run", "--steps", "20", "--out", str(base / "a"), *cpu),
                 ("run", "--steps", "25", "--set", "train.lr=0.1", "--out", str(base / "b"), *cpu),
                 ("compare", "--steps", "20", "--seeds", "2", "--out", str(base / "race"), *cpu),
                 ("run", "--steps", "20", "--data", str(WAVE), "--set", "data.split=random", "--out", str(base / "file"),
                  *cpu)):
        r = fitscope(*args, cwd=base)
        assert r.returncode == 0, (args, r.stderr)
    return base


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_show_of_several_runs_puts_what_differs_side_by_side(runs):
    r = fitscope("show", str(runs / "a"), str(runs / "b"), str(runs / "race"))
    assert r.returncode == 0, r.stderr
    rows = {line.split("  ")[0]: line for line in r.stdout.splitlines()}
    assert rows[""].split() == ["a", "b", "race"]
    assert rows["train.lr"].split()[1:] == ["0.2", "0.1", "0.2"]
    assert rows["train.steps"].split()[1:] == ["20", "25", "20"]
    assert "model.activation=relu,softplus,tanh" in rows["race.vary"]
    assert "data.points" not in rows  # the same in all: left out
    finals = rows["final loss"].split()[2:]
    assert [float(v) for v in finals] == pytest.approx([summary(runs / n)["final_loss"] for n in ("a", "b", "race")],
                                                       rel=1e-4)
    for label in ("test loss", "best loss", "steps/s", "losses of"):
        assert label in rows
    assert rows["losses of"].split()[-1] == summary(runs / "race")["lead"].split()[-1]


def test_show_side_by_side_has_the_test_loss_of_a_split(runs):
    r = fitscope("show", str(runs / "a"), str(runs / "file"))
    assert r.returncode == 0, r.stderr
    test_row = next(line for line in r.stdout.splitlines() if line.startswith("test loss"))
    assert test_row.split()[2] == "—"
    assert float(test_row.split()[3]) == pytest.approx(summary(runs / "file")["test_loss"], rel=1e-4)


def test_show_of_a_race_prints_compares_per_variant_table(runs):
    r = fitscope("show", str(runs / "race"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("variant"))
    assert lines[head].split() == ["variant", "median", "min", "max", "runs"]
    variants = [line.split()[0] for line in lines[head + 2:head + 5]]
    assert sorted(variants) == ["relu", "softplus", "tanh"]
    per = summary(runs / "race")["per_member"]
    relu = sorted(m["final_loss"] for m in per if m["variant"] == "relu")
    row = lines[head + 2 + variants.index("relu")].split()
    assert float(row[2]) == pytest.approx(relu[0], rel=1e-4)  # min
    assert float(row[3]) == pytest.approx(relu[1], rel=1e-4)  # max


def test_runs_names_the_member_of_a_races_loss_and_has_a_test_loss_column(runs):
    r = fitscope("runs", str(runs))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "test loss" in lines[0]
    assert lines[0].rstrip().endswith("of member")
    by_name = {line.split()[0]: line for line in lines[2:]}
    assert by_name["race"].split()[-1] == summary(runs / "race")["lead"].split()[-1]
    assert float(by_name["file"].split()[-1]) == pytest.approx(summary(runs / "file")["test_loss"], rel=1e-4)
    assert by_name["a"].split()[-1] == "—"  # no split: no test loss, and a single run names no member


def test_show_of_a_folder_that_is_no_run_among_others_is_one_line(runs, tmp_path):
    r = fitscope("show", str(runs / "a"), str(tmp_path))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "no saved run here" in r.stderr


@pytest.mark.parametrize("head", ["# fitscope metrics: every step\n", ""])  # the old comment line, or a plain CSV
def test_loss_curves_reads_metrics_by_column_name(head):
    text = head + "member,step,train_loss,variant\nrelu s0,1,0.5,relu\nrelu s1,1,0.25,relu\nrelu s0,2,0.125,relu\n"
    curves = readers.loss_curves(text, Path("metrics.csv"))
    assert set(curves) == {"relu s0", "relu s1"}
    steps, losses = curves["relu s0"]
    assert steps.tolist() == [1, 2]
    assert np.array_equal(losses, [0.5, 0.125])


@pytest.mark.parametrize("text, says", [
    ("a,b\n1,2\n", "line 1 is not fitscope's metrics header"),
    ("step,member,train_loss\n1,m,oops\n", "line 2: the train_loss is 'oops'"),
    ("step,member,train_loss\nx,m,1\n", "line 2: the step is 'x'"),
])
def test_loss_curves_refuses_what_is_not_a_metrics_file_naming_the_line(text, says):
    with pytest.raises(RunDirError, match=says):
        readers.loss_curves(text, Path("metrics.csv"))
