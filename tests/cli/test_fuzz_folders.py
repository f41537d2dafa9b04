"""A fuzz test of run folders: a saved single run and a saved race, each file mutated field by field,
read by every command that reads a run. Each case must end in one line (exit 2) or a clean
success, never a traceback, within a time bound, and leave the folder as it was unless a resume
succeeded (then it holds a whole new save).

Seeded: CI runs the same cases every time. FITSCOPE_FUZZ=N runs N cases instead of the default
(FITSCOPE_FUZZ_SEED picks another draw)."""

import hashlib
import json
import os
import random
import re
import shutil
import time

import pytest
from test_cli import fitscope

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine.run import Run
from fitscope.core.snapshot import State
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import reference
from fitscope.tui import plot_cmd

CASES = int(os.environ.get("FITSCOPE_FUZZ", "48"))
SEED = int(os.environ.get("FITSCOPE_FUZZ_SEED", "20261202"))
BOUND_S = 30.0  # per command; a read of a crafted file is bounded by its size limit, not by luck


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    single, race = base / "single", base / "race"
    r = fitscope("run", "--steps", "4", "--quiet", "--out", str(single), "--set", "train.device=cpu",
                 "--set", "data.points=40")
    assert r.returncode == 0, r.stderr
    r = fitscope("compare", "--steps", "4", "--quiet", "--out", str(race), "--vary", "model.activation=relu,tanh",
                 "--set", "train.device=cpu", "--set", "data.points=40", "--set", "data.split=random")
    assert r.returncode == 0, r.stderr
    return {"single": single, "race": race}


VALUES = ["", "x", "\x00", "\x1b[2J\x07", [], {}, None, True, -1, 1e308, "9" * 5000, "deep"]


def _json_mutations(data):
    paths = [(k,) for k in data] + [("per_member", 0, k) for k in (data.get("per_member") or [{}])[0]] + \
        [("listing", k) for k in (data.get("listing") or {})] + [("files", k) for k in (data.get("files") or {})]
    for path in paths:
        for value in VALUES:
            yield ("set", path, value)
        yield ("delete", path, None)
    yield ("set", ("extra_key",), 1)


def _apply_json(text: str, op, path, value) -> str:
    data = json.loads(text)
    node = data
    for key in path[:-1]:
        node = node[key]
    if op == "delete":
        del node[path[-1]]
    elif value == "deep":
        node[path[-1]] = "DEEP"
    elif value == "9" * 5000:
        node[path[-1]] = "HUGE"
    else:
        node[path[-1]] = value
    out = json.dumps(data)
    return out.replace('"DEEP"', "[" * 100_000 + "]" * 100_000).replace('"HUGE"', "9" * 5000)


def _text_mutations(text: str):
    lines = text.splitlines()
    for i, line in enumerate(lines[:40]):
        for repl in ("", "\x00", "9" * 5000, "[" * 100_000, "\x1b]0;t\x07", line + ",extra", line[: len(line) // 2]):
            yield ("line", i, repl)
        if "=" in line:
            key = line.split("=")[0]
            for v in ('"x"', "[]", "{}", "-1", "9" * 5000, '"\\u0000"', "true"):
                yield ("line", i, f"{key}= {v}")


def _bytes_mutations(size: int):
    for frac in (0, 0.1, 0.5, 0.9, 0.999):
        yield ("truncate", int(size * frac), None)
    for frac in (0, 0.01, 0.3, 0.6, 0.99):
        yield ("flip", int(size * frac), None)


def all_cases(saved):
    cases = []
    for kind, folder in saved.items():
        for name in sorted(p.name for p in folder.iterdir()):
            data = (folder / name).read_bytes()
            muts = list(_bytes_mutations(len(data)))
            if name.endswith(".json"):
                muts += list(_json_mutations(json.loads(data)))
            elif name.endswith((".toml", ".csv", ".txt")):
                muts += list(_text_mutations(data.decode()))
            for fix in (True, False) if name != rundir.INDEX else (False,):
                cases += [(kind, name, m, fix) for m in muts if fix or name == rundir.INDEX or m[0] in ("truncate", "flip")]
    return cases


def mutate(folder, name: str, mutation, fix_hash: bool) -> None:
    path = folder / name
    data = path.read_bytes()
    op, where, value = mutation
    if op == "truncate":
        data = data[:where]
    elif op == "flip":
        data = data[:where] + bytes([data[where] ^ 0x5A]) + data[where + 1:] if data else data
    elif op == "line":
        lines = data.decode().split("\n")
        lines[where] = value
        data = "\n".join(lines).encode()
    else:
        data = _apply_json(data.decode(), op, where, value).encode()
    path.write_bytes(data)
    if fix_hash and name != rundir.INDEX:
        index = json.loads((folder / rundir.INDEX).read_text())
        index["files"][name] = hashlib.sha256(data).hexdigest()
        (folder / rundir.INDEX).write_text(json.dumps(index))


def contents(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def assert_one_line_or_success(r, what):
    lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("fitscope: note:")]
    assert "Traceback" not in r.stderr, (what, r.stderr)
    if r.returncode == 0:
        return
    assert r.returncode == 2, (what, r.returncode, r.stderr)
    assert len(lines) == 1, (what, r.returncode, r.stderr)
    assert lines[0].startswith("fitscope: "), (what, r.returncode, r.stderr)


def timed(fn, what):
    start = time.monotonic()
    out = fn()
    assert time.monotonic() - start < BOUND_S, f"{what}: took {time.monotonic() - start:.0f} s"
    return out


def test_crafted_run_folders_are_one_line_or_a_clean_success(saved, tmp_path):
    cases = all_cases(saved)
    rng = random.Random(SEED)
    picked = rng.sample(cases, min(CASES, len(cases)))
    assert len(cases) > 500
    assert len(picked) == min(CASES, len(cases))
    kinds = {"refused": 0, "read": 0}
    for n, (kind, name, mutation, fix) in enumerate(picked):
        folder = tmp_path / f"case{n}"
        shutil.copytree(saved[kind], folder)
        mutate(folder, name, mutation, fix)
        what = (kind, name, re.sub(r"(.{60}).*", r"\1…", repr(mutation)), f"hash {'fixed' if fix else 'left'}")
        before = contents(folder)
        for args in (("show", str(folder)), ("runs", str(tmp_path)), ("export", str(folder))):
            r = timed(lambda args=args: fitscope(*args), what)
            assert_one_line_or_success(r, (*what, args[0]))
            kinds["refused" if r.returncode else "read"] += 1
        try:  # the app's ctrl+o and b: the engine's Open, the reference reader
            timed(lambda folder=folder: reference.load(folder), what)
        except rundir.RunDirError as exc:
            assert "\n" not in str(exc), what
        try:  # fitscope plot's reader (what it draws is plain numpy from here)
            timed(lambda folder=folder: plot_cmd.load(str(folder)), what)
        except rundir.RunDirError as exc:
            assert "\n" not in str(exc), what
        run = Run(RunSpec(FitConfig().with_values({"train.device": "cpu", "data.points": 40})))
        run.apply(C.Step(2))
        try:
            timed(lambda run=run, folder=folder: run.apply(C.Open(str(folder))), what)
        except C.Refused as exc:
            assert "\n" not in str(exc), (what, str(exc))
            assert run.state != State.ERROR, (what, str(exc))
            assert run.step == 2, (what, str(exc))
        assert contents(folder) == before, (what, "a reader changed the folder")
        r = timed(lambda folder=folder: fitscope("run", "--resume", str(folder), "--steps", "6", "--quiet"), what)
        assert_one_line_or_success(r, (*what, "resume"))
        if r.returncode != 0:
            assert contents(folder) == before, (what, "a refused resume changed the folder")
        else:
            assert rundir.read(folder).index["state"] == "clean", what
        shutil.rmtree(folder)
    assert kinds["refused"] > 0
    assert kinds["read"] > 0
