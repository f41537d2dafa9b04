"""The synchronous Run: commands, states, refusals, pacing, divergence and snapshots, stepped by hand."""

import json
import pickle
import re

import numpy as np
import pytest
import torch

from fitscope.core import commands as C
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.engine import cudagraphs as graphs
from fitscope.core.engine.model import make_mlp
from fitscope.core.engine.run import MAX_STEP, Run
from fitscope.core.engine.training import Experiment
from fitscope.core.snapshot import END_STATES, IDLE_STATES, Level, State
from fitscope.core.spec import RunSpec

from support import metrics
from support.devices import absent_cuda

SAVED = ["checkpoint.pt", "config.toml", "fit.csv", "fit.txt", "metrics.csv", "run.json", "summary.json",
         "timeline.npz"]
CPU = FitConfig().with_value("train.device", "cpu")


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def run_until_idle(run: Run, limit: int = 100_000) -> None:
    for _ in range(limit):
        if run.tick() is None:
            return
    raise AssertionError(f"still {run.state} after {limit} ticks")


def tick_until_waiting(run: Run, limit: int = 10_000) -> float | None:
    """Tick until the run is idle (None) or asks to wait (> 0)."""
    for _ in range(limit):
        wait = run.tick()
        if wait is None or wait > 0:
            return wait
    raise AssertionError(f"never waited in {limit} ticks")


def refused(run: Run, cmd, match: str) -> None:
    """The command is refused with a message matching ``match``, and the next snapshot says so."""
    with pytest.raises(C.Refused, match=match):
        run.apply(cmd)
    notices = run.snapshot().notices
    assert any(n.level == Level.ERROR and re.search(match, n.text) for n in notices), notices
    assert run.snapshot().notices == ()  # said once


def history(run: Run, member: int = 0) -> np.ndarray:
    """Every loss of the member so far, from the run's own tracker (fed as snapshots are taken)."""
    run.snapshot()
    return np.asarray(run.tracker.history(member).loss)


def test_ready_snapshot_before_any_step():
    run = Run(RunSpec(CPU))
    snap = run.snapshot()
    assert snap.state == State.READY == "ready"
    assert snap.step == 0
    assert snap.budget == 300
    assert snap.train_loss is None
    assert snap.test_loss is None
    assert snap.notices == ()
    assert snap.data is not None
    assert len(snap.data.x_train) == 300
    (m,) = snap.members
    assert m.label == "relu"
    assert m.loss is None
    assert m.best_loss is None
    assert m.diverged_at is None
    assert m.first == 1
    assert len(m.losses) == 0
    assert len(snap.x_grid) == len(m.y_pred) > 100
    assert np.isfinite(m.y_pred).all()
    assert not m.y_pred.flags.writeable
    assert not snap.data.x_train.flags.writeable
    assert not snap.racing
    assert snap.lead is m
    assert snap.config == CPU
    assert snap.device == "cpu"
    assert run.tick() is None  # nothing to do until a command comes
    assert run.step == 0


def test_the_data_view_goes_out_once_and_the_tracker_fills_it_in():
    run = Run(RunSpec(CPU))
    first = run.snapshot()
    run.apply(C.Step(3))
    later = run.snapshot()
    assert first.data is not None
    assert later.data is None
    assert len(pickle.dumps(later)) < len(pickle.dumps(first.data))
    from fitscope.core.drivers.tracker import Tracker

    t = Tracker()
    assert t.feed(first).data is first.data
    assert t.feed(later).data is first.data
    run.apply(C.Reset(RunSpec(CPU.with_value("data.points", 50))))
    assert len(run.snapshot().data.x_train) == 50  # a new run sends its new data


def test_step_then_reset_replays_the_same_losses():
    run = Run(RunSpec(CPU))
    run.apply(C.Step(5))
    snap = run.snapshot()
    assert snap.state == State.PAUSED
    assert snap.step == 5
    (m,) = snap.members
    assert m.first == 1
    assert len(m.losses) == 5
    assert m.loss == m.losses[-1]
    first_run_id, first = snap.run_id, m.losses.copy()
    np.testing.assert_array_equal(history(run), first)
    np.testing.assert_array_equal(first, Experiment(RunSpec(CPU)).step(5)[:, 0])
    run.apply(C.Reset())
    snap = run.snapshot()
    assert snap.state == State.READY
    assert snap.step == 0
    assert snap.run_id != first_run_id
    assert [n.text for n in snap.notices] == ["reset"]
    assert len(run.tracker.history(0)) == 0
    run.apply(C.Step(5))
    np.testing.assert_array_equal(run.snapshot().members[0].losses, first)
    np.testing.assert_array_equal(history(run), first)


def test_snapshots_carry_only_the_losses_since_the_previous_one():
    run = Run(RunSpec(CPU))
    run.snapshot()
    run.apply(C.Step(4))
    run.apply(C.Step(3))
    a = run.snapshot().members[0]
    run.apply(C.Step(2))
    b = run.snapshot().members[0]
    c = run.snapshot().members[0]
    assert (a.first, len(a.losses), b.first, len(b.losses), c.first, len(c.losses)) == (1, 7, 8, 2, 10, 0)
    np.testing.assert_array_equal(np.concatenate([a.losses, b.losses]), Experiment(RunSpec(CPU)).step(9)[:, 0])
    assert b.best_loss == min(np.concatenate([a.losses, b.losses]))
    assert 1 <= b.best_step <= 9


def test_step_n_runs_exactly_n_steps_and_stops_at_the_budget():
    run = Run(RunSpec(CPU.with_value("train.steps", 100)))
    for _ in range(2):
        run.apply(C.Step(40))
    assert run.step == 80
    assert run.state == State.PAUSED
    run.apply(C.Step(40))  # a Step stops at the budget...
    assert run.step == 100
    assert run.state == State.DONE
    np.testing.assert_array_equal(run.snapshot().members[0].losses, Experiment(RunSpec(CPU)).step(100)[:, 0])
    run.apply(C.SetSteps(1000))
    for n in (0, -1, MAX_STEP + 1):
        refused(run, C.Step(n), "expected 1 to")


def test_start_runs_to_the_budget_and_set_steps_from_done_goes_on():
    run = Run(RunSpec(CPU.with_value("train.steps", 30)))
    run.apply(C.Start())
    assert run.state == State.RUNNING
    run_until_idle(run)
    assert run.state == State.DONE
    assert run.step == 30
    refused(run, C.Start(), r"budget \(30\) is reached")
    run.apply(C.SetSteps(60))
    snap = run.snapshot()
    assert snap.state == State.PAUSED
    assert snap.budget == 60
    assert snap.config.train.steps == 60
    run.apply(C.Start())
    run_until_idle(run)
    assert run.state == State.DONE
    assert run.step == 60
    np.testing.assert_array_equal(history(run), Experiment(RunSpec(CPU)).step(60)[:, 0])
    refused(run, C.SetSteps(0), "train.steps")


def test_set_steps_below_the_step_while_running_is_done():
    run = Run(RunSpec(CPU.with_value("train.steps", 1000)))
    run.apply(C.Step(20))
    run.apply(C.Start())
    run.apply(C.SetSteps(10))
    assert run.state == State.DONE
    assert run.tick() is None
    assert run.step == 20


def test_set_steps_below_the_step_while_paused_is_done():
    run = Run(RunSpec(CPU.with_value("train.steps", 1000)))
    run.apply(C.Step(20))
    run.apply(C.SetSteps(10))
    assert run.state == State.DONE
    run.apply(C.SetSteps(30))
    assert run.state == State.PAUSED


def test_a_failed_save_is_said_and_the_run_goes_on(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    run = Run(RunSpec(CPU))
    run.apply(C.Step(3))
    refused(run, C.Save(str(tmp_path / "afile" / "run")), "save failed")
    assert run.state == State.PAUSED
    run.apply(C.Step(2))
    assert run.step == 5


def test_toggle_pause_and_close():
    run = Run(RunSpec(CPU.with_value("train.steps", 1_000_000)))
    run.apply(C.Toggle())
    assert run.state == State.RUNNING
    assert run.tick() == 0.0
    assert run.step >= 1
    run.apply(C.Toggle())
    at = run.step
    assert run.state == State.PAUSED
    assert run.tick() is None
    assert run.step == at
    run.apply(C.Start())
    run.close()
    assert run.state == State.STOPPED
    assert run.tick() is None
    assert run.snapshot().state == State.STOPPED
    assert State.STOPPED in END_STATES
    assert State.RUNNING not in IDLE_STATES


def test_live_lr_and_budget_update():
    run = Run(RunSpec(CPU.with_value("train.steps", 50)))
    run.apply(C.SetLr(0.05))
    run.apply(C.SetSteps(80))
    run.apply(C.Start())
    run_until_idle(run)
    snap = run.snapshot()
    assert snap.state == State.DONE
    assert snap.step == 80
    assert snap.budget == 80
    assert snap.config.train.lr == 0.05
    np.testing.assert_array_equal(history(run), Experiment(RunSpec(CPU.with_value("train.lr", 0.05))).step(80)[:, 0])
    refused(run, C.SetLr(-1), "train.lr")
    assert run.spec.base.train.lr == 0.05


@pytest.mark.parametrize("race", [False, True])
def test_set_lr_mid_run_reaches_the_optimiser_in_both_kernels(race):
    losses = {}
    for kernels in ("fast", "autograd"):
        cfg = CPU.with_values({"train.kernels": kernels, "train.optimizer": "adam", "train.lr": 0.01})
        spec = RunSpec.race(cfg, {"model.activation": ["relu", "tanh"]}) if race else RunSpec(cfg)
        run = Run(spec)
        run.apply(C.Step(10))
        run.apply(C.SetLr(0.05))
        run.apply(C.Step(30))
        assert run.snapshot().config.train.lr == 0.05
        losses[kernels] = np.stack([history(run, j) for j in range(len(spec.members()))])
    np.testing.assert_allclose(losses["fast"], losses["autograd"], rtol=0, atol=1e-5)
    unchanged = Experiment(spec).step(40).T
    np.testing.assert_array_equal(losses["autograd"][:, :11], unchanged[:, :11])  # the same until the change...
    assert np.abs(losses["autograd"][:, 12:] - unchanged[:, 12:]).min() > 1e-6  # ...then every member moves


def test_refused_commands_say_why_in_the_next_snapshot():
    run = Run(RunSpec(CPU))
    refused(run, C.Save(), "nothing to save yet")
    refused(run, C.SetPace(0), "pace")
    race = Run(RunSpec.race(CPU, {"train.lr": [0.05, 0.2]}))
    refused(race, C.SetLr(0.1), "lr is what this race varies")
    assert [m.cfg.train.lr for m in race.exp.members] == [0.05, 0.2]


def test_step_while_diverged_is_refused_until_reset():
    run = Run(RunSpec(CPU.with_value("train.lr", 50)))
    run.apply(C.Step(50))
    snap = run.snapshot()
    assert snap.state == State.DIVERGED
    assert snap.diverged_at == 4
    assert run.step == 50
    assert any(n.level == Level.ERROR and "diverged at step 4" in n.text for n in snap.notices)
    np.testing.assert_array_equal(history(run), Experiment(RunSpec(CPU.with_value("train.lr", 50))).step(3)[:, 0])
    assert np.isnan(snap.members[0].y_pred).all()
    assert snap.members[0].diverged_at == 4
    refused(run, C.Step(1), r"step: the run diverged at step 4 — reset \(r\) to train again")
    refused(run, C.Start(), r"run: the run diverged at step 4 — reset \(r\) to train again")
    refused(run, C.Toggle(), "reset")
    run.apply(C.Reset())
    assert run.state == State.READY
    run.apply(C.Step(2))
    assert run.state == State.PAUSED
    assert run.diverged_at is None


def test_one_race_member_diverging_leaves_the_others_going():
    base = CPU.with_values({"data.split": "random", "train.steps": 100})
    spec = RunSpec.race(base, {"train.lr": [50, 0.2]})
    run = Run(spec)
    run.apply(C.Start())
    run_until_idle(run)
    snap = run.snapshot()
    assert snap.state == State.DONE
    assert snap.step == 100
    assert snap.diverged_at is None
    wild, calm = snap.members
    assert wild.diverged_at == 4
    assert wild.state == "diverged at step 4"
    assert np.isnan(wild.y_pred).all()
    assert wild.test_loss is None
    assert calm.diverged_at is None
    assert calm.state == "ok"
    assert np.isfinite(calm.y_pred).all()
    assert any("50 diverged at step 4" in n.text for n in snap.notices)
    assert len(run.tracker.history(0)) == 3
    assert len(run.tracker.history(1)) == 100
    alone = Experiment(RunSpec(spec.members()[1].cfg)).step(100)[:, 0]
    np.testing.assert_allclose(history(run, 1), alone, rtol=1e-6, atol=1e-6)  # as if it ran alone
    assert snap.lead is calm
    assert snap.train_loss == calm.loss
    assert snap.test_loss == calm.test_loss is not None


def test_every_member_diverged_is_a_diverged_run():
    run = Run(RunSpec.race(CPU, {"train.lr": [20, 50]}))
    run.apply(C.Step(3))
    assert run.state == State.PAUSED  # lr 20 is still finite at step 3, lr 50 too
    run.apply(C.Step(10))
    snap = run.snapshot()
    assert snap.state == State.DIVERGED
    assert snap.diverged_at == 4
    assert [m.diverged_at for m in snap.members] == [5, 4]
    assert all(np.isnan(m.y_pred).all() for m in snap.members)
    refused(run, C.Step(1), "diverged at step 4")


def test_pace_limits_the_steps_by_the_clock():
    clock = FakeClock()
    run = Run(RunSpec(CPU.with_value("train.steps", 100_000)), pace=100, clock=clock)
    run.apply(C.Start())
    wait = tick_until_waiting(run)
    assert run.step == 1
    assert wait == pytest.approx(0.01)
    clock.advance(0.5)
    wait = tick_until_waiting(run)
    assert run.step == 51
    assert wait == pytest.approx(0.01)
    clock.advance(0.004)
    assert run.tick() == pytest.approx(0.006)
    assert run.step == 51
    clock.advance(2.0)
    tick_until_waiting(run)
    assert run.step == 251
    run.apply(C.SetPace(10))
    tick_until_waiting(run)
    clock.advance(1.0)
    tick_until_waiting(run)
    assert run.step == 251 + 11
    run.apply(C.SetPace(None))  # flat out: it never waits, and its chunks grow
    for _ in range(4):
        assert run.tick() == 0.0
    assert run.step >= 262 + 4 + 1
    assert run.snapshot().pace is None


def test_snapshots_are_due_on_changes_and_at_the_publish_rate():
    clock = FakeClock()
    run = Run(RunSpec(CPU.with_value("train.steps", 100_000)), publish_hz=20, clock=clock)
    assert run.snapshot_due()  # a new run is news
    run.snapshot()
    assert not run.snapshot_due()
    run.apply(C.Start())
    assert run.snapshot_due()  # a command is news
    run.snapshot()
    run.tick()
    assert run.step > 0
    assert not run.snapshot_due()
    clock.advance(0.049)
    assert not run.snapshot_due()
    clock.advance(0.002)
    assert run.snapshot_due()


def test_a_snapshot_does_not_grow_with_the_run():
    # quick steps: it is the size that is measured
    small = CPU.with_values({"train.lr": 0.05, "data.points": 20, "model.hidden": "4", "train.steps": 10_000})
    spec = RunSpec.race(small, {"model.activation": ["relu", "tanh", "softplus", "gelu"]}, seeds=4)
    run = Run(spec)
    run.snapshot()  # the first carries the data
    sizes = {}
    for _ in range(100):
        run.apply(C.Step(100))
        snap = run.snapshot()
        sizes[snap.step] = len(pickle.dumps(snap))
    assert len(snap.members) == 16
    assert all(len(m.losses) == 100 for m in snap.members)
    assert snap.step == 10_000
    assert len(run.tracker.history(0)) == 10_000
    assert sizes[10_000] <= 2 * sizes[100], (sizes[100], sizes[10_000])


def test_save_a_single_run_writes_the_whole_set_and_a_loadable_model(tmp_path, monkeypatch):
    cfg = CPU.with_values({"train.steps": 20, "data.split": "random"})
    run = Run(RunSpec(cfg))
    run.apply(C.Start())
    run_until_idle(run)
    path = run.apply(C.Save(str(tmp_path / "run"), fit_text="the chart"))
    snap = run.snapshot()
    assert path == tmp_path / "run"
    assert f"saved run to {path}" in [n.text for n in snap.notices]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == SAVED
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,member,variant,seed,train_loss,test_loss,lr,seconds,dead_l1,")  # line 1: plain CSV
    rows = metrics.rows(tmp_path / "run")
    assert len(rows) == 20
    assert [float(r["train_loss"]) for r in rows] == list(history(run))  # exact: written as repr
    assert {(r["member"], r["variant"], r["seed"]) for r in rows} == {("relu", "relu", "0")}  # named for what it is
    assert rows[-1]["test_loss"] != ""
    assert float(rows[-1]["lr"]) == 0.2
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    net = make_mlp(cfg.model)
    net.load_state_dict(state["exp"]["members"][0]["model"])  # strict: every tensor, right shapes
    with torch.no_grad():
        y = net(torch.tensor(snap.x_grid, dtype=torch.float32)[:, None])[:, 0].double().numpy()
    np.testing.assert_allclose(y, snap.members[0].y_pred, rtol=0, atol=1e-5)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 20
    assert summary["final_loss"] == float(history(run)[-1])
    assert summary["kernels"] == "fast"
    assert set(summary["versions"]) == {"python", "torch", "numpy", "fitscope"}
    assert (tmp_path / "run" / "fit.txt").read_text() == "the chart\n"
    fit = (tmp_path / "run" / "fit.csv").read_text().splitlines()
    assert fit[0] == "x,relu"
    assert len(fit) == 401
    monkeypatch.chdir(tmp_path)
    run.apply(C.Reset())
    run.apply(C.Step(3))
    default = run.apply(C.Save())  # a new run: a new folder under runs/, named for what it is
    assert str(default).startswith("runs/")
    assert str(default).endswith("-cubic-relu")
    assert (tmp_path / default / "checkpoint.pt").is_file()
    run.apply(C.Step(2))
    assert run.apply(C.Save()) == default  # the same run again: its own folder


def test_a_save_has_the_steps_no_snapshot_has_shown_yet(tmp_path):
    run = Run(RunSpec(CPU))
    run.snapshot()
    run.apply(C.Step(7))
    run.apply(C.Save(str(tmp_path / "a")))  # no snapshot in between: the run's tracker is behind
    assert [int(s) for s in metrics.column(tmp_path / "a", "step")] == list(range(1, 8))
    run.apply(C.Step(3))
    (m,) = run.snapshot().members
    assert m.first == 1
    assert len(m.losses) == 10
    h = run.tracker.history(0)
    np.testing.assert_array_equal(h.step, np.arange(1, 11))  # and the run's own record has none twice
    np.testing.assert_array_equal(h.loss, m.losses)
    run.apply(C.Save(str(tmp_path / "b")))
    assert len((tmp_path / "b" / "metrics.csv").read_text().splitlines()) == 11  # the header, 10 rows


def test_save_a_race_writes_every_members_losses_and_its_spec(tmp_path):
    spec = RunSpec.race(CPU, {"model.activation": ["relu", "tanh"]}, seeds=2)
    run = Run(spec)
    run.apply(C.Step(15))
    run.apply(C.Save(str(tmp_path / "race")))
    assert sorted(p.name for p in (tmp_path / "race").iterdir()) == SAVED
    rows = metrics.rows(tmp_path / "race")
    assert len(rows) == 4 * 15
    assert [(r["step"], r["member"], r["variant"], r["seed"]) for r in rows[:4]] == [
        ("1", "relu s0", "relu", "0"), ("1", "relu s1", "relu", "1"), ("1", "tanh s0", "tanh", "0"),
        ("1", "tanh s1", "tanh", "1")]
    from fitscope.core.spec import from_toml

    assert from_toml((tmp_path / "race" / "config.toml").read_text()) == spec  # enough to rerun it exactly


def test_metrics_are_thinned_past_the_cap_and_say_so(tmp_path):
    run = Run(RunSpec(CPU.with_value("train.steps", 100)), history_cap=20)
    run.apply(C.Step(100))
    run.apply(C.Save(str(tmp_path / "t")))
    assert json.loads((tmp_path / "t" / "run.json").read_text())["metrics"] == {"stride": 8, "cap": 20}
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["metrics"] == {"stride": 8, "cap": 20}
    steps = [int(s) for s in metrics.column(tmp_path / "t", "step")]
    assert steps[-1] == 100
    assert len(steps) <= 20
    assert np.all(np.diff(steps[:-1]) == 8)


def test_a_missing_device_is_a_config_error_and_a_bad_reset_keeps_the_run():
    bad = RunSpec(CPU.with_value("train.device", absent_cuda()))
    with pytest.raises(ConfigError, match="train.device"):
        Run(bad)
    run = Run(RunSpec(CPU))
    run.apply(C.Step(5))
    run_id = run.run_id
    refused(run, C.Reset(bad), f"train.device: '{absent_cuda()}' is not valid")
    assert run.run_id == run_id
    assert run.step == 5
    assert run.state == State.PAUSED
    assert run.spec == RunSpec(CPU)
    run.apply(C.Step(1))
    assert run.step == 6


def test_an_error_in_a_step_stops_the_run_and_says_so():
    run = Run(RunSpec(CPU))
    run.apply(C.Step(2))
    run.error(RuntimeError("CUDA error: an illegal memory access was encountered"))
    snap = run.snapshot()
    assert snap.state == State.ERROR
    assert [(n.level, n.text) for n in snap.notices] == [
        (Level.ERROR, "error: RuntimeError: CUDA error: an illegal memory access was encountered")]
    refused(run, C.Step(1), "stopped on an error")
    run.apply(C.Reset())
    assert run.state == State.READY


def test_step_stops_at_the_budget():
    run = Run(RunSpec(CPU.with_value("train.steps", 10)))
    run.apply(C.Step(8))
    run.apply(C.Step(5))  # only the 2 the budget has left
    assert run.step == 10
    assert run.state == State.DONE
    refused(run, C.Step(1), "budget")
    assert run.step == 10


@pytest.mark.parametrize("pace", [None, 5_000, 100])
def test_chunks_fall_on_the_fast_kernels_blocks(pace, monkeypatch):
    done = {"block": 0}
    real = graphs.Block.run

    def counted(self, rows):
        done["block"] += self.steps
        return real(self, rows)

    monkeypatch.setattr(graphs.Block, "run", counted)
    clock = FakeClock()
    total = 100 * graphs.BLOCK + 5  # a tail the budget forces
    run = Run(RunSpec(CPU.with_value("train.steps", total)), pace=pace, clock=clock, blocks="eager")
    run.apply(C.Start())
    while run.state == State.RUNNING:
        if run.tick() != 0.0:
            clock.advance(0.01)
    assert run.step == total
    if pace is None or graphs.BLOCK / pace <= 0.05:  # flat out, or a pace fast enough to gather blocks
        assert done["block"] >= 0.99 * total
        assert done["block"] == total - 5
    else:  # a slow pace steps as it is due, rather than in bursts of a block
        assert done["block"] < total


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_command_has_a_handler_and_answers_with_its_declared_type(tmp_path):
    """A command class the Run's dispatch forgot would be refused as unknown; each answer is the
    type its class declares (Command[T]), which is what mypy tells the callers."""
    import typing
    from pathlib import Path

    from fitscope.core.snapshot import Frames

    saved = Run(RunSpec(CPU))
    saved.apply(C.Step(3))
    saved.apply(C.Save(str(tmp_path / "saved")))
    examples = {C.Start: C.Start(), C.Pause: C.Pause(), C.Toggle: C.Toggle(), C.Step: C.Step(2), C.Reset: C.Reset(),
                C.SetLr: C.SetLr(0.1), C.SetSteps: C.SetSteps(50), C.SetPace: C.SetPace(None),
                C.Save: C.Save(str(tmp_path / "r")), C.Open: C.Open(str(tmp_path / "saved")), C.Inspect: C.Inspect(0),
                C.Timeline: C.Timeline(0), C.SetDevice: C.SetDevice("cpu")}
    assert set(_subclasses(C.Command)) == set(examples)
    declared = {cls: typing.get_args(cls.__orig_bases__[0])[0] for cls in examples}
    assert {cls for cls, t in declared.items() if t is not type(None)} == {C.Save, C.Open, C.Timeline}
    assert (declared[C.Save], declared[C.Open], declared[C.Timeline]) == (Path, RunSpec, Frames)
    run = Run(RunSpec(CPU))
    run.apply(C.Step(1))
    for cls in [C.Step, C.Save, C.Timeline, C.Inspect, C.SetLr, C.SetSteps, C.SetPace, C.Start, C.Pause, C.Toggle,
                C.Reset, C.Open]:
        answer = run.apply(examples[cls])
        assert isinstance(answer, declared[cls]), (cls, answer)
    with pytest.raises(C.Refused, match="on cpu already"):  # handled: refused for what it asks, not as unknown
        run.apply(examples[C.SetDevice])


def test_the_outbox_sends_each_loss_and_notice_once_in_sequence():
    from fitscope.core.engine.outbox import Outbox

    clock = FakeClock()
    box = Outbox(clock, 0.05)
    box.open(2)
    box.say("hello", Level.WARNING)
    box.add(0, 1, np.array([3.0, 2.0]))
    box.add(0, 3, np.array([1.0]))
    assert box.pending(0, 3)[0] == 1
    np.testing.assert_array_equal(box.pending(0, 3)[1], [3.0, 2.0, 1.0])
    assert box.pending(1, 3)[0] == 4
    assert box.pending(1, 3)[1].size == 0  # nothing new: from the next step
    assert box.due()
    assert box.sending() == 1
    box.sent()
    assert box.notices == []
    assert box.pending(0, 3)[1].size == 0
    assert box.data_sent
    assert not box.due()
    box.stepped = True
    assert not box.due()
    clock.advance(0.051)
    assert box.due()  # trained since and the publish interval passed
    assert box.sending() == 2
