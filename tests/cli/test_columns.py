"""Two columns of a wider CSV: --x/--y on run, compare and the app; a saved run keeps the choice (#22)."""

from test_cli import fitscope

PANDAS = ",x,y\n" + "".join(f"{i},{i / 10:.2f},{(i / 10) ** 2:.3f}\n" for i in range(40))
WIDE = "time,temp,pressure\n" + "".join(f"{i},{i * 0.5:.2f},{(i % 7) * 1.5:.2f}\n" for i in range(40))


def test_a_pandas_csv_with_its_index_column_trains(tmp_path):
    (tmp_path / "p.csv").write_text(PANDAS)
    r = fitscope("run", "--data", str(tmp_path / "p.csv"), "--steps", "20", "--no-save")
    assert r.returncode == 0, r.stderr
    assert "x, y = columns 'x' and 'y' of 3" in r.stderr


def test_x_and_y_pick_columns_and_a_resumed_run_keeps_them(tmp_path):
    (tmp_path / "w.csv").write_text(WIDE)
    r = fitscope("run", "--data", str(tmp_path / "w.csv"), "--steps", "20", "--no-save")
    assert r.returncode == 2
    assert r.stderr.startswith("fitscope: data.file: ")
    assert r.stderr.strip().endswith("w.csv' is not valid — it has 3 columns (0 'time', 1 'temp', 2 'pressure'); "
                                     "pick two with --x NAME --y NAME (data.x_column, data.y_column: names or "
                                     "0-based indexes)")
    r = fitscope("run", "--data", str(tmp_path / "w.csv"), "--x", "time", "--y", "2", "--steps", "20",
                 "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    saved = (tmp_path / "r" / "config.toml").read_text()
    assert 'x_column = "time"' in saved
    assert 'y_column = "2"' in saved
    r = fitscope("run", "--resume", str(tmp_path / "r"), "--steps", "30")
    assert r.returncode == 0, r.stderr  # without the columns the file would be refused as above
    assert "30 steps" in r.stdout
    assert 'y_column = "2"' in (tmp_path / "r" / "config.toml").read_text()


def test_a_bad_column_names_the_field_the_value_and_the_columns(tmp_path):
    (tmp_path / "w.csv").write_text(WIDE)
    for args, first in (
        (["--x", "tme", "--y", "temp"], "fitscope: data.x_column: 'tme' is not valid — no column of that name: "
                                        "the file has 0 'time', 1 'temp', 2 'pressure'"),
        (["--x", "time", "--y", "5"], "fitscope: data.y_column: '5' is not valid — no column 5: the file has"),
        (["--x", "-1"], "fitscope: data.x_column: '-1' is not valid — expected a column name"),
    ):
        for command in ("run", "compare"):
            extra = ["--vary", "train.lr=0.1,0.2"] if command == "compare" else []
            r = fitscope(command, "--data", str(tmp_path / "w.csv"), *args, *extra, "--steps", "5", "--no-save")
            assert r.returncode == 2, (command, args, r.stderr)
            assert r.stderr.startswith(first), (command, args, r.stderr)
            assert "Traceback" not in r.stderr
    r = fitscope("run", "--y", "temp", "--steps", "5", "--no-save")
    assert r.returncode == 2
    assert r.stderr.startswith("fitscope: --y: 'temp' is not valid — picks a column of a data file: give --data FILE")


def test_the_app_entry_takes_x_and_y(monkeypatch, tmp_path):
    from fitscope.tui import app as app_mod
    from fitscope.tui import cli

    (tmp_path / "w.csv").write_text(WIDE)
    opened = []
    monkeypatch.setattr(app_mod, "run_app", lambda spec, engine, open_run=None: opened.append(spec) or 0)
    assert cli.main(["--data", str(tmp_path / "w.csv"), "--x", "temp", "--y", "pressure"]) == 0
    assert (opened[0].base.data.x_column, opened[0].base.data.y_column) == ("temp", "pressure")
    assert cli.main(["--data", str(tmp_path / "w.csv")]) == 2  # refused before the app opens, in one line
