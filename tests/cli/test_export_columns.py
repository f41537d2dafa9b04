"""An export of a run on a wide data file reads the columns the run picked (``--x``/``--y`` or
``data.x_column``/``data.y_column``), with ``--embed-data`` and without, and its script runs in
another folder."""

import json
import subprocess
import sys

import numpy as np
import pytest
from test_cli import ENV, fitscope

AUTOGRAD = ["--set", "train.device=cpu", "--set", "train.kernels=autograd", "--steps", "40", "--quiet"]


def wide_csv(path):
    """A names column (text), a noise column, then x and y: the first two numeric columns are not x, y."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 120)
    y = np.sin(2 * x) + 0.1 * rng.normal(size=x.size)
    rows = [f"p{i},{rng.normal():.6f},{a:.6f},{b:.6f}" for i, (a, b) in enumerate(zip(x, y))]
    path.write_text("name,noise,x_in,y_out\n" + "\n".join(rows) + "\n")
    return path


def wide_npy(path):
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, 120)
    np.save(path, np.column_stack([np.cos(3 * x), rng.normal(size=x.size), x]))  # y in 0, x in 2
    return path


def final(out: str) -> float:
    return float(out.splitlines()[-1].removeprefix("final loss "))


def run_script(text, where, *args):
    (where / "fit.py").write_text(text)
    return subprocess.run([sys.executable, "fit.py", *args], cwd=where, capture_output=True, text=True,
                          timeout=300, env={**ENV, "MPLBACKEND": "Agg"})


@pytest.mark.parametrize("how", ["flags", "config", "npy"])
def test_the_exported_script_trains_on_the_runs_columns(tmp_path, how):
    work = tmp_path / "work"
    work.mkdir()
    if how == "npy":
        data, pick = wide_npy(work / "wide.npy"), ["--x", "2", "--y", "0"]
    elif how == "flags":
        data, pick = wide_csv(work / "wide.csv"), ["--x", "x_in", "--y", "y_out"]
    else:
        data, pick = wide_csv(work / "wide.csv"), ["--set", "data.x_column=x_in", "--set", "data.y_column=3"]
    r = fitscope("run", "--data", data.name, *pick, *AUTOGRAD, "--out", "r", cwd=work)
    assert r.returncode == 0, r.stderr
    want = json.loads((work / "r" / "summary.json").read_text())["final_loss"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args, where in (([], work), ([], elsewhere), (["--embed-data"], elsewhere)):
        e = fitscope("export", *args, "r", cwd=work)
        assert e.returncode == 0, e.stderr
        got = run_script(e.stdout, where)  # elsewhere: the relative data file is not there, found where it was
        assert got.returncode == 0, got.stderr
        assert final(got.stdout) == pytest.approx(want, rel=1e-6), (args, where)


def test_the_script_takes_the_data_files_path_and_names_it_when_missing(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    wide_csv(work / "wide.csv")
    assert fitscope("run", "--data", "wide.csv", "--x", "x_in", "--y", "y_out", *AUTOGRAD, "--out", "r",
                    cwd=work).returncode == 0
    text = fitscope("export", "r", cwd=work).stdout
    moved = tmp_path / "moved.csv"
    (work / "wide.csv").rename(moved)
    missing = run_script(text, tmp_path)
    assert missing.returncode == 1
    assert "needs the run's data file wide.csv" in missing.stderr
    assert "python fit.py PATH" in missing.stderr
    given = run_script(text, tmp_path, str(moved))
    assert given.returncode == 0, given.stderr
    want = json.loads((work / "r" / "summary.json").read_text())["final_loss"]
    assert final(given.stdout) == pytest.approx(want, rel=1e-6)


def test_a_data_file_run_exports_from_another_folder(tmp_path):
    """Its config's relative data.file was checked against the current folder: `no such file`."""
    work = tmp_path / "work"
    work.mkdir()
    wide_csv(work / "wide.csv")
    assert fitscope("run", "--data", "wide.csv", "--x", "x_in", "--y", "y_out", *AUTOGRAD, "--out", "r",
                    cwd=work).returncode == 0
    e = fitscope("export", str(work / "r"), cwd=tmp_path)
    assert e.returncode == 0, e.stderr
    assert f"DATA_FILE = {str(work / 'wide.csv')!r}" in e.stdout
    got = run_script(e.stdout, tmp_path)
    assert got.returncode == 0, got.stderr
    assert final(got.stdout) == pytest.approx(json.loads((work / "r" / "summary.json").read_text())["final_loss"],
                                              rel=1e-6)
