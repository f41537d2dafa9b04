import contextlib
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import torch

from support import metrics
from support.devices import absent_cuda
from support.oracle import assert_printed_lesson_loss

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "NO_COLOR": "1"}  # the package is installed: nothing on the path
WORK = Path(tempfile.mkdtemp(prefix="fitscope-cli-"))  # where runs/ lands when a test does not say
SAVED = ["checkpoint.pt", "config.toml", "fit.csv", "fit.txt", "metrics.csv", "run.json", "summary.json",
         "timeline.npz"]


def fitscope(*args, cwd=WORK) -> subprocess.CompletedProcess:
    """The command line's own main() in this process, as the installed script runs it (a process
    of its own would spend ~1.5 s importing torch each time; the tests of signals, of the script
    itself and of memory limits start one)."""
    from fitscope.tui import cli

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse's --help and refusals
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_run_trains_writes_files_and_plain_progress(tmp_path):
    r = fitscope("run", "--out", str(tmp_path / "run"), "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    progress = [line for line in r.stdout.splitlines() if line.startswith("step ")]
    assert len(progress) == 10
    assert progress[-1].startswith("step 300/300")
    # the lesson's number only through the oracle: another CPU rounds this run its own way
    final = re.search(r"final loss (\d\.\d{5}) ", r.stdout)
    assert final is not None, r.stdout
    assert "300 steps" in r.stdout, r.stdout
    assert "cpu" in r.stdout, r.stdout
    assert_printed_lesson_loss(final[1])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert f"{summary['final_loss']:.5f}" == final[1]  # what is printed is what is kept
    assert f"Loss={summary['final_loss']:.4f}" in r.stdout  # the final chart, as the lesson titles it
    assert ("saved config.toml, metrics.csv, checkpoint.pt, fit.csv, fit.txt, summary.json, timeline.npz, run.json "
            f"to {tmp_path / 'run'}") in r.stdout
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == SAVED
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,member,variant,seed,train_loss,test_loss,lr,seconds")
    assert len(lines) == 301
    assert f"Loss={summary['final_loss']:.4f}" in (tmp_path / "run" / "fit.txt").read_text()  # the chart, as text
    import torch

    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["exp"]["members"][0]["model"]["0.weight"].shape == (10, 1)
    # the written config runs again as a --config
    r2 = fitscope("run", "--quiet", "--config", str(tmp_path / "run" / "config.toml"), "--steps", "5")
    assert r2.returncode == 0
    assert "5 steps" in r2.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--set", "model.hidden=[0]"], "model.hidden: '[0]'"),
    (["--set", "train.lr=-1"], "train.lr: '-1'"),
    (["--set", "data.points=abc"], "data.points: 'abc'"),
    (["--set", "nope.key=1"], "unknown setting"),
    (["--set", "train.lr"], "KEY=VALUE"),
    (["--set", f"train.device={absent_cuda()}"], "train.device"),
    (["--config", "/does/not/exist.toml"], "no such file"),
    (["--steps", "zero"], "invalid int value"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args, fragment):
    r = fitscope("run", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr


def test_divergence_exits_3():
    r = fitscope("run", "--set", "train.lr=60", "--quiet")
    assert r.returncode == 3
    assert "diverged at step" in r.stderr


def test_ctrl_c_exits_130_after_writing_results(tmp_path):
    out = tmp_path / "run"
    steps = 500_000  # off a terminal, a progress line every 10 %: the first at step 50,000, and 90 % to go
    p = subprocess.Popen([sys.executable, "-m", "fitscope.tui.cli", "run", "--steps", str(steps), "--out", str(out)],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in p.stdout] + [lines.put(None)], daemon=True)
    reader.start()
    try:
        while True:  # until training is under way, however long torch takes to load on this machine
            line = lines.get(timeout=300)
            assert line is not None, f"the run ended before its first progress line: {p.wait()} {p.stderr.read()}"
            if line.startswith("step "):
                break
        p.send_signal(signal.SIGINT)
        code = p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    reader.join(10)
    stderr = p.stderr.read()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    at = int(stderr.split("interrupted at step ")[1].split()[0])
    assert steps // 10 <= at < steps  # stopped mid-run, after the first line
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,member,variant,seed,train_loss,test_loss,lr,seconds")
    assert len(rows) > 10
    assert int(rows[-1].split(",")[0]) == at  # the results as they were when it stopped
    assert sorted(p.name for p in out.iterdir()) == SAVED


def test_help_explains_options_with_defaults():
    r = fitscope("run", "--help")
    assert r.returncode == 0
    for option in ("--config", "--set", "--steps", "--out", "--quiet"):
        assert option in r.stdout
    assert "default" in r.stdout
    top = fitscope("--help")
    assert "run" in top.stdout
    assert "bench" in top.stdout


def test_the_installed_fitscope_script_runs():
    script = Path(sys.executable).with_name("fitscope")  # the console script, beside this interpreter
    r = subprocess.run([str(script), "run", "--quiet", "--no-save", "--steps", "5", "--set", "train.device=cpu"],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "5 steps" in r.stdout


def test_bench_json_reports_the_ratio():
    r = fitscope("bench", "--json", "--rounds", "1", "--quick", "--set", "train.steps=300")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    for key in ("engine_steps_per_s", "bare_steps_per_s", "ratio"):
        assert result[key] > 0
    assert abs(result["ratio"] - result["engine_steps_per_s"] / result["bare_steps_per_s"]) < 0.01
    for net in ("lesson", "big"):  # the engine against its own bare stepping, min ≤ median ≤ max
        s = result["engine_vs_stepping"][net]
        assert 0 < s["min"] <= s["median"] <= s["max"]
    comp = result["compiled"]  # torch.compile against fast per net, and the compile cold and warm
    for net in ("lesson", "big", "large"):
        assert comp[net]["compiled"] is True
        for key in ("fast_steps_per_s", "compiled_steps_per_s", "compiled_vs_fast"):
            assert 0 < comp[net][key]["min"] <= comp[net][key]["median"] <= comp[net][key]["max"]
    for when in ("cold", "warm"):
        assert comp["compile_s"][when]["min"] > 0


def test_bench_startup_times_fresh_processes():
    """Its timed app ran as a code string that named a helper it could not see: exit 1, a traceback."""
    r = fitscope("bench", "--startup", "--json", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert 0 < result["first_frame_s"]
    assert 0 < result["import_torch_s"]


def test_bench_compare_prices_mixing_against_the_activations_raced_apart():
    r = fitscope("bench", "--compare", "3", "--json", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    apart = result["one_activation_steps_per_s"]
    assert set(apart) == {"relu", "softplus", "tanh"}
    assert min(apart.values()) > 0
    # one member of each: the unmixed step is the mean of the three steps' times
    expected = sum(1 / v for v in apart.values()) / 3
    assert result["mixed_vs_its_activations_apart"] == pytest.approx(
        result["mixed_activation_steps_per_s"] * expected, rel=0.01)
    text = fitscope("bench", "--compare", "2", "--rounds", "1")
    assert "of its activations raced apart" in text.stdout


FIXTURE = ROOT / "tests" / "fixtures" / "wave.csv"


def test_own_csv_trains_with_a_split_and_says_what_it_dropped(tmp_path):
    r = fitscope("run", "--data", str(FIXTURE), "--set", "data.split=random", "--set", "train.optimizer=adam",
                 "--set", "train.lr=0.01", "--steps", "300", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    assert "dropped 2 of 202 rows" in r.stderr
    assert "wave.csv" in r.stdout
    assert "test=" in r.stdout
    assert "test loss" in r.stdout
    assert "x" in r.stdout.split("Loss=")[1]  # test points drawn with their own marker
    rows = metrics.rows(tmp_path / "r")
    assert rows[-1]["test_loss"] != ""  # the test loss at the last step


def test_bad_csv_is_one_line_naming_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    r = fitscope("run", "--data", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "line 3: 'oops' in column 2 is not a number" in r.stderr


@pytest.mark.parametrize("target", ["sine", "step", "sinc", "sin(3*x) + 0.3*x**2", "where(x > 0, x, 0)"])
def test_presets_and_formulas_from_the_command_line(target):
    r = fitscope("run", "--quiet", "--set", f"data.target={target}", "--steps", "50")
    assert r.returncode == 0, r.stderr
    assert "50 steps" in r.stdout


def test_rejected_formula_points_at_the_column():
    r = fitscope("run", "--set", "data.target=sin(x) + y")
    assert r.returncode == 2
    assert "unknown name 'y' at column 10" in r.stderr


def test_compare_prints_chart_table_and_writes_csv(tmp_path):
    r = fitscope("compare", "--vary", "model.activation=relu,tanh", "--vary", "train.lr=0.05,0.2",
                 "--seeds", "2", "--steps", "50", "--out", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    assert "racing 8 members (4 variants × 2 seeds)" in r.stdout
    table = r.stdout[r.stdout.index("variant"):]
    for variant in ("relu 0.05", "relu 0.2", "tanh 0.05", "tanh 0.2"):
        assert variant in table
    assert "median" in table
    assert "min" in table
    assert "max" in table
    rows = metrics.rows(tmp_path / "c")
    assert len(rows) == 8 * 50
    assert {(r["member"], r["variant"], r["seed"]) for r in rows} >= {("relu 0.05 s0", "relu 0.05", "0"),
                                                                     ("tanh 0.2 s1", "tanh 0.2", "1")}


@pytest.mark.parametrize("args,why", [
    (["--vary", "model.activation="], "none empty"),
    (["--vary", "model.activation=relu,relu"], "lists relu twice"),
    (["--vary", "model.activation=relu,swish"], "expected one of"),
    (["--vary", "train.lr=0.1,0.2,0.3,0.4,0.5,0.6,0.7", "--seeds", "10"], "at most 64 members"),
    (["--vary", "data.points=10,20"], "can vary"),
    (["--vary", "model.activation"], "KEY=V1,V2"),
])
def test_compare_bad_lists_are_one_line_exit_2(args, why):
    r = fitscope("compare", *args)
    assert r.returncode == 2, r.stderr
    assert why in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_demo_tells_the_whole_story():
    r = fitscope("demo")
    assert r.returncode == 0, r.stderr
    assert "1/2" in r.stdout
    assert "2/2" in r.stdout
    final = re.search(r"final loss (\d\.\d{5}) ", r.stdout)
    assert final is not None, r.stdout
    assert_printed_lesson_loss(final[1])
    assert "racing 15 members (3 variants × 5 seeds)" in r.stdout
    assert "Best activation by median final loss:" in r.stdout


def test_vary_opens_the_app_straight_into_that_race(monkeypatch):
    from fitscope.tui import app as app_mod
    from fitscope.tui import cli

    opened = []
    monkeypatch.setattr(app_mod, "run_app", lambda spec, engine, open_run=None: opened.append(spec) or 0)
    assert cli.main(["--vary", "train.lr=0.05,0.2", "--vary", "model.activation=relu,tanh", "--seeds", "2"]) == 0
    (spec,) = opened
    assert spec.count() == 8
    assert spec.varied == {"train.lr": (0.05, 0.2), "model.activation": ("relu", "tanh")}
    assert cli.main([]) == 0
    assert not opened[1].racing


@pytest.mark.parametrize("args,first", [
    (["--vary", "train.lr=1,2", "--seeds", "40"], "fitscope: compare: 80 is not valid — a race has at most 64"),
    (["--seeds", "x"], "fitscope: seeds: 'x' is not valid — expected a whole number from 1 to 64"),
    (["--vary", "train.lr=0.1"], "fitscope: --vary: 'train.lr=0.1' is not valid — a race needs at least 2 members"),
])
def test_a_bad_race_for_the_app_is_one_line_and_exit_2(args, first):
    r = fitscope(*args)
    assert r.returncode == 2
    assert r.stderr.startswith(first)
    assert "Traceback" not in r.stderr


def test_a_race_whose_members_all_diverge_in_a_variant_still_prints_chart_and_table():
    r = fitscope("compare", "--vary", "train.lr=1,2", "--seeds", "2", "--steps", "50", "--set", "train.device=cpu")
    assert r.returncode == 0
    assert "Traceback" not in r.stderr
    assert re.search(r"\(2 failed: diverged @\d+, diverged @\d+\)", r.stdout)
    assert "┬" in r.stdout


GPU = torch.cuda.is_available()


def test_bench_device_cuda_without_cuda_says_so_and_exits_0():
    if GPU:  # a GPU box measures instead
        r = fitscope("bench", "--device", "cuda", "--json", "--rounds", "1")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["cuda"] is True
        return
    r = fitscope("bench", "--device", "cuda")
    assert r.returncode == 0
    assert r.stdout.startswith("no CUDA device on this machine")
    assert not r.stderr
    r = fitscope("bench", "--device", "cuda", "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["cuda"] is False


@pytest.mark.parametrize("device", ["cuda" if not GPU else absent_cuda(), absent_cuda(), "mps"])
def test_the_app_refuses_a_device_this_machine_lacks_before_it_opens(device, monkeypatch):
    """It opened on an engine that could not start, and R restarted it into the same refusal."""
    monkeypatch.setattr("fitscope.tui.precheck.nvidia", lambda: False)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("fitscope.tui.app.run_app", lambda *a, **k: pytest.fail("the app opened"))
    r = fitscope("--set", f"train.device={device}")
    assert r.returncode == 2
    assert r.stderr.strip().startswith(f"fitscope: train.device: '{device}' is not valid — not available on this "
                                       "machine; available: auto, cpu")
    r = fitscope("--set", f"train.device={device}", "--vary", "train.lr=0.1,0.2")  # a race there: the same
    assert r.returncode == 2
    assert "not available on this machine" in r.stderr


def test_device_auto_falls_back_to_the_cpu_with_a_notice_and_cuda_is_a_clear_error():
    r = fitscope("run", "--steps", "5", "--no-save", "--quiet")  # train.device is auto by default
    assert r.returncode == 0
    assert ("· cpu (auto: a small net, faster on the CPU) ·" if GPU else "· cpu (auto: no GPU found) ·") in r.stdout
    absent = absent_cuda() if GPU else "cuda"
    r = fitscope("run", "--steps", "5", "--no-save", "--set", f"train.device={absent}")
    assert r.returncode == 2
    assert r.stderr.strip().startswith(f"fitscope: train.device: '{absent}' is not valid — not available on this "
                                       "machine; available: auto, cpu")
