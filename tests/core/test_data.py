"""Sampling, noise, splits, mini-batches and your own files."""

from pathlib import Path

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core import config
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.data import file as datafile
from fitscope.core.data.dataset import generate
from fitscope.core.engine.run import Run
from fitscope.core.engine.training import Experiment, build
from fitscope.core.snapshot import State
from fitscope.core.spec import RunSpec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wave.csv"
CPU = FitConfig().with_value("train.device", "cpu")


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text,why", [
    ("", "the file is empty"),
    ("x,y\n", "header but no data rows"),
    ("x,y\n1,2\n3\n", "line 3: expected 2 columns (x, y), found 1"),
    ("1 2\n3 4 5\n", "line 2: expected 2 columns (x, y), found 3"),
    ("x,y\n1,2\n2,abc\n", "line 3: 'abc' in column 2 is not a number"),
    ("1,2\n", "only 1 data point"),
    ("x,y\n2,1\n2,5\n2,7\n", "all x values are equal (2)"),
    ("x,y\nnan,1\n1,nan\n", "no data points"),
])
def test_bad_files_name_the_line_and_the_problem(tmp_path, text, why):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        datafile.load(path)
    assert err.value.field == "data.file", str(err.value)
    assert why in str(err.value), str(err.value)


def test_missing_file_is_a_config_error_at_the_field():
    with pytest.raises(ConfigError, match="data.file.*no such file"):
        FitConfig().with_value("data.file", "/no/such/file.csv")


def test_csv_with_header_whitespace_and_nan_rows(tmp_path):
    x, y, notes = datafile.load(write(tmp_path, "x,y\n1,2\n2,4\nnan,5\n3,6\n"))
    assert list(x) == [1, 2, 3]
    assert list(y) == [2, 4, 6]
    assert notes == ("dropped 1 of 4 rows with NaN or infinite values",)
    x, y, notes = datafile.load(write(tmp_path, "0.5  1\n  1.5\t2\n\n2.5 3\n", "w.txt"))
    assert list(x) == [0.5, 1.5, 2.5]
    assert notes == ()


def test_npy_and_npz(tmp_path):
    a = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 5.0]])
    np.save(tmp_path / "d.npy", a)
    np.savez(tmp_path / "d.npz", x=a[:, 0], y=a[:, 1])
    for name in ("d.npy", "d.npz"):
        x, y, _ = datafile.load(str(tmp_path / name))
        assert list(y) == [1, 3, 5]
    np.savez(tmp_path / "bad.npz", a=a)
    with pytest.raises(ConfigError, match="no array named 'x'"):
        datafile.load(str(tmp_path / "bad.npz"))
    np.save(tmp_path / "bad.npy", np.zeros((3, 1)))
    with pytest.raises(ConfigError, match="shape \\(n, 2\\)"):
        datafile.load(str(tmp_path / "bad.npy"))
    np.save(tmp_path / "wide.npy", np.arange(9.0).reshape(3, 3))
    with pytest.raises(ConfigError, match="3 columns .*--x 0 --y 1"):
        datafile.load(str(tmp_path / "wide.npy"))
    x, y, _ = datafile.load(str(tmp_path / "wide.npy"), "2", "0")
    assert list(x) == [2, 5, 8]
    assert list(y) == [0, 3, 6]
    np.savez(tmp_path / "named.npz", t=a[:, 0], v=a[:, 1])
    x, y, _ = datafile.load(str(tmp_path / "named.npz"), "t", "v")
    assert list(y) == [1, 3, 5]
    with pytest.raises(ConfigError, match="data.y_column: 'w'.*it has: 't', 'v'"):
        datafile.load(str(tmp_path / "named.npz"), "t", "w")


def test_file_data_trains_standardised_and_draws_in_its_own_units():
    cfg = CPU.with_values({"data.file": str(FIXTURE), "data.split": "random", "train.optimizer": "adam",
                           "train.lr": 0.01, "model.hidden": "32,32", "model.activation": "tanh", "train.steps": 600})
    exp = Experiment(RunSpec(cfg))
    assert abs(float(exp.data.y_train.mean())) < 0.2
    assert abs(float(exp.data.y_train.std()) - 1) < 0.2
    view = exp.view
    assert view.truth is None
    assert 0 < view.x_range[0] < 0.1
    assert 9.9 < view.x_range[1] < 10
    assert len(view.x_train) == 160
    assert len(view.x_test) == 40
    assert any("dropped 2 of 202 rows" in n for n in view.notes)
    losses = exp.step(600)[:, 0]
    assert losses[-1] < 0.2 * losses[0]
    pred = exp.predict()
    assert pred.shape == (1, len(view.grid))
    assert 0.5 < pred.min()
    assert pred.max() < 6
    assert 1 < view.y_train.mean() < 5
    assert np.isfinite(exp.test_losses()).all()


def test_random_split_is_seeded_and_leaves_the_lesson_stream_alone():
    base = CPU.data
    a = generate(base.__class__(**{**base.__dict__, "split": "random"}))
    b = generate(base.__class__(**{**base.__dict__, "split": "random"}))
    assert torch.equal(a.x_test, b.x_test)
    assert len(a.x_test) == 60
    # the split has its own generator: weights drawn after the data are the lesson's
    (m_split,) = build(RunSpec(CPU.with_value("data.split", "random")))[1]
    (m_none,) = build(RunSpec(CPU))[1]
    assert torch.equal(m_split[0].weight, m_none[0].weight)


def test_extrapolation_split_holds_out_the_outer_range():
    ds = generate(CPU.with_values({"data.split": "extrapolate", "data.test_fraction": 0.2}).data)
    xt = ds.x_test.ravel()
    assert len(xt) == 60
    assert (xt.abs() > 0.8 - 1e-6).all()
    assert (ds.x_train.abs() <= 0.8 + 1e-6).all()


def test_extrapolation_shows_relu_goes_straight_and_tanh_flattens():
    """The README's story: outside the training range ReLU continues linearly, tanh saturates."""
    preds = {}
    for act in ("relu", "tanh"):
        cfg = CPU.with_values({"data.split": "extrapolate", "data.test_fraction": 0.4, "model.activation": act,
                               "model.hidden": "32,32", "train.optimizer": "adam", "train.lr": 0.01,
                               "train.steps": 1500})
        exp = Experiment(RunSpec(cfg))
        exp.step(1500)
        preds[act] = exp.predict()[0]
    g = Experiment(RunSpec(CPU)).view.grid
    left = g < -0.7  # the held-out left edge
    slope = {a: np.diff(p[left]) / np.diff(g[left]) for a, p in preds.items()}
    ratio = {a: abs(s[0]) / abs(s[-1]) for a, s in slope.items()}  # far edge vs edge of the data
    assert ratio["tanh"] < 0.6  # tanh flattens out
    assert ratio["relu"] > 0.7  # relu keeps going...
    changes = np.abs(np.diff(slope["relu"])) > 1e-3
    assert changes.mean() < 0.15  # ...in straight pieces: only a few units switch on out there


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_minibatches_are_seeded_and_bit_reproducible(kernels):
    cfg = CPU.with_values({"train.batch_size": 32, "train.steps": 50, "train.kernels": kernels})

    def losses(c):
        return Experiment(RunSpec(c)).step(50)[:, 0]

    a, b = losses(cfg), losses(cfg)
    np.testing.assert_array_equal(a, b)
    c = losses(cfg.with_value("data.seed", 1))
    assert not np.array_equal(a, c)
    full = losses(cfg.with_value("train.batch_size", 0))
    assert not np.array_equal(a, full)


@pytest.mark.parametrize("target", ["cubic", "sine", "abs", "step", "sawtooth", "gaussian", "sinc", "poly",
                                    "sin(3*x) + 0.3*x**2", "where(x > 0, x, 0)", "exp(-x**2)*cos(6*x)"])
def test_every_preset_and_some_formulas_train(target):
    cfg = CPU.with_values({"data.target": target, "train.optimizer": "adam", "train.lr": 0.01, "train.steps": 400})
    run = Run(RunSpec(cfg))
    run.apply(C.Start())
    while run.tick() is not None:
        pass
    snap = run.snapshot()
    loss = run.tracker.history(0).loss
    assert snap.state == State.DONE
    assert snap.step == 400
    assert len(loss) == 400
    assert np.isfinite(loss).all()
    assert loss[-1] < loss[0]
    assert np.isfinite(snap.lead.y_pred).all()
    assert snap.data.truth is not None


def test_random_sampling_and_gaussian_noise():
    d = generate(CPU.with_values({"data.sampling": "random", "data.noise": "gaussian", "data.noise_level": 0.1}).data)
    x = d.x_train.ravel()
    assert len(x) == 300
    assert x.min() >= -1
    assert x.max() <= 1
    assert not torch.all(x[1:] >= x[:-1])
    resid = d.y_train - (d.x_train**3 - d.x_train**2)
    assert 0.07 < float(resid.std()) < 0.13


PANDAS = ",x,y\n0,0.5,1.0\n1,1.5,2.0\n2,2.5,4.0\n"
WIDE = "time,temp,pressure\n1,10,100\n2,20,400\n3,30,900\n"
COLUMNS = [  # file text, x_column, y_column -> (x, y, names) or a fragment of the refusal
    (PANDAS, "", "", ([0.5, 1.5, 2.5], [1, 2, 4], ("x", "y"))),  # pandas' to_csv: refused before #22
    (PANDAS.replace(",x", "Unnamed: 0,x", 1), "", "", ([0.5, 1.5, 2.5], [1, 2, 4], ("x", "y"))),
    (",x,y\na,0.5,1.0\nb,1.5,2.0\n", "", "", ([0.5, 1.5], [1, 2], ("x", "y"))),  # an index of names
    ("x y\n0 0.5 1\n1 1.5 2\n", "", "", ([0.5, 1.5], [1, 2], ("x", "y"))),  # its index unnamed, by spaces
    ("a,x,y\n1,2,3\n4,5,6\n", "", "", ([2, 5], [3, 6], ("x", "y"))),  # columns named x and y
    (WIDE, "time", "pressure", ([1, 2, 3], [100, 400, 900], ("time", "pressure"))),
    (WIDE, "0", "1", ([1, 2, 3], [10, 20, 30], ("time", "temp"))),
    (WIDE, "TEMP", "time", ([10, 20, 30], [1, 2, 3], ("temp", "time"))),  # any case, when only one matches
    (PANDAS, "", "x", ([1, 2, 4], [0.5, 1.5, 2.5], ("y", "x"))),  # one given: the other is the one left
    ("1 2 3\n4 5 6\n", "2", "0", ([3, 6], [1, 4], ("", ""))),
    (WIDE, "", "", "it has 3 columns (0 'time', 1 'temp', 2 'pressure'); pick two with --x NAME --y NAME"),
    (WIDE, "time", "", "it has 3 columns (0 'time', 1 'temp', 2 'pressure'); pick two"),
    ("1 2 3\n4 5 6\n", "", "", "3 columns (no header: columns 0 to 2); pick two by 0-based index, e.g. --x 0 --y 1"),
    (WIDE, "tme", "temp", "data.x_column: 'tme' is not valid — no column of that name: the file has 0 'time', 1 'temp'"),
    (WIDE, "time", "3", "data.y_column: '3' is not valid — no column 3: the file has 0 'time', 1 'temp', 2 'pressure'"),
    (WIDE, "temp", "1", "data.y_column: '1' is not valid — the same column as data.x_column"),
    (",x,y\na,0.5,1.0\nb,1.5\n", "", "", "line 3: expected 3 columns, as the first row, found 2"),
    ("t,v\n1,2\n3,x\n", "", "", "line 3: 'x' in column 2 is not a number"),
]


@pytest.mark.parametrize(("text", "xc", "yc", "expected"), COLUMNS)
def test_columns_picked_by_name_index_or_when_unambiguous(tmp_path, text, xc, yc, expected):
    path = write(tmp_path, text, "d.csv")
    if isinstance(expected, str):
        with pytest.raises(ConfigError) as info:
            datafile.read(path, xc, yc)
        assert expected in str(info.value)
        return
    table = datafile.read(path, xc, yc)
    assert list(table.x) == expected[0]
    assert list(table.y) == expected[1]
    assert (table.x_name, table.y_name) == expected[2]
    wide = len(text.splitlines()[1].split("," if "," in text else None)) > 2
    assert any("x, y = columns" in n for n in table.notes) == wide  # a wider file says which it took


@pytest.mark.parametrize(("raw", "expected"), [(2, "2"), ("  temp ", "temp"), ("", ""), ("0", "0")])
def test_column_settings_take_a_name_or_an_index(raw, expected):
    assert config.coerce("data.x_column", raw) == expected


@pytest.mark.parametrize("raw", [-1, "-1", True, 1.5, ["x"], "a\x1bb", "n" * 201])
def test_a_bad_column_setting_names_the_field_and_what_is_allowed(raw):
    with pytest.raises(ConfigError, match="data.y_column: .* column name .* 0-based column index"):
        config.coerce("data.y_column", raw)


def test_the_columns_go_through_toml_and_train_from_a_wide_file(tmp_path):
    path = write(tmp_path, WIDE + "4,40,1600\n5,50,2500\n", "w.csv")
    cfg = CPU.with_values({"data.file": path, "data.x_column": "time", "data.y_column": 2})
    again = config.from_toml(config.to_toml(cfg))
    assert (again.data.x_column, again.data.y_column) == ("time", "2")
    exp = Experiment(RunSpec(again))
    assert exp.view.x_range == (1.0, 5.0)
    assert (exp.view.x_name, exp.view.y_name) == ("time", "pressure")
    assert float(exp.view.y_train.max()) == pytest.approx(2500)
