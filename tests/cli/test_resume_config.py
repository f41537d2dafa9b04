"""A saved run resumes (or opens in the app) with its own config.toml's settings: one that this
machine refuses is named as the file's — the file, the field, the value and what is allowed."""

import pytest
from test_cli import fitscope
from test_crafted_folders import one_line, rewrite

from support.devices import absent_cuda


@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "r"
    assert fitscope("run", "--steps", "5", "--quiet", "--out", str(out), "--set", "train.device=cpu").returncode == 0
    return out


def crafted(folder, old: str, new: str) -> None:
    text = (folder / "config.toml").read_text()
    assert old in text
    rewrite(folder, "config.toml", text.replace(old, new).encode())


@pytest.mark.parametrize("args", [["run", "--resume", "{r}", "--steps", "9", "--quiet"], ["{r}"]])
def test_a_device_this_machine_lacks_names_the_runs_config_toml(folder, monkeypatch, args):
    monkeypatch.setattr("fitscope.tui.precheck.nvidia", lambda: False)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("fitscope.tui.app.run_app", lambda *a, **k: pytest.fail("the app opened"))
    device = absent_cuda()
    crafted(folder, 'device = "cpu"', f'device = "{device}"')
    r = fitscope(*[a.format(r=folder) for a in args])
    one_line(r)
    assert r.stderr.startswith(f"fitscope: {folder / 'config.toml'}: train.device: '{device}' is not valid — not "
                               "available on this machine; available: auto")


def test_a_memory_limit_the_run_passes_names_the_runs_config_toml(folder):
    crafted(folder, "memory_limit = 0.0", "memory_limit = 0.0001")
    r = fitscope("run", "--resume", str(folder), "--steps", "9", "--quiet")
    one_line(r)
    assert r.stderr.startswith(f"fitscope: {folder / 'config.toml'}: the run needs ~")
    assert "the limit is 100 kB (train.memory_limit)" in r.stderr
