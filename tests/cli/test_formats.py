"""Run files as the ordinary tools read them, and folders of the previous format still open,
resume and export (tests/fixtures/v1: a single run, a race and a data-file run, saved by fitscope
before metrics.csv lost its comment line)."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import ENV, fitscope

from fitscope.core.errors import RunDirError
from fitscope.core.store import reference
from fitscope.core.store import saved as runs

from support import metrics

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
WAVE = V1.parent / "wave.csv"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    assert fitscope("run", "--steps", "12", "--quiet", "--out", str(base / "single"),
                    "--set", "train.device=cpu").returncode == 0
    assert fitscope("compare", "--steps", "8", "--quiet", "--out", str(base / "race"), "--seeds", "2",
                    "--vary", "model.activation=relu,tanh", "--set", "train.device=cpu").returncode == 0
    return base


@pytest.mark.parametrize("name,members", [("single", 1), ("race", 4)])
def test_metrics_csv_reads_with_the_csv_module_numpy_and_pandas_unchanged(saved, name, members):
    path = saved / name / "metrics.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    steps = 12 if name == "single" else 8
    assert len(rows) == members * steps
    assert float(rows[0]["train_loss"]) > 0
    table = np.genfromtxt(path, names=True, delimiter=",", dtype=None, encoding="utf-8")
    assert table.dtype.names[:8] == ("step", "member", "variant", "seed", "train_loss", "test_loss", "lr", "seconds")
    np.testing.assert_array_equal(table["train_loss"], [float(r["train_loss"]) for r in rows])
    if name == "single":
        assert {r["member"] for r in rows} == {"relu"}  # named for what it is, not "base"
    else:
        assert {(r["member"], r["variant"], r["seed"]) for r in rows} == {
            ("relu s0", "relu", "0"), ("relu s1", "relu", "1"), ("tanh s0", "tanh", "0"), ("tanh s1", "tanh", "1")}
    try:
        import pandas
    except ImportError:
        return
    frame = pandas.read_csv(path)
    assert list(frame.columns[:4]) == ["step", "member", "variant", "seed"]
    assert len(frame) == members * steps
    assert frame.groupby("member")["train_loss"].count().tolist() == [steps] * members


def test_the_thinning_is_in_run_json_and_summary_json_not_in_the_csv(saved):
    for name in ("run.json", "summary.json"):
        assert json.loads((saved / "single" / name).read_text())["metrics"]["stride"] == 1
    assert (saved / "single" / "metrics.csv").read_text().startswith("step,member,")


def _copy(tmp_path, name):
    folder = tmp_path / "v1" / name
    shutil.copytree(V1 / name, folder)
    shutil.copy(WAVE, tmp_path / "wave.csv")  # the data run's config names ../wave.csv, from tmp_path/v1
    return folder


@pytest.mark.parametrize("name,steps,labels", [("single", 60, ["relu"]), ("race", 40,
                                               ["relu s0", "relu s1", "tanh s0", "tanh s1"]), ("datafile", 50, ["relu"])])
def test_a_folder_of_the_previous_format_opens_resumes_and_exports(tmp_path, name, steps, labels):
    folder = _copy(tmp_path, name)
    assert (folder / "metrics.csv").read_text().startswith("# fitscope metrics")  # the old format, as saved
    work = tmp_path / "v1"
    r = fitscope("show", str(folder), cwd=work)
    assert r.returncode == 0, r.stderr
    assert f"{steps} of {steps} steps" in r.stdout
    assert reference.load(folder).steps[-1] == steps  # `b` in the app reads it
    r = fitscope("run", "--resume", str(folder), "--steps", str(steps + 5), "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    rows = metrics.rows(folder)  # rewritten in today's format, the old rows kept
    assert [int(r["step"]) for r in rows] == [s for s in range(1, steps + 6) for _ in labels]
    assert [r["member"] for r in rows[:len(labels)]] == labels
    assert all(r["variant"] and r["seed"] for r in rows)
    assert runs.load(folder).prior.step == steps + 5
    r = fitscope("export", str(folder), cwd=work)
    assert r.returncode == 0, r.stderr
    compile(r.stdout, "fit.py", "exec")


def test_an_exported_data_run_checks_its_file_and_embeds_it_on_request(tmp_path):
    folder = _copy(tmp_path, "datafile")
    work = tmp_path / "v1"
    plain = fitscope("export", str(folder), cwd=work).stdout
    embedded = fitscope("export", "--embed-data", str(folder), cwd=work)
    assert embedded.returncode == 0, embedded.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "fit.py").write_text(plain)
    (elsewhere / "embedded.py").write_text(embedded.stdout)

    def run(script):
        return subprocess.run([sys.executable, script], cwd=elsewhere, capture_output=True, text=True, timeout=300,
                              env={**ENV, "MPLBACKEND": "Agg"})

    (tmp_path / "wave.csv").unlink()
    missing = run("fit.py")  # another machine: the file is not there
    assert missing.returncode == 1
    assert "needs the run's data file ../wave.csv" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "wave.csv").write_text("x,y\n1,2\n3,4\n")  # ../wave.csv from there: another file of that name
    changed = run("fit.py")
    assert changed.returncode == 1
    assert "not the data the run trained on" in changed.stderr
    got = run("embedded.py")
    assert got.returncode == 0, got.stderr
    want = json.loads((folder / "summary.json").read_text())["final_loss"]
    assert float(got.stdout.splitlines()[-1].removeprefix("final loss ")) == pytest.approx(want, rel=1e-4)


def test_embed_data_is_refused_past_its_size_and_for_a_generated_target(tmp_path, monkeypatch):
    from fitscope.core.store import export

    folder = _copy(tmp_path, "datafile")
    monkeypatch.chdir(tmp_path / "v1")
    monkeypatch.setattr(export, "EMBED_MAX_POINTS", 10)
    with pytest.raises(RunDirError, match=r"--embed-data: the run's data has 200 points; a script carries at most 10"):
        export.script(folder, embed_data=True)
    r = fitscope("export", "--embed-data", str(_copy(tmp_path, "single")))
    assert r.returncode == 2
    assert "generated target" in r.stderr


def test_a_data_file_run_records_its_scale_and_its_losses_in_the_datas_units(tmp_path):
    out = tmp_path / "d"
    assert fitscope("run", "--steps", "30", "--quiet", "--data", str(WAVE), "--out", str(out),
                    "--set", "train.device=cpu").returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    units = summary["data_units"]
    table = np.genfromtxt(WAVE, delimiter=",", skip_header=1)
    y = table[np.isfinite(table).all(axis=1), 1]  # the rows fitscope kept
    assert units["y_mean"] == pytest.approx(y.mean(), rel=1e-5)
    assert units["y_sd"] == pytest.approx(y.std(), rel=1e-5)
    assert units["final_loss"] == pytest.approx(summary["final_loss"] * units["y_sd"] ** 2, rel=1e-9)  # MSE: × sd²
    shown = fitscope("show", str(out)).stdout
    assert "in the data's units" in shown
    assert f"final loss {units['final_loss']:.5f}" in shown
