"""Hostile input, table-driven: each case is a command line (and the files it needs) → the exit
code and the first line of the message; never a traceback, never a numpy warning."""

import os
import resource
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_cli import ENV


def _files(tmp):
    """The hostile files the table names."""
    (tmp / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (tmp / "utf16.toml").write_bytes("[train]\nlr = 0.1\n".encode("utf-16"))
    (tmp / "latin1.toml").write_bytes("[data]\ntarget = \"caf\xe9\"\n".encode("latin-1"))
    (tmp / "deep.toml").write_text("x = " + "[" * 500 + "]" * 500 + "\n")
    (tmp / "big.toml").write_text("# " + "x" * (1 << 20) + "\n")
    os.mkfifo(tmp / "fifo")
    (tmp / "big_x.csv").write_text("x,y\n1,2\n1e39,3\n")
    (tmp / "big_y.csv").write_text("x,y\n1,2\n2,1e300\n")
    (tmp / "comment.csv").write_text("# my points\n" + "".join(f"{i / 10},{i * i / 100}\n" for i in range(20)))
    (tmp / "under.csv").write_text("x,y\n1,2\n1_000,3\n")
    xy = np.linspace(-1, 1, 50)
    np.savez(tmp / "real.npz", x=xy, y=xy ** 2)
    os.replace(tmp / "real.npz", tmp / "npz_named.npy")
    np.save(tmp / "real.npy", np.stack([xy, xy ** 3], 1))
    os.replace(tmp / "real.npy", tmp / "npy_named.npz")
    np.savez(tmp / "whole.npz", x=xy, y=xy)
    data = (tmp / "whole.npz").read_bytes()
    (tmp / "truncated.npz").write_bytes(data[: len(data) // 2])
    (tmp / "fake.npz").write_bytes(b"PK\x03\x04" + b"not a zip at all" * 10)
    with zipfile.ZipFile(tmp / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:  # 100 MB of zeros, ~100 kB here
        z.writestr("x.npy", b"\0" * 100_000_000)
        z.writestr("y.npy", b"\0" * 10)
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2000000, 2), }"
    header += b" " * (63 - len(header) % 64) + b"\n"
    (tmp / "tall.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64)
    (tmp / "afile").write_text("x")
    (tmp / "bom.toml").write_bytes(b"\xef\xbb\xbf[train]\nlr = 0.1\n")
    (tmp / "utf16.csv").write_bytes("x,y\n1,2\n2,3\n".encode("utf-16"))


HUGE = ["--set", "data.points=1000000", "--set", "model.hidden=1024,1024,1024,1024,1024,1024,1024,1024"]
CASES = [
    # fitscope serve: its own options, then the app's, checked before anything listens
    (["serve", "--port", "0"], 2, "fitscope: --port: '0' is not valid — expected a whole number from 1 to 65535"),
    (["serve", "--port", "65536"], 2, "fitscope: --port: '65536' is not valid"),
    (["serve", "--port", "http"], 2, "fitscope: --port: 'http' is not valid"),
    (["serve", "--port", "８０００"], 2, "fitscope: --port: '８０００' is not valid"),
    (["serve", "--port"], 2, "fitscope serve: error: argument --port: expected one argument"),
    (["serve", "--host", "bad host"], 2, "fitscope: --host: 'bad host' is not valid — not an address or name"),
    (["serve", "--host", ""], 2, "fitscope: --host: '' is not valid"),
    (["serve", "run"], 2, "fitscope: serve: 'run' is not valid — serve runs the app"),
    (["serve", "--config", "binary.toml"], 2, "fitscope: --config: 'binary.toml' is not valid — not UTF-8 text"),
    (["serve", "--vary", "model.activation=relu,nope"], 2, "fitscope: model.activation: 'nope' is not valid"),
    (["serve", "--bogus"], 2, "fitscope: error: unrecognized arguments: --bogus"),
    (["--steps", "5", "serve"], 2, "fitscope: --steps: '5' is not valid — given before serve, which takes no --steps"),
    # config files: regular, at most 1 MB, UTF-8 TOML
    (["run", "--config", "binary.toml"], 2, "fitscope: --config: 'binary.toml' is not valid — not UTF-8 text"),
    (["run", "--config", "utf16.toml"], 2, "it is UTF-16 text; save it as UTF-8 TOML"),
    (["run", "--config", "latin1.toml"], 2, "not UTF-8 text"),
    (["run", "--config", "deep.toml"], 2, "nested too deeply"),
    (["run", "--config", "big.toml"], 2, "a config file is at most 1 MB"),
    (["run", "--config", "/dev/zero"], 2, "it is a device, not a file"),
    (["run", "--config", "fifo"], 2, "it is a FIFO (a pipe), not a file"),
    (["run", "--config", "."], 2, "it is a folder, not a file"),
    # data files: what they are, their size and range, their format from their first bytes
    (["run", "--data", "x" * 300 + ".csv"], 2, "the name is too long"),
    (["run", "--data", "fifo"], 2, "data.file: 'fifo' is not valid — it is a FIFO (a pipe), not a file"),
    (["run", "--data", "/dev/null"], 2, "it is a device, not a file"),
    (["run", "--data", "big_x.csv"], 2, "row 2: x = 1e+39 is beyond the range fitscope trains in"),
    (["run", "--data", "big_y.csv"], 2, "row 2: y = 1e+300 is beyond the range"),
    (["run", "--data", "comment.csv", "--steps", "5", "--quiet"], 0, "wait"),
    (["run", "--data", "under.csv"], 2, "line 3: '1_000' in column 1 is not a number"),
    (["run", "--data", "npz_named.npy", "--steps", "5", "--quiet"], 0, "wait"),
    (["run", "--data", "npy_named.npz", "--steps", "5", "--quiet"], 0, "wait"),
    (["run", "--data", "truncated.npz"], 2, "not a readable .npz file"),
    (["run", "--data", "fake.npz"], 2, "not a readable .npz file"),
    (["run", "--data", "bomb.npz"], 2,
     "fitscope: data.file: 'bomb.npz' is not valid — x would expand to 100 MB; at most 1,000,000 values"),
    (["run", "--data", "tall.npy"], 2,
     "fitscope: data.file: 'tall.npy' is not valid — the array has 2,000,000 rows; at most 1,000,000"),
    (["run", "--data", "no\x1bsuch.csv"], 2, "data.file: 'no\\x1bsuch.csv' is not valid — no such file"),
    # the app: what its engine would refuse at start is refused before it opens
    (["--data", "big_x.csv"], 2, "fitscope: data.file: 'big_x.csv' is not valid — row 2: x = 1e+39"),
    (["--set", "train.memory_limit=0.001", "--set", "train.device=cpu"], 2, "fitscope: the run needs ~"),
    (["--config", "binary.toml"], 2, "not UTF-8 text"),
    # what a user types
    (["run", "--set", "="], 2, "fitscope: --set: '=' is not valid — expected KEY=VALUE"),
    (["run", "--set", "train.steps=١٠"], 2, "fitscope: train.steps: '١٠' is not valid"),
    (["run", "--steps", "١٠"], 2, "invalid int value: '١٠'"),
    (["run", "--config", "bom.toml", "--steps", "5", "--quiet", "--no-save"], 0, "a BOM from an editor is fine"),
    (["run", "--data", "utf16.csv"], 2, "it is UTF-16 or binary, not text"),
    (["run", "--set", "train.lr=٠.١"], 2, "fitscope: train.lr: '٠.١' is not valid"),
    (["run", "--set", "train.lr=-1"], 2, "train.lr: '-1' is not valid"),
    (["run", "--set", "model.hidden=[0]"], 2, "model.hidden: '[0]' is not valid"),
    (["run", "--set", "data.target=__import__('os')"], 2, "data.target"),
    # sizes: refused before anything is allocated
    (["run", "--steps", "1", *HUGE], 2, "fitscope: the run needs ~230.1 GB for 1,000,000 points × 8 layers of 1,024"),
    (["compare", "--steps", "1", "--vary", "model.activation=relu,tanh", "--seeds", "32", "--set",
      "data.points=1000000", "--set", "model.hidden=1024", "--no-save"], 2, "fitscope: the run needs ~1.8 TB"),
    (["run", "--steps", "1", "--set", "train.memory_limit=0.001"], 2, "the limit is 1 MB (train.memory_limit)"),
    (["compare", "--vary", "train.lr=" + ",".join(str(i / 1000) for i in range(1, 1001))], 2, "at most 64 members"),
    (["compare", "--vary", "train.lr=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "--vary",
      "model.activation=relu,tanh,softplus,elu,gelu,silu,sigmoid,identity"], 2, "a race has at most 64 members"),
    (["bench", "--load", "-5"], 2, "fitscope: --load: -5 is not valid — expected a row count from 1 to 1,000,000"),
    (["bench", "--load", "10000000000"], 2, "--load: 10000000000 is not valid"),
    # where results go: checked before training
    (["run", "--out", "afile", "--steps", "300000"], 2, "fitscope: --out afile: not a folder (it is a file)"),
    (["compare", "--out", "afile", "--steps", "300000"], 2, "fitscope: --out afile: not a folder"),
    (["run", "--out", "afile/sub", "--steps", "300000"], 2, "fitscope: --out afile/sub: under a file, not a folder"),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    _files(folder)
    return folder


@pytest.mark.parametrize("args,code,first", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_hostile_input_is_one_clear_line(hostile, args, code, first, monkeypatch, capsys):
    """In this process (the command line's own main(), as the installed script runs it): any
    traceback would fail the test; the RLIMIT tests below run it in a subprocess."""
    from fitscope.tui import cli

    monkeypatch.chdir(hostile)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got = cli.main(args)
        except SystemExit as exc:  # argparse's own refusals
            got = exc.code
    out, err = capsys.readouterr()
    assert got == code, (got, err[-2000:])
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert "\x1b" not in err + out
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, lines
        assert first in lines[0], lines
    else:
        assert "final loss" in out


def _two_gb():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("args", [
    ["run", "--steps", "1", "--no-save", *HUGE],
    ["compare", "--steps", "1", "--no-save", "--vary", "model.activation=relu,tanh", "--seeds", "32", "--set",
     "data.points=1000000", "--set", "model.hidden=1024"],
    ["run", "--steps", "1", "--no-save", "--set", "data.points=1000000", "--set", "model.hidden=512,512"],
], ids=["8x1024", "race64", "512x512"])
def test_an_oversized_run_is_refused_before_it_allocates(args):
    """In 2 GB of address space an allocation past the budget would fail with MemoryError (or be
    killed): the budget line must come first."""
    r = subprocess.run([sys.executable, "-m", "fitscope.tui.cli", *args], env=ENV, capture_output=True, text=True,
                       timeout=300, preexec_fn=_two_gb)
    assert r.returncode == 2, r.stderr[-2000:]
    line = r.stderr.strip()
    assert line.startswith("fitscope: the run needs ~")
    assert "the limit is" in line
    assert "\n" not in line
    assert "MemoryError" not in r.stderr
    assert "Traceback" not in r.stderr


def test_a_training_error_is_reported_as_itself_with_exit_1(monkeypatch, capsys):
    from fitscope.core.engine.training import Experiment
    from fitscope.tui import cli

    def fail(self, n):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(Experiment, "step", fail)
    assert cli.main(["run", "--no-save", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == "fitscope: error: RuntimeError: CUDA error: an illegal memory access was encountered\n"


def test_a_run_started_with_its_output_closed_still_saves(tmp_path):
    """`fitscope run >&-` ended in an AttributeError on isatty, saved nothing and left a reserved folder."""
    out = tmp_path / "r"
    r = subprocess.run(["bash", "-c", f'"{sys.executable}" -m fitscope.tui.cli run --steps 5 --out "{out}" '
                                      '--set train.device=cpu >&- 2>&-'], env=ENV, timeout=120)
    assert r.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["checkpoint.pt", "config.toml", "fit.csv", "fit.txt", "metrics.csv", "run.json", "summary.json",
         "timeline.npz"])


def test_a_refused_out_run_leaves_no_folder_behind(tmp_path):
    """A run refused after --out was reserved (here: its data file unreadable as data) left a
    folder holding only the reservation."""
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")  # one point: refused when the data is read
    out = tmp_path / "new" / "r"
    from test_cli import fitscope

    r = fitscope("run", "--steps", "3", "--out", str(out), "--data", str(tmp_path / "bad.csv"), "--set",
                 "train.device=cpu")
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_messages_say_what_is_true():
    from fitscope.core.engine.run import steps_refusal
    from fitscope.core.store import folder as rundir

    assert "e.g. --steps 100000000" in steps_refusal(10, "r", 60_000_000)  # not a total --steps refuses
    assert "the most a run may have" in steps_refusal(10, "r", 100_000_000)
    with pytest.raises(rundir.RunDirError) as exc:
        rundir.check_writable(Path("/proc/version"), "./runs")
    assert "./runs runs" not in str(exc.value)
    assert str(exc.value).startswith("./runs: ")


def test_disk_space_figures_never_read_the_same(tmp_path, monkeypatch):
    """"needs 1.1 MB, 1.1 MB free" said nothing: when the rounded figures match, bytes are given."""
    import shutil

    from fitscope.core.store import folder as rundir

    files = {"a.txt": b"x" * 100}
    need = 100 + rundir.MARGIN
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - need + 10, need - 10))
    with pytest.raises(rundir.RunDirError) as exc:
        rundir.commit(tmp_path / "run", files, {})
    assert f"needs {need:,} bytes, {need - 10:,} bytes free" in str(exc.value)


def test_a_read_only_file_system_is_named_as_such(tmp_path, monkeypatch):
    import errno

    from fitscope.core.store import folder as rundir

    def read_only(*args, **kw):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(rundir.tempfile, "mkstemp", read_only)
    with pytest.raises(rundir.RunDirError, match=r"cannot save there \(a read-only file system\)"):
        rundir.check_writable(tmp_path / "runs", "./runs")


def test_the_charts_size_is_the_terminals_own_not_what_columns_says(monkeypatch):
    """COLUMNS=100000 drew a fit chart 100,000 columns wide."""
    import fcntl
    import struct
    import termios

    from fitscope.tui.headless import terminal_size

    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        monkeypatch.setenv("COLUMNS", "100000")
        monkeypatch.setenv("LINES", "5")
        with os.fdopen(os.dup(slave), "w") as tty:
            assert terminal_size(tty) == (100, 30)
    finally:
        os.close(master)
        os.close(slave)


def test_a_refused_nested_out_leaves_none_of_the_folders_it_made(tmp_path):
    from test_cli import fitscope

    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
    r = fitscope("run", "--steps", "3", "--out", str(tmp_path / "refused" / "a" / "b"), "--data",
                 str(tmp_path / "bad.csv"), "--set", "train.device=cpu")
    assert r.returncode == 2
    assert not (tmp_path / "refused").exists()
