"""Runs you keep: saves committed as a whole, resumed bit for bit, read back with clear errors."""

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import saved as runs
from fitscope.core.store.folder import RunDirError

from support import metrics

CPU = FitConfig().with_values({"train.device": "cpu", "train.steps": 90})
OPTIMISERS = {
    "sgd+momentum": {"train.momentum": 0.9, "train.lr": 0.05},
    "adam": {"train.optimizer": "adam", "train.lr": 0.01},
    "mini-batches": {"train.batch_size": 64, "train.optimizer": "adam", "train.lr": 0.01},
}


def spec_of(extra: dict, kernels: str, race: bool) -> RunSpec:
    cfg = CPU.with_values({**extra, "train.kernels": kernels})
    return RunSpec.race(cfg, {"model.activation": ["relu", "tanh"]}, seeds=2) if race else RunSpec(cfg)


def curves(snaps) -> torch.Tensor:
    """Each member's losses from step 1, joined over the snapshots given (which carry deltas)."""
    k = len(snaps[0].members)
    return torch.tensor(np.stack([np.concatenate([s.members[j].losses for s in snaps]) for j in range(k)]))


@pytest.mark.parametrize("race", [False, True], ids=["single", "race"])
@pytest.mark.parametrize("kernels", ["fast", "autograd"])
@pytest.mark.parametrize("optimiser", list(OPTIMISERS))
def test_a_resumed_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path, optimiser, kernels, race):
    spec = spec_of(OPTIMISERS[optimiser], kernels, race)
    whole = Run(spec)
    whole.apply(C.Step(90))
    expected = curves([whole.snapshot()])

    first = Run(spec)
    first.apply(C.Step(37))  # mid-epoch with mini-batches: the data order must carry over
    first.apply(C.Save(str(tmp_path / "r")))
    resumed = Run(RunSpec(FitConfig().with_value("train.device", "cpu")))  # any run: Open replaces it
    assert resumed.apply(C.Open(str(tmp_path / "r"), 90)) == spec.with_base(spec.base)  # the run's own spec
    assert resumed.step == 37
    assert resumed.budget == 90
    opened = resumed.snapshot()  # the saved losses come first, for the charts
    resumed.apply(C.Step(53))
    got = curves([opened, resumed.snapshot()])
    assert torch.equal(got, expected)

    resumed.apply(C.Save())  # into its own folder: metrics appended, the rest replaced
    rows = metrics.rows(tmp_path / "r")
    assert [int(r["step"]) for r in rows] == [s for s in range(1, 91) for _ in spec.members()]
    losses = np.array([float(r["train_loss"]) for r in rows]).reshape(90, -1).T
    assert torch.equal(torch.tensor(losses), expected)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["steps"] == 90


def test_resume_keeps_a_changed_lr_and_a_diverged_member(tmp_path):
    spec = RunSpec.race(CPU.with_value("train.steps", 60), {"train.lr": [0.1, 50.0]})
    run = Run(spec)
    run.apply(C.Step(30))
    assert 1 in run.dead  # lr 50 diverges
    run.apply(C.Save(str(tmp_path / "r")))
    again = Run(spec)
    again.apply(C.Open(str(tmp_path / "r")))
    assert again.dead == run.dead
    assert again.step == 30
    snap = again.snapshot()
    assert snap.members[1].diverged_at == run.dead[1]
    assert snap.members[0].diverged_at is None


def test_open_refuses_steps_below_what_the_run_has_trained(tmp_path):
    run = Run(RunSpec(CPU))
    run.apply(C.Step(40))
    run.apply(C.Save(str(tmp_path / "r")))
    with pytest.raises(C.Refused, match=r"--steps 10: .* has trained 40 steps already — give a larger total"):
        run.apply(C.Open(str(tmp_path / "r"), 10))
    assert run.step == 40  # the current run is kept


# ---- a save is one whole set, or nothing new ------------------------------------------------------

def _files(tag: str, size: int = 1000) -> dict[str, bytes]:
    return {"a.txt": tag.encode() * size, "b.bin": os.urandom(size) + tag.encode(), "c.json": json.dumps(tag).encode()}


def _tag(saved: rundir.Saved) -> str:
    return json.loads(saved.files["c.json"])


def test_commit_replaces_the_whole_set_and_tidies_what_a_killed_save_left(tmp_path):
    folder = tmp_path / "run"
    rundir.commit(folder, _files("one"), {})
    assert _tag(rundir.read(folder)) == "one"
    (folder / ".pending").mkdir()  # a killed save's leftovers
    (folder / ".pending" / "a.txt").write_bytes(b"half")
    (folder / f".{rundir.INDEX}.999").write_bytes(b"{")
    (folder / ".model.pt.abc123").write_bytes(b"x" * 100)
    assert _tag(rundir.read(folder)) == "one"  # the index says clean: the pending file is not read
    rundir.commit(folder, {**_files("two"), "d.txt": b"new"}, {})
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.bin", "c.json", "d.txt", rundir.INDEX]
    assert _tag(rundir.read(folder)) == "two"
    rundir.commit(folder, _files("three"), {})
    assert not (folder / "d.txt").exists()  # a file of no save is removed


def _killed_while_committing(folder, moved: tuple[str, ...] = ()) -> dict[str, bytes]:
    """A save of "new" over "old" whose index says committing, with ``moved`` already in place."""
    rundir.commit(folder, _files("old"), {})
    new = _files("new")
    (folder / ".pending").mkdir()
    for name, data in new.items():
        (folder / ".pending" / name).write_bytes(data)
    index = json.loads((folder / rundir.INDEX).read_text())
    index.update(state="committing", files={n: hashlib.sha256(d).hexdigest() for n, d in new.items()})
    (folder / rundir.INDEX).write_text(json.dumps(index))
    for name in moved:
        os.replace(folder / ".pending" / name, folder / name)
    return new


def test_a_committing_index_reads_the_new_set_from_wherever_each_file_is(tmp_path):
    folder = tmp_path / "run"
    _killed_while_committing(folder, moved=("a.txt",))  # killed after moving one file of three
    assert _tag(rundir.read(folder)) == "new"
    rundir.commit(folder, _files("next"), {})
    assert _tag(rundir.read(folder)) == "next"
    assert not (folder / ".pending").exists()


def test_a_second_writer_is_refused_with_a_clear_line(tmp_path):
    folder = tmp_path / "run"
    rundir.commit(folder, _files("one"), {})
    with rundir.locked(folder):
        with pytest.raises(RunDirError, match="another fitscope is saving into this folder"):
            rundir.commit(folder, _files("two"), {})
    assert _tag(rundir.read(folder)) == "one"


def test_too_little_disk_space_is_refused_before_writing(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    rundir.commit(folder, _files("one"), {})
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 5000, 5000))
    with pytest.raises(RunDirError, match=r"not enough disk space to save — needs 1\.\d MB, 0\.0 MB free"):
        rundir.commit(folder, _files("two"), {})
    assert _tag(rundir.read(folder)) == "one"
    assert not (folder / ".pending").exists()


def test_saved_files_get_the_users_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        rundir.commit(tmp_path / "run", _files("one"), {})
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run").iterdir()}
    assert set(modes.values()) == {0o644}, modes


WRITER = textwrap.dedent("""
    import os, sys
    import torch
    torch.set_num_threads(1)
    from fitscope.core import commands as C
    from fitscope.core.config import FitConfig
    from fitscope.core.engine.run import Run
    from fitscope.core.spec import RunSpec
    cfg = FitConfig().with_values({"train.device": "cpu", "model.hidden": [256, 256], "train.optimizer": "adam",
                                   "train.lr": 0.001, "train.steps": 100000})
    run = Run(RunSpec(cfg))
    print("ready", flush=True)
    for line in sys.stdin:
        folder = line.strip()
        pid = os.fork()
        if pid == 0:
            k = 0
            while True:
                run.apply(C.Step(1))
                print(f"saving {run.step}", flush=True)
                run.apply(C.Save(folder))
                print(f"saved {run.step}", flush=True)
        print(f"child {pid}", flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
""")


def test_a_writer_killed_at_random_moments_leaves_the_old_save_or_the_new_one_whole(tmp_path):
    rng = random.Random(1)
    kills = [0, 0]
    writer = subprocess.Popen([sys.executable, "-c", WRITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdin is not None
    assert writer.stdout is not None
    try:
        assert writer.stdout.readline().strip() == "ready"
        reused = tmp_path / "reused"
        for trial in range(20):
            folder = reused if trial % 2 else tmp_path / f"fresh{trial}"
            writer.stdin.write(f"{folder}\n")
            writer.stdin.flush()
            child = int(writer.stdout.readline().split()[1])
            saved: list[int] = []
            lines = rng.randint(1, 8)  # kill after a random number of lines, then at a random moment
            while lines:
                word, step = writer.stdout.readline().split()
                if word == "saved":
                    saved.append(int(step))
                lines -= 1
            kills[trial % 2] += 1
            # a random moment within the save that follows (~15 ms here, a third of it the commit):
            # the sleep only picks the moment; what is checked holds at every moment
            time.sleep(rng.uniform(0, 0.02))
            os.kill(child, 9)
            while (line := writer.stdout.readline().split()) != ["reaped"]:  # what it said before it died
                if line[0] == "saved":
                    saved.append(int(line[1]))
            try:
                loaded = runs.load(folder)
            except RunDirError as exc:  # a fresh folder killed before its first save: no run, said so
                assert folder != reused
                assert not saved
                assert ("no saved run here" in str(exc) or "no such folder" in str(exc))
                continue
            step = loaded.state["exp"]["step"]
            assert loaded.summary["steps"] == step  # one save: every file from it (the hashes say so too)
            rows = [r for r in rundir.read(folder).text("metrics.csv").splitlines() if r[:1].isdigit()]
            assert int(rows[-1].split(",")[0]) == step
            if saved:
                assert step >= saved[-1]  # the last completed save, or the one after it
    finally:
        writer.kill()
        writer.wait()
    run = Run(RunSpec(CPU))
    run.apply(C.Step(1))
    run.apply(C.Save(str(reused)))  # the next save tidies what the kills left
    assert not [p.name for p in reused.iterdir() if p.name.startswith(".")]
    assert runs.load(reused).state["exp"]["step"] == 1


# ---- reading back: one clear line naming the file --------------------------------------------------

@pytest.fixture
def saved_run(tmp_path):
    run = Run(RunSpec(CPU))
    run.apply(C.Step(5))
    run.apply(C.Save(str(tmp_path / "r")))
    return tmp_path / "r"


def _recommit(folder, **changes):
    """A consistent save whose files are changed: past the hashes, to the checks behind them."""
    files = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".") and p.name != rundir.INDEX}
    files.update(changes)
    rundir.commit(folder, files, {})


@pytest.mark.parametrize("damage,message", [
    (lambda f: (f / "checkpoint.pt").write_bytes((f / "checkpoint.pt").read_bytes()[:500]),
     "checkpoint.pt: does not match its save"),
    (lambda f: (f / "metrics.csv").unlink(), "metrics.csv: missing"),
    (lambda f: (f / rundir.INDEX).write_text("{oops"), "run.json: unreadable"),
    (lambda f: (f / rundir.INDEX).write_text(json.dumps({"format": 9, "files": {}})), "saved by a newer fitscope"),
    (lambda f: (f / rundir.INDEX).unlink(), "no saved run here"),
    (lambda f: _recommit(f, **{"checkpoint.pt": b"not a zip at all"}), "checkpoint.pt: not a loadable checkpoint"),
    (lambda f: _recommit(f, **{"config.toml": b"[model]\nhidden = [5]\n"}), "config.toml: changed since the checkpoint"),
    (lambda f: _recommit(f, **{"config.toml": b"[model]\nwidth = 5\n"}), "config.toml: model.width"),
])
def test_a_damaged_run_is_one_line_naming_the_file_and_the_current_run_is_kept(saved_run, damage, message):
    damage(saved_run)
    run = Run(RunSpec(CPU))
    run.apply(C.Step(3))
    with pytest.raises(C.Refused) as info:
        run.apply(C.Open(str(saved_run)))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert run.step == 3


def test_a_checkpoint_with_code_in_it_is_never_run(saved_run, tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    import io

    buf = io.BytesIO()
    torch.save({"format": 1, "exp": Boom()}, buf)
    _recommit(saved_run, **{"checkpoint.pt": buf.getvalue()})
    with pytest.raises(RunDirError, match="checkpoint.pt: not a loadable checkpoint"):
        runs.load(saved_run)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("kernels", ["fast", "autograd"])
def test_a_diverged_run_saves_its_last_finite_weights_and_says_so(tmp_path, kernels):
    spec = RunSpec(CPU.with_values({"train.lr": 60.0, "train.kernels": kernels}))
    run = Run(spec)
    for _ in range(6):  # chunk by chunk, as a driver trains
        run.apply(C.Step(2))
        if run.diverged_at:
            break
    assert run.diverged_at is not None
    run.snapshot()
    run.apply(C.Save(str(tmp_path / "d")))
    notices = [n.text for n in run.snapshot().notices]
    loaded = runs.load(tmp_path / "d")
    model = loaded.state["exp"]["members"][0]["model"]
    assert all(torch.isfinite(t).all() and t.abs().sum() > 0 for t in model.values())
    at = loaded.summary["per_member"][0]["checkpoint_step"]
    assert at < run.diverged_at - 1
    assert loaded.summary["steps"] == run.diverged_at
    assert f"checkpoint.pt holds its last finite weights, from step {at}" in " ".join(notices)
    replay = Run(spec)  # the saved weights are the run's own at that step
    if at:
        replay.apply(C.Step(at))
    want = replay.exp.stepper.state_dict(0)
    assert all(torch.equal(model[k], want[k]) for k in want)


def test_reading_a_committing_folder_leaves_it_and_the_next_save_finishes_it(tmp_path):
    """A reader never writes (a crafted folder's .pending once moved the user's files); a writer of
    the folder finishes the killed save before its own."""
    folder = tmp_path / "run"
    new = _killed_while_committing(folder)
    assert _tag(rundir.read(folder)) == "new"
    assert json.loads((folder / rundir.INDEX).read_text())["state"] == "committing"
    assert (folder / ".pending" / "c.json").read_bytes() == new["c.json"]
    rundir.commit(folder, _files("next"), {})
    assert _tag(rundir.read(folder)) == "next"
    assert not (folder / ".pending").exists()


@pytest.mark.parametrize("name", ["../victim.txt", "/tmp/victim-abs.txt", ".hidden", "run.json"])
def test_an_index_naming_files_outside_the_run_is_never_followed(tmp_path, name):
    folder = tmp_path / "run"
    rundir.commit(folder, _files("one"), {})
    victim = tmp_path / "victim.txt" if name.startswith("..") else folder / name if not name.startswith("/") \
        else tmp_path / "victim-abs.txt"
    index = json.loads((folder / rundir.INDEX).read_text())
    index["files"][str(victim) if name.startswith("/") else name] = "0" * 64
    victim.write_text("keep me")
    (folder / rundir.INDEX).write_text(json.dumps(index))
    with pytest.raises(RunDirError, match="names a file outside the run"):
        rundir.read(folder)
    rundir.commit(folder, _files("two"), {})  # --force over it: the old index names nothing we delete
    assert victim.read_text() == "keep me" or name == "run.json"
    assert _tag(rundir.read(folder)) == "two"


def test_a_folder_reserved_by_a_live_run_is_refused_and_a_dead_ones_reservation_counts_for_nothing(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (folder / rundir.INDEX).write_text(json.dumps({"format": 1, "state": "reserved", "pid": sleeper.pid,
                                                       "files": {}}))
        with pytest.raises(RunDirError, match="already holds a run"):
            rundir.check_out_dir(str(folder), force=False)
        with pytest.raises(RunDirError, match=f"a fitscope, pid {sleeper.pid}, is training into it"):
            rundir.read(folder)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert rundir.check_out_dir(str(folder), force=False) == folder  # it ended: the folder is free


def test_listing_shows_a_folder_of_runs_and_says_which_cannot_be_read(tmp_path):
    base = tmp_path / "runs"
    rundir.commit(base / "a", _files("a"), {"listing": {"steps": 1}})
    (base / "broken").mkdir()
    (base / "broken" / rundir.INDEX).write_text("[1, 2")
    (base / "not-a-run").mkdir()
    found = dict(rundir.listing(base))
    assert isinstance(found[base / "a"], dict)
    assert "unreadable" in found[base / "broken"]
    assert base / "not-a-run" not in found
    with pytest.raises(RunDirError, match="holds other runs"):
        rundir.check_out_dir(str(base), force=True)


def test_a_memory_limit_above_the_machines_memory_is_held_to_the_machine(monkeypatch):
    from fitscope.core.engine import memory

    monkeypatch.setattr(memory, "machine_bytes", lambda: 8 * 10**9)
    spec = RunSpec(CPU.with_values({"train.memory_limit": 100, "data.points": 1_000_000,
                                    "model.hidden": (1024, 1024, 1024, 1024)}))
    cap, why = memory.limit(spec)
    assert cap == 8 * 10**9
    assert "train.memory_limit=100 GB is more than it has" in why
    with pytest.raises(memory.MemoryBudgetError, match="the limit is 8 GB"):
        memory.check(spec)


def test_running_out_of_memory_while_training_is_said_plainly():
    run = Run(RunSpec(CPU))
    run.error(RuntimeError("[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 68719476736 bytes.\nmore torch detail"))
    (notice,) = run.snapshot().notices
    assert notice.text.startswith("error: out of memory while training (RuntimeError: [enforce fail")
    assert "lower data.points or model.hidden" in notice.text
    assert "\n" not in notice.text


def test_the_memory_estimate_counts_the_numbers_forward_pass_over_every_training_point():
    """With mini-batches the estimate counted the batch only (~122 MB) while the network's numbers
    ran all 200,000 points through two layers of 1,024 (peak 3.7 GB, measured)."""
    from fitscope.core.engine import memory

    spec = RunSpec(CPU.with_values({"data.points": 200_000, "model.hidden": (1024, 1024), "train.batch_size": 7}))
    assert memory.estimate(spec).total > 3.5e9
