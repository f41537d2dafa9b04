"""`fitscope plot`: saved runs drawn with matplotlib, checked from the figure's objects (axes, lines,
titles), not from pixels; its refusals are one line and exit 2."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import fitscope

pytest.importorskip("matplotlib")  # the [test] extra installs it; the refusal without it is tested below

from fitscope.tui import figures, plot_cmd  # noqa: E402

WAVE = Path(__file__).resolve().parents[1] / "fixtures" / "wave.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Short saved runs made by the project's own commands: a single run, a 3-activation race of 2
    seeds, a run on a data file with a random split, and an lr race whose lr 60 members diverge."""
    base = tmp_path_factory.mktemp("runs")
    cpu = ("--set", "train.device=cpu", "--quiet")
    made = [
        ("run", "--steps", "20", "--out", str(base / "single"), *cpu),
        ("compare", "--steps", "20", "--seeds", "2", "--out", str(base / "race"), *cpu),
        ("run", "--steps", "20", "--data", str(WAVE), "--set", "data.split=random", "--out", str(base / "file"), *cpu),
        ("compare", "--steps", "30", "--vary", "train.lr=0.2,60", "--seeds", "2", "--out", str(base / "lr"), *cpu),
    ]
    for args in made:
        r = fitscope(*args, cwd=base)
        assert r.returncode in (0, 3), (args, r.stderr)
    return base


def drawn(runs: Path, *names: str, loss: bool = False):
    return figures.figure([plot_cmd.load(str(runs / n)) for n in names], loss)


def fit_lines(ax) -> list:
    return [line for line in ax.get_lines() if line.get_linestyle() == "-"]


def test_a_single_run_is_one_panel_of_data_truth_and_fit(runs):
    fig = drawn(runs, "single")
    (ax,) = fig.axes
    assert len(ax.collections) == 1  # the data, one scatter (no split)
    assert [line.get_linestyle() for line in ax.get_lines()] == ["--", "-"]  # the truth, then the fit
    assert ax.get_title().startswith("final loss 0.")
    assert "cubic" in fig.get_suptitle()
    assert "20 steps" in fig.get_suptitle()
    x, y = ax.get_lines()[1].get_data()
    assert len(x) == len(y) > 100  # the fit on the saved grid


def test_a_race_is_a_panel_per_variant_with_its_median_bold_and_seeds_faint(runs):
    fig = drawn(runs, "race")
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split(" · ")[0] for t in titles] == ["relu", "softplus", "tanh"]  # the lesson's order
    assert all("final loss" in t and "(median of 2)" in t for t in titles)
    for ax in fig.axes:
        fits = fit_lines(ax)
        assert len(fits) == 2  # one per seed
        widths = sorted(line.get_linewidth() for line in fits)
        assert widths[1] > 2 * widths[0]  # the median bold, the other seed faint
        assert min(line.get_alpha() or 1.0 for line in fits) < 0.5


def test_the_titles_final_loss_is_the_median_members(runs):
    import json

    summary = json.loads((runs / "race" / "summary.json").read_text())
    relu = sorted(m["final_loss"] for m in summary["per_member"] if m["variant"] == "relu")
    fig = drawn(runs, "race")
    shown = float(fig.axes[0].get_title().split("final loss ")[1].split()[0])
    assert shown == pytest.approx(relu[len(relu) // 2], rel=1e-3)  # of two seeds: the upper one, as compare ranks


def test_a_split_draws_the_test_points_apart_and_a_file_has_no_truth(runs):
    fig = drawn(runs, "file")
    (ax,) = fig.axes
    assert len(ax.collections) == 2  # train and test points
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["train", "test"]
    assert all(line.get_linestyle() != "--" for line in ax.get_lines())  # no truth for a file
    train, test = (c.get_offsets() for c in ax.collections)
    assert len(test) == pytest.approx(0.2 * (len(train) + len(test)), abs=1)  # test_fraction 0.2
    assert "test " in ax.get_title()
    from fitscope.core.data import file as datafile

    x, _, _ = datafile.load(str(WAVE))
    drawn_x = np.sort(np.concatenate([train[:, 0], test[:, 0]]))
    assert np.allclose(drawn_x, np.sort(x), rtol=1e-5, atol=1e-6)  # every point, in the file's units (float32)


def test_loss_adds_a_log_panel_under_each_fit_with_failed_members_marked(runs):
    fig = drawn(runs, "lr", loss=True)
    assert len(fig.axes) == 4  # 2 variants × (fit, loss)
    fit_ok, fit_bad, loss_ok, loss_bad = fig.axes[0], fig.axes[2], fig.axes[1], fig.axes[3]
    assert fit_ok.get_title().startswith("lr 0.2 · final loss")
    assert fit_bad.get_title().startswith("lr 60 · diverged @")
    assert not fit_lines(fit_bad)  # a diverged fit is no curve
    assert "every member diverged" in fit_bad.texts[0].get_text()
    assert loss_ok.get_yscale() == loss_bad.get_yscale() == "log"
    marks = [line for line in loss_bad.get_lines() if line.get_marker() == "x"]
    assert len(marks) == 2
    assert all("diverged @" in line.get_label() for line in marks)
    assert not [line for line in loss_ok.get_lines() if line.get_marker() == "x"]
    assert len(loss_ok.get_lines()) == 2  # a curve per seed
    assert "failed members marked" in loss_bad.get_title()


def test_several_runs_side_by_side_name_each_panel(runs):
    fig = drawn(runs, "single", "race")
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("single: final loss")
    assert fig.axes[1].get_title().startswith("race: relu")


MAGIC = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}


@pytest.mark.parametrize("names, ext", [(names, ext) for names in (("single",), ("race",), ("file",))
                                        for ext in (".png", ".svg")] + [(("race", "file"), ".pdf")])
def test_the_command_writes_png_svg_and_pdf(runs, tmp_path, names, ext):
    out = tmp_path / f"fig{ext}"
    r = fitscope("plot", *(str(runs / n) for n in names), "-o", str(out), "--loss")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote {out}"
    assert out.read_bytes().startswith(MAGIC[ext])


def test_without_o_it_writes_a_free_name_here_and_prints_it(runs, tmp_path):
    first = fitscope("plot", str(runs / "single"), cwd=tmp_path)
    second = fitscope("plot", str(runs / "single"), cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert first.stdout.strip() == "wrote fitscope-single.png"
    assert second.stdout.strip() == "wrote fitscope-single-2.png"  # never over the first
    assert (tmp_path / "fitscope-single.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "fitscope-single-2.png").exists()


def test_without_matplotlib_it_names_the_extra_in_one_line(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    r = fitscope("plot", str(runs / "single"), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1
    assert 'pip install -e ".[plot]"' in r.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("make, args, says", [
    (lambda t: (t / "notrun").mkdir(), ["notrun"], "fitscope: notrun: no saved run here"),
    (lambda t: None, ["nowhere"], "fitscope: nowhere: "),
    (lambda t: None, ["{run}", "-o", "fig.jpg"], "fitscope: -o: 'fig.jpg' is not valid — the figure's file name must "
                                                 "end in .png, .svg, .pdf"),
    (lambda t: None, ["{run}", "-o", "fig"], "'fig' is not valid — the figure's file name must end in"),
    (lambda t: None, ["{run}", "-o", "no/fig.png"], "'no/fig.png' is not valid — its folder no does not exist"),
    (lambda t: (t / "f").write_text("x"), ["{run}", "-o", "f/fig.png"], "its folder f: not a folder (it is a file)"),
    (lambda t: (t / "d.png").mkdir(), ["{run}", "-o", "d.png"], "'d.png' is not valid — it is a folder"),
    (lambda t: None, ["{run}", "-o", "a\0.png"], "-o: 'a\\x00.png' is not valid — a file name holds no NUL"),
    (lambda t: None, ["{run}", "-o", "/proc/fig.png"], "fitscope: /proc/fig.png: cannot write the figure ("),  # even as root
])
def test_refusals_are_one_line_naming_the_value_exit_2(runs, tmp_path, make, args, says):
    make(tmp_path)
    r = fitscope("plot", *(a.format(run=runs / "single") for a in args), cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert says in r.stderr
    assert not list(tmp_path.glob("fitscope-*"))


def test_a_run_whose_data_file_is_gone_is_drawn_without_its_data(runs, tmp_path):
    import shutil

    data = tmp_path / "wave.csv"
    shutil.copy(WAVE, data)
    r = fitscope("run", "--steps", "5", "--quiet", "--data", str(data), "--set", "train.device=cpu",
                 "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    data.unlink()
    run = plot_cmd.load(str(tmp_path / "r"))
    assert run.data is None
    assert any("the data is not drawn" in n and "wave.csv" in n for n in run.notes)
    (ax,) = figures.figure([run], False).axes
    assert not ax.collections
    assert len(fit_lines(ax)) == 1


def test_the_data_drawn_is_the_data_the_run_trained_on():
    from fitscope.core.config import FitConfig
    from fitscope.core.data import dataset as data
    from fitscope.core.engine import training
    from fitscope.core.spec import RunSpec

    cfg = FitConfig().with_values({"data.split": "random", "data.seed": 3, "data.sampling": "random"})
    dataset, _ = training.build(RunSpec(cfg))
    view = data.drawn(cfg.data)
    assert np.array_equal(view.x_train, dataset.x_train.double().numpy().ravel())
    assert np.array_equal(view.y_test, dataset.y_test.double().numpy().ravel())


def test_the_app_and_the_command_line_never_import_matplotlib_at_start():
    code = ("import sys, fitscope.tui.cli, fitscope.tui.app, fitscope.tui.runs_view; "
            "sys.exit('matplotlib' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
