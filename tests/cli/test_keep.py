"""Keep and share an experiment from the command line: run folders, runs/show, resume, export."""

import json
import re
import subprocess
import sys

import pytest
from test_cli import ENV, SAVED, fitscope

from support import metrics
from support.oracle import NUDGES, assert_final_within_rounding, lesson_losses


def final_loss(folder) -> float:
    return json.loads((folder / "summary.json").read_text())["final_loss"]


def test_a_headless_run_is_kept_under_runs_unless_no_save(tmp_path):
    r = fitscope("run", "--steps", "20", "--quiet", "--set", "train.device=cpu", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"\d{8}-\d{6}-cubic-relu", folder.name)
    assert sorted(p.name for p in folder.iterdir()) == SAVED
    r = fitscope("compare", "--steps", "10", "--quiet", "--no-save", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 1  # nothing new


def test_out_refuses_a_folder_that_holds_a_run_unless_force(tmp_path):
    out = tmp_path / "keep"
    assert fitscope("run", "--steps", "10", "--quiet", "--out", str(out)).returncode == 0
    before = (out / "summary.json").read_text()
    r = fitscope("run", "--steps", "12", "--quiet", "--out", str(out))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.strip() == f"fitscope: --out {out}: this folder already holds a run — choose a new folder, " \
                               "or add --force to replace it"
    assert (out / "summary.json").read_text() == before
    r = fitscope("run", "--steps", "12", "--quiet", "--out", str(out), "--force")
    assert r.returncode == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 12


@pytest.mark.parametrize("where,why", [
    ("file", "not a folder (it is a file)"),
    ("/proc/1/fitscope-out", "cannot write there"),  # not even root may make a folder there
])
def test_an_unusable_out_is_refused_at_once(tmp_path, where, why):
    out = tmp_path / "o"
    if where == "file":
        out.write_text("x")
    else:
        out = where
    r = fitscope("run", "--steps", "300000", "--out", str(out))
    assert r.returncode == 2
    assert why in r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr


def test_an_out_under_a_file_is_refused_at_once(tmp_path):
    (tmp_path / "f").write_text("x")
    r = fitscope("compare", "--steps", "300000", "--out", str(tmp_path / "f" / "sub"))
    assert r.returncode == 2
    assert "--out" in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_runs_lists_newest_first_and_show_prints_summary_and_chart(tmp_path):
    base = tmp_path / "runs"
    assert fitscope("run", "--steps", "30", "--quiet", "--out", str(base / "first")).returncode == 0
    assert fitscope("compare", "--steps", "20", "--quiet", "--out", str(base / "second")).returncode == 0
    (base / "junk").mkdir()  # a folder that is not a run is skipped
    r = fitscope("runs", str(base))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["name", "date", "target", "net", "members", "steps", "final", "loss", "test", "loss",
                                "of", "member"]
    assert lines[2].split()[0] == "second"
    assert lines[3].split()[0] == "first"
    assert len(lines) == 4
    assert lines[2].split()[-5:-3] == ["3", "20"]
    assert lines[2].split()[-1] in ("relu", "softplus", "tanh")  # the member the race's losses are of
    assert lines[3].split()[-4:-2] == ["1", "30"]  # a single run names no member
    r = fitscope("show", str(base / "first"))
    assert r.returncode == 0, r.stderr
    assert "Loss=" in r.stdout
    assert "30 of 30 steps" in r.stdout
    assert "final loss" in r.stdout
    assert "versions: python" in r.stdout
    r = fitscope("show", str(base / "second"))
    assert "race of 3 members varying model.activation" in r.stdout
    assert "softplus" in r.stdout
    r = fitscope("runs", str(tmp_path / "nowhere"))
    assert r.returncode == 2
    assert "no such folder" in r.stderr


def test_resume_trains_the_remaining_steps_into_the_same_folder(tmp_path):
    out = tmp_path / "r"
    assert fitscope("run", "--steps", "120", "--quiet", "--out", str(out), "--set", "train.device=cpu").returncode == 0
    r = fitscope("run", "--resume", str(out), "--steps", "300", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "300 steps" in r.stdout
    rows = metrics.rows(out)
    assert [int(row["step"]) for row in rows] == list(range(1, 301))
    whole = tmp_path / "whole"
    assert fitscope("run", "--quiet", "--out", str(whole), "--set", "train.device=cpu").returncode == 0
    assert final_loss(out) == final_loss(whole)  # bit for bit: 120 + 180 steps = 300 steps
    assert [r["train_loss"] for r in rows] == metrics.column(whole, "train_loss")


@pytest.mark.parametrize("args,first", [
    (["--steps", "50"], "--steps 50: .* has trained 120 steps already — give a larger total"),
    (["--steps", "120"], "--steps 120: .* has trained 120 steps already — give a larger total"),
    (["--set", "train.lr=0.1"], "a resumed run keeps its own settings"),
])
def test_resume_refusals_are_one_line(tmp_path, args, first):
    out = tmp_path / "r"
    assert fitscope("run", "--steps", "120", "--quiet", "--out", str(out)).returncode == 0
    r = fitscope("run", "--resume", str(out), *args, "--quiet")
    assert r.returncode == 2, r.stderr
    assert re.search(first, r.stderr), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_resume_of_something_that_is_not_a_run_is_one_line(tmp_path):
    r = fitscope("run", "--resume", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == f"fitscope: {tmp_path}: no saved run here (no run.json)"
    (tmp_path / "run.json").write_text("[1, 2")
    r = fitscope("run", "--resume", str(tmp_path))
    assert r.returncode == 2
    assert "run.json: unreadable" in r.stderr
    assert "Traceback" not in r.stderr


def run_script(path) -> list[str]:
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                       env={**ENV, "MPLBACKEND": "Agg"})
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@pytest.mark.parametrize("kernels", ["autograd", "fast"])
def test_an_exported_script_reproduces_the_runs_final_loss(tmp_path, kernels):
    out = tmp_path / "r"
    r = fitscope("run", "--quiet", "--out", str(out), "--set", f"train.kernels={kernels}", "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    r = fitscope("export", str(out))
    assert r.returncode == 0, r.stderr
    assert "fitscope" not in "".join(line for line in r.stdout.splitlines() if line.startswith(("import", "from")))
    (tmp_path / "fit.py").write_text(r.stdout)
    lines = run_script(tmp_path / "fit.py")
    assert len([line for line in lines if line.startswith("step ")]) == 10  # every 10 %
    loss = float(lines[-1].removeprefix("final loss "))
    if kernels == "autograd":  # the lesson's own loop both sides
        assert loss == pytest.approx(final_loss(out), rel=1e-6)
    else:  # the script is the lesson's loop: the fast kernels follow it by the oracle's rule
        assert_final_within_rounding(final_loss(out), loss, lambda: [
            lesson_losses(0, "relu", nudged=k)[-1] for k in NUDGES])


def test_an_exported_race_with_a_split_and_mini_batches_runs_each_variant(tmp_path):
    out = tmp_path / "race"
    r = fitscope("compare", "--quiet", "--out", str(out), "--steps", "60", "--vary", "train.optimizer=sgd,adam",
                 "--set", "train.kernels=autograd", "--set", "train.batch_size=50", "--set", "data.split=random",
                 "--set", "train.device=cpu", "--set", "train.lr=0.05")
    assert r.returncode == 0, r.stderr
    (tmp_path / "race.py").write_text(fitscope("export", str(out)).stdout)
    lines = run_script(tmp_path / "race.py")
    got = {line.split(":")[0]: float(line.split()[-1]) for line in lines if ": final loss" in line}
    summary = json.loads((out / "summary.json").read_text())
    want = {m["label"]: m["final_loss"] for m in summary["per_member"]}
    assert got.keys() == want.keys() == {"sgd", "adam"}
    for label in want:
        assert got[label] == pytest.approx(want[label], rel=1e-6)


def test_fitscope_run_opens_the_app_on_a_saved_run(tmp_path, monkeypatch):
    from fitscope.tui import app as app_mod
    from fitscope.tui import cli

    out = tmp_path / "r"
    assert fitscope("run", "--steps", "10", "--quiet", "--out", str(out)).returncode == 0
    opened = []
    monkeypatch.setattr(app_mod, "run_app", lambda spec, engine, open_run=None: opened.append(open_run) or 0)
    assert cli.main([str(out)]) == 0
    assert opened == [str(out)]
    assert cli.main([str(tmp_path)]) == 2  # a folder that holds no run: one line, no app


def test_a_locked_destination_saves_the_run_elsewhere_and_says_so(tmp_path, monkeypatch, capsys):
    from fitscope.core.store import folder as rundir
    from fitscope.tui import cli

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "busy"
    out.mkdir()
    with rundir.locked(out):  # another fitscope saving into it at that moment
        code = cli.main(["run", "--steps", "20", "--quiet", "--out", str(out), "--set", "train.device=cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert "another fitscope is saving into this folder" in err
    (elsewhere,) = (tmp_path / "runs").iterdir()
    assert f"saved it to runs/{elsewhere.name}" in err
    assert json.loads((elsewhere / "summary.json").read_text())[
        "steps"] == 20


@pytest.mark.parametrize("setup,args,first", [
    (lambda t: (t / "runs").write_text("x"), ["run", "--steps", "300000"], "fitscope: ./runs: not a folder"),
    (lambda t: None, ["run", "--out", ""], "fitscope: --out: an empty name"),
    (lambda t: (t / "dangling").symlink_to(t / "nowhere"), ["run", "--out", "dangling"],
     "fitscope: --out dangling: a broken symbolic link"),
    (lambda t: None, ["show", "x" * 300], "the name is too long"),
    (lambda t: None, ["export", "x" * 300], "the name is too long"),
    (lambda t: None, ["runs", "x" * 300], "the name is too long"),
    (lambda t: (t / "afile").write_text("x"), ["runs", "afile"], "fitscope: afile: not a folder (it is a file)"),
    (lambda t: None, ["runs/typo"], "fitscope: runs/typo: no such folder"),
    (lambda t: None, ["run", "--resume", "y" * 300], "the name is too long"),
])
def test_unusable_places_are_one_line_and_exit_2_at_once(tmp_path, setup, args, first):
    setup(tmp_path)
    r = fitscope(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "", (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(first) if first.startswith("fitscope") else first in lines[0], lines


def test_resume_into_its_own_folder_with_out_and_a_diverged_run_is_refused(tmp_path):
    out = tmp_path / "r"
    assert fitscope("run", "--steps", "20", "--quiet", "--out", str(out)).returncode == 0
    r = fitscope("run", "--resume", str(out), "--out", str(out), "--steps", "30", "--quiet")
    assert r.returncode == 0, r.stderr
    dv = tmp_path / "dv"
    assert fitscope("run", "--steps", "100", "--quiet", "--out", str(dv), "--set", "train.lr=60").returncode == 3
    before = (dv / "config.toml").read_text()
    r = fitscope("run", "--resume", str(dv), "--steps", "200", "--quiet")
    assert r.returncode == 2
    assert "the run diverged at step 4; there is nothing to continue" in r.stderr
    assert (dv / "config.toml").read_text() == before  # its budget is not rewritten


def test_runs_names_what_it_cannot_read_and_escapes_odd_names(tmp_path):
    base = tmp_path / "runs"
    assert fitscope("run", "--steps", "5", "--quiet", "--out", str(base / "odd\nname")).returncode == 0
    (base / "broken").mkdir()
    (base / "broken" / "run.json").write_text("{")
    r = fitscope("runs", str(base))
    assert r.returncode == 0
    assert "odd?name" in r.stdout
    assert "odd\nname" not in r.stdout
    assert "not readable: broken: unreadable" in r.stdout


def test_damaged_folders_are_named_one_line_each_never_hang_or_crash(tmp_path):
    """A FIFO index hung `runs`/`show`, a deeply nested one raised RecursionError, a huge pid
    OverflowError, a file linked to /dev/zero filled memory."""
    import os

    base = tmp_path / "runs"
    assert fitscope("run", "--steps", "5", "--quiet", "--out", str(base / "good")).returncode == 0
    for name in ("fifo", "deep", "pid", "zero"):
        (base / name).mkdir()
    os.mkfifo(base / "fifo" / "run.json")
    (base / "deep" / "run.json").write_text("[" * 100_000)
    (base / "pid" / "run.json").write_text(json.dumps({"format": 1, "files": {}, "state": "reserved",
                                                       "pid": 10**20}))
    import shutil
    shutil.copytree(base / "good", base / "zero", dirs_exist_ok=True)
    (base / "zero" / "summary.json").unlink()
    (base / "zero" / "summary.json").symlink_to("/dev/zero")
    r = fitscope("runs", str(base))
    assert r.returncode == 0, r.stderr
    assert "good" in r.stdout, r.stderr
    for name, why in (("fifo", "not a regular file"), ("deep", "nested too deeply")):
        assert f"not readable: {name}" in r.stdout
        assert why in r.stdout
    for name, why in (("fifo", "not a regular file"), ("deep", "nested too deeply"), ("pid", "no saved run here"),
                      ("zero", "a symbolic link")):
        r = fitscope("show", str(base / name))
        assert r.returncode == 2, (name, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (name, r.stderr)
        assert why in r.stderr, (name, r.stderr)


def test_out_never_replaces_a_users_own_files_of_a_saves_names_without_force(tmp_path):
    """An existing folder that is not a run had its metrics.csv and checkpoint.pt replaced silently."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.csv").write_text("my precious results\n")
    (out / "notes.txt").write_text("kept\n")
    r = fitscope("run", "--steps", "10", "--quiet", "--out", str(out))
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"fitscope: --out {out}: it holds metrics.csv, which a save would replace — choose a new folder, "
        "or add --force to replace them")
    assert (out / "metrics.csv").read_text() == "my precious results\n"
    assert fitscope("run", "--steps", "10", "--quiet", "--out", str(tmp_path / "new")).returncode == 0  # a new folder
    assert fitscope("run", "--steps", "10", "--quiet", "--out", str(out), "--force").returncode == 0
    assert (out / "notes.txt").read_text() == "kept\n"


def test_resume_needs_the_data_it_trained_on_and_finds_it_from_another_folder(tmp_path):
    """A changed data file was resumed on silently (other data, the same weights); a relative
    data.file resumed from another folder was not found."""
    work = tmp_path / "work"
    work.mkdir()
    rng = __import__("numpy").random.default_rng(0)
    x = rng.uniform(-1, 1, 200)
    (work / "pts.csv").write_text("x,y\n" + "".join(f"{a:.6f},{a ** 3:.6f}\n" for a in x))
    r = fitscope("run", "--steps", "40", "--quiet", "--out", "r", "--data", "pts.csv", "--set", "train.device=cpu",
                 cwd=work)
    assert r.returncode == 0, r.stderr
    # from another folder: the relative path is not there, the file it trained on is
    r = fitscope("run", "--resume", str(work / "r"), "--steps", "60", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((work / "r" / "summary.json").read_text())["steps"] == 60
    # the data changed since: refused in one line, the run as it was
    (work / "pts.csv").write_text("x,y\n" + "".join(f"{a:.6f},{a ** 2:.6f}\n" for a in x))
    for where in (work, tmp_path):
        r = fitscope("run", "--resume", str(work / "r"), "--steps", "80", "--quiet", cwd=where)
        assert r.returncode == 2
        assert r.stdout == ""
        assert r.stderr.strip() == (f"fitscope: {work / 'pts.csv'}: not the data this run trained on (the file "
                                    "changed since the save); put the original back to resume it") or (
            where == work and r.stderr.strip().startswith("fitscope: pts.csv: not the data")), r.stderr
    assert json.loads((work / "r" / "summary.json").read_text())["steps"] == 60
    assert fitscope("export", str(work / "r"), cwd=work).returncode == 0  # a script of it: still
