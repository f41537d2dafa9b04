"""Run folders crafted by someone else, read by every command that reads one: one line, never a
traceback, never a write outside the folder, never a file of the user's moved."""

import hashlib
import json
import os

import pytest
from test_cli import fitscope

from fitscope.core.store import folder as rundir
from fitscope.core.store.folder import RunDirError

READERS = [("show", "{}"), ("export", "{}"), ("run", "--resume", "{}", "--steps", "6", "--quiet")]


def read_with(args, folder):
    return fitscope(*(str(folder) if a == "{}" else a for a in args))


@pytest.fixture
def saved(tmp_path):
    folder = tmp_path / "run"
    r = fitscope("run", "--steps", "3", "--quiet", "--out", str(folder), "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    return folder


def fix_hash(folder, name: str, data: bytes, **index_changes) -> None:
    index = json.loads((folder / "run.json").read_text())
    index["files"][name] = hashlib.sha256(data).hexdigest()
    index.update(index_changes)
    (folder / "run.json").write_text(json.dumps(index))


def rewrite(folder, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)
    fix_hash(folder, name, data)


def checkpoint_bytes(state) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def one_line(r, code=2):
    assert r.returncode == code, (r.returncode, r.stdout[-500:], r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_committing_run_whose_pending_is_a_link_never_moves_the_users_files(tmp_path, saved):
    """As unpacked from a tarball: run.json says committing, .pending links two levels up, where the
    user's own project has a config.toml, metrics.csv and the rest."""
    project = tmp_path / "project"
    inbox = project / "inbox"
    inbox.mkdir(parents=True)
    own = {name: f"the user's own {name}\n".encode() for name in rundir.SAVED_NAMES}
    for name, data in own.items():
        (project / name).write_bytes(data)
    crafted = inbox / "shared-run"
    os.rename(saved, crafted)
    index = json.loads((crafted / "run.json").read_text())
    index.update(state="committing", files={name: hashlib.sha256(data).hexdigest() for name, data in own.items()})
    (crafted / "run.json").write_text(json.dumps(index))
    os.symlink("../..", crafted / ".pending")  # inbox/shared-run/.pending -> project
    for args in READERS:
        r = read_with(args, crafted)
        one_line(r)
        assert ".pending" in r.stderr, r.stderr
        for name, data in own.items():
            assert (project / name).read_bytes() == data, (args, name)
    assert (crafted / ".pending").is_symlink()
    assert json.loads((crafted / "run.json").read_text())["state"] == "committing"


def test_a_reader_never_writes_a_committing_folder(tmp_path):
    folder = tmp_path / "run"
    rundir.commit(folder, {"a.txt": b"old"}, {})
    (folder / ".pending").mkdir()
    (folder / ".pending" / "a.txt").write_bytes(b"new")
    fix_hash(folder, "a.txt", b"new", state="committing")
    before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert rundir.read(folder).files["a.txt"] == b"new"  # the committed set, from where it is
    assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    rundir.commit(folder, {"a.txt": b"next"}, {})  # a writer finishes what it finds, then saves
    assert rundir.read(folder).files["a.txt"] == b"next"
    assert not (folder / ".pending").exists()


def test_a_pending_file_that_is_a_link_is_not_followed(tmp_path):
    folder = tmp_path / "run"
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"private")
    rundir.commit(folder, {"a.txt": b"old"}, {})
    (folder / ".pending").mkdir()
    os.symlink(secret, folder / ".pending" / "a.txt")
    fix_hash(folder, "a.txt", b"private", state="committing")
    with pytest.raises(RunDirError, match="a symbolic link"):
        rundir.read(folder)
    rundir.commit(folder, {"a.txt": b"mine"}, {})  # the link is not moved into the run, nor followed
    assert secret.read_bytes() == b"private"
    assert rundir.read(folder).files["a.txt"] == b"mine"
    assert not (folder / ".pending").exists()


def test_a_saved_file_that_is_a_link_is_not_followed(tmp_path, saved):
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    (saved / "fit.txt").unlink()
    os.symlink(secret, saved / "fit.txt")
    fix_hash(saved, "fit.txt", b"private\n")
    r = fitscope("show", str(saved))
    one_line(r)
    assert "private" not in r.stdout
    assert "symbolic link" in r.stderr


ESCAPES = "\x1b]0;owned\x07\x1b[31mred\x1b[2J\x1bP+q\x1b\\\x9b31m"


def test_show_and_runs_strip_control_characters_from_what_a_folder_holds(tmp_path, saved):
    rewrite(saved, "fit.txt", f"chart {ESCAPES} end\n".encode())
    index = json.loads((saved / "run.json").read_text())
    index["saved_at"] = f"2026-01-01T00:00{ESCAPES}"
    (saved / "run.json").write_text(json.dumps(index))
    for r in (fitscope("show", str(saved)), fitscope("runs", str(tmp_path))):
        assert r.returncode == 0, r.stderr
        assert not any(c in r.stdout for c in "\x1b\x07\x9b"), repr(r.stdout)
    assert "chart" in fitscope("show", str(saved)).stdout


SUMMARY_DAMAGE = {
    "deep": lambda s: "[" * 100_000 + "]" * 100_000,
    "string loss": lambda s: json.dumps({**s, "final_loss": "0.1", "steps": "3"}),
    "string steps": lambda s: json.dumps({**s, "steps": "many", "budget": [1]}),
    "members of the wrong shape": lambda s: json.dumps({**s, "per_member": [1, "x", {"label": {}}, None]}),
    "a list": lambda s: json.dumps([s]),
    "a huge number": lambda s: json.dumps(s).replace('"steps": 3', '"steps": ' + "9" * 5000),
}


@pytest.mark.parametrize("damage", SUMMARY_DAMAGE, ids=list(SUMMARY_DAMAGE))
def test_show_of_a_crafted_summary_is_one_line_or_a_plain_listing(saved, damage):
    summary = json.loads((saved / "summary.json").read_text())
    rewrite(saved, "summary.json", SUMMARY_DAMAGE[damage](summary).encode())
    r = fitscope("show", str(saved))
    one_line(r)
    assert "summary.json" in r.stderr


METRICS_DAMAGE = {
    "5,000-digit step": lambda m: m.replace("\n3,", "\n" + "3" * 5000 + ",", 1),
    "NUL in a field": lambda m: m.replace("\n3,", "\n3\x00,", 1),
    "a 200,000-digit field": lambda m: m + "9" * 200_000 + ",base,0.1,,0.2,0.0\n",
}


@pytest.mark.parametrize("damage", METRICS_DAMAGE, ids=list(METRICS_DAMAGE))
def test_resume_of_crafted_metrics_is_one_line(saved, damage):
    text = (saved / "metrics.csv").read_text()
    rewrite(saved, "metrics.csv", METRICS_DAMAGE[damage](text).encode())
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    one_line(r)
    assert "metrics.csv" in r.stderr


def test_a_config_with_a_nul_key_is_one_line(saved):
    text = (saved / "config.toml").read_text()
    rewrite(saved, "config.toml", text.replace("[train]", '[train]\n"l\\u0000r" = 0.1', 1).encode())
    for args in READERS[1:]:  # show reads no config
        r = read_with(args, saved)
        one_line(r)
        assert "config.toml" in r.stderr


def test_a_2_gb_metrics_file_is_refused_from_its_size_before_it_is_read(saved):
    """`b` on one grew the app to 4 GB; --resume took 47 s and 6.5 GB."""
    import resource

    with open(saved / "metrics.csv", "r+b") as f:
        f.truncate(2 << 30)  # sparse: no disk used, and no hash fixed: the size is checked first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    one_line(r)
    assert "metrics.csv" in r.stderr
    assert "more than fitscope reads" in r.stderr
    from fitscope.core.store import reference

    with pytest.raises(RunDirError, match="more than fitscope reads"):
        reference.load(saved)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: nothing of it read


def test_resuming_a_run_whose_data_file_is_now_a_fifo_or_a_device_is_one_line_not_a_hang(tmp_path):
    data = tmp_path / "points.csv"
    data.write_text("x,y\n" + "".join(f"{i / 10},{i * i / 100}\n" for i in range(-10, 11)))
    folder = tmp_path / "run"
    r = fitscope("run", "--steps", "3", "--quiet", "--out", str(folder), "--data", str(data), "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    data.unlink()
    os.mkfifo(data)  # nothing will ever write to it: reading it would block for good
    r = fitscope("run", "--resume", str(folder), "--steps", "6", "--quiet")
    one_line(r)
    assert "FIFO" in r.stderr
    assert "data file" in r.stderr
    data.unlink()
    data.symlink_to("/dev/zero")
    r = fitscope("run", "--resume", str(folder), "--steps", "6", "--quiet")
    one_line(r)
    assert "a device" in r.stderr


def test_a_second_resume_of_a_run_being_resumed_is_refused(saved):
    with rundir.claimed(saved):  # as a resume in another process holds it
        r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
        one_line(r)
        assert f"another fitscope (pid {os.getpid()}) is resuming this run" in r.stderr
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    assert r.returncode == 0, r.stderr
    assert not (saved / rundir.CLAIM).exists()
    assert json.loads((saved / "summary.json").read_text())["steps"] == 6


@pytest.mark.parametrize("dtype", ["bool", "int8", "complex64", "float64"])
def test_a_checkpoint_of_the_wrong_dtype_is_refused_even_with_its_hash_fixed(saved, dtype):

    import torch

    state = torch.load(saved / "checkpoint.pt", weights_only=True)
    model = state["exp"]["members"][0]["model"]
    model["0.weight"] = model["0.weight"].to(getattr(torch, dtype))
    rewrite(saved, "checkpoint.pt", checkpoint_bytes(state))
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    one_line(r)
    assert f"0.weight is {dtype}, expected float32" in r.stderr


@pytest.mark.parametrize("edit", [("activation = \"relu\"", "activation = \"tanh\""),
                                  ("optimizer = \"sgd\"", "optimizer = \"adam\""),
                                  ("points = 300", "points = 200")])
def test_a_config_edited_after_training_is_refused_on_resume(saved, edit):
    text = (saved / "config.toml").read_text()
    assert edit[0] in text
    rewrite(saved, "config.toml", text.replace(edit[0], edit[1]).encode())
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    one_line(r)
    assert "config.toml: changed since the checkpoint was saved" in r.stderr


@pytest.mark.parametrize("run_part", [{"dead": [[99, 5]]}, {"best": ["x"]}, {"elapsed": "soon"}, [1, 2]])
def test_opening_a_damaged_run_keeps_the_current_one(saved, run_part):

    import torch

    from fitscope.core import commands as C
    from fitscope.core.config import FitConfig
    from fitscope.core.engine.run import Run
    from fitscope.core.snapshot import State
    from fitscope.core.spec import RunSpec

    state = torch.load(saved / "checkpoint.pt", weights_only=True)
    state["run"] = {**state["run"], **run_part} if isinstance(run_part, dict) else run_part
    rewrite(saved, "checkpoint.pt", checkpoint_bytes(state))
    run = Run(RunSpec(FitConfig().with_value("train.device", "cpu")))
    run.apply(C.Step(5))
    with pytest.raises(C.Refused, match="checkpoint.pt"):
        run.apply(C.Open(str(saved)))
    assert run.state != State.ERROR
    assert run.step == 5
    run.apply(C.Step(1))
    assert run.step == 6


def test_a_plain_pickle_as_checkpoint_is_one_line_without_torchs_warnings(saved):
    import pickle
    import warnings

    from fitscope.core.store import checkpoint

    data = pickle.dumps({"exp": {"step": 1}}, protocol=4)  # torch warned of the protocol before the one line
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(RunDirError, match="not a loadable checkpoint"):
            checkpoint.load(data, saved / "checkpoint.pt")
    assert not seen, [str(w.message) for w in seen]


def test_a_hard_linked_claim_file_is_refused_not_written_through(tmp_path, saved):
    victim = tmp_path / "victim.txt"
    victim.write_text("PRECIOUS\n")
    os.link(victim, saved / rundir.CLAIM)
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    one_line(r)
    assert victim.read_text() == "PRECIOUS\n"
    assert ".resuming" in r.stderr


def test_probe_links_planted_in_a_folder_are_never_written_through(tmp_path, saved):
    victim = tmp_path / "victim2.txt"
    victim.write_text("PRECIOUS2\n")
    pid = os.getpid()
    for i in range(pid - 5, pid + 5):
        os.symlink(victim, saved / f".probe.{i}")
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "PRECIOUS2\n"


@pytest.mark.parametrize("damage", ["optim none", "order list", "order out of range", "pos negative"])
def test_a_crafted_checkpoint_state_is_one_line_naming_the_checkpoint(tmp_path, damage):

    import torch

    folder = tmp_path / "mb"
    r = fitscope("run", "--steps", "3", "--quiet", "--out", str(folder), "--set", "train.device=cpu",
                 "--set", "train.batch_size=16")
    assert r.returncode == 0, r.stderr
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    exp = state["exp"]
    if damage == "optim none":
        exp["members"][0]["optim"] = None
    elif damage == "order list":
        exp["batches"]["order"] = [1, 2]
    elif damage == "order out of range":
        exp["batches"]["order"] = torch.full_like(exp["batches"]["order"], 10**6)
    else:
        exp["batches"]["pos"] = -10**9
    rewrite(folder, "checkpoint.pt", checkpoint_bytes(state))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = fitscope("run", "--resume", str(folder), "--steps", "30", "--quiet")
    one_line(r)
    assert "checkpoint.pt" in r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_export_reads_only_the_head_of_a_huge_data_file(tmp_path):
    import resource

    data = tmp_path / "points.csv"
    data.write_text("x,y\n" + "".join(f"{i / 10},{i * i / 100}\n" for i in range(-10, 11)))
    folder = tmp_path / "run"
    r = fitscope("run", "--steps", "3", "--quiet", "--out", str(folder), "--data", str(data), "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    with open(data, "r+b") as f:
        f.truncate(3 << 30)  # sparse: 3 GB the export would have read whole
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = fitscope("export", str(folder))
    assert r.returncode == 0, r.stderr
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000


def test_a_checkpoint_that_unpacks_to_far_more_than_its_run_holds_is_refused(saved):
    """A crafted checkpoint of ~300 kB holding a 300 MB zero tensor made a resume take 540 MB."""
    import io
    import zipfile

    import torch

    state = torch.load(saved / "checkpoint.pt", weights_only=True)
    state["junk"] = torch.zeros(50_000_000, dtype=torch.uint8)
    packed, plain = io.BytesIO(), io.BytesIO(checkpoint_bytes(state))
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    assert len(packed.getvalue()) < 1_000_000
    rewrite(saved, "checkpoint.pt", packed.getvalue())
    r = fitscope("run", "--resume", str(saved), "--steps", "6", "--quiet")
    one_line(r)
    assert "checkpoint.pt: unpacks to" in r.stderr
