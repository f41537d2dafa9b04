import threading
import time

import numpy as np
import pytest

from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.engine import DIVERGED, DONE, PAUSED, READY, STOPPED, Engine
from fitscope.core.history import LossHistory

CPU = FitConfig().with_value("train.device", "cpu")


@pytest.fixture
def make_engine():
    engines = []

    def make(cfg=CPU, **kw):
        e = Engine(cfg, **kw)
        engines.append(e)
        return e

    yield make
    for e in engines:
        e.stop()


def test_ready_snapshot_before_any_step(make_engine):
    snap = make_engine().latest
    assert snap.state == READY and snap.step == 0 and snap.train_loss is None
    assert len(snap.x_grid) == len(snap.y_pred) > 100
    assert not snap.y_pred.flags.writeable and not snap.history.loss.flags.writeable


def test_single_steps_and_reset_replays_the_same_run(make_engine):
    e = make_engine()
    e.step(5)
    snap = e.wait_for(lambda s: s.step == 5, timeout=5)
    assert snap.state == PAUSED
    first = snap.history.loss.copy()
    seq = snap.seq
    e.reset()
    e.step(5)
    snap = e.wait_for(lambda s: s.step == 5 and s.seq > seq, timeout=5)
    assert snap.seq > seq
    np.testing.assert_array_equal(snap.history.loss, first)


def test_pause_takes_effect_within_one_step(make_engine):
    e = make_engine(CPU.with_value("train.steps", 10_000_000))
    e.start()
    e.wait_for(lambda s: s.step > 200, timeout=10)
    e.pause()
    snap = e.wait_for(lambda s: s.state == PAUSED, timeout=5)
    time.sleep(0.2)
    assert e.latest.step == snap.step  # nothing ran after the pause
    assert e.trainer.steps_done == snap.step


def test_stop_ends_the_thread_promptly(make_engine):
    e = make_engine(CPU.with_value("train.steps", 10_000_000))
    e.start()
    e.wait_for(lambda s: s.step > 100, timeout=10)
    t0 = time.monotonic()
    e.stop()
    assert time.monotonic() - t0 < 1.0
    assert e.latest.state == STOPPED
    assert not any(t.name == "fitscope-engine" and t.is_alive() for t in threading.enumerate() if t is e._thread)


def test_snapshots_are_rate_limited(make_engine):
    e = make_engine(CPU.with_value("train.steps", 10_000_000), publish_hz=20)
    seen = []
    e.subscribe(lambda s: seen.append(time.monotonic()))
    e.start()
    time.sleep(1.0)
    e.pause()
    e.wait_for(lambda s: s.state == PAUSED, timeout=5)
    running = len(seen)
    assert e.latest.step > 500  # thousands of steps, yet...
    assert running <= 20 + 4  # ...at most ~20 snapshots a second (plus state changes)


def test_live_lr_and_budget_update(make_engine):
    e = make_engine(CPU.with_value("train.steps", 50))
    e.update(lr=0.05, steps=80)
    e.start()
    snap = e.wait_for(lambda s: s.state == DONE, timeout=10)
    assert snap.step == 80 and snap.budget == 80
    assert snap.config.train.lr == 0.05
    assert e.trainer.optimizer.param_groups[0]["lr"] == 0.05


def test_budget_raised_after_done_can_continue(make_engine):
    e = make_engine(CPU.with_value("train.steps", 30))
    e.start()
    e.wait_for(lambda s: s.state == DONE, timeout=10)
    e.update(steps=60)
    e.start()
    snap = e.wait_for(lambda s: s.state == DONE and s.step == 60, timeout=10)
    assert snap.step == 60


def test_divergence_stops_the_run_with_the_step(make_engine):
    e = make_engine(CPU.with_value("train.lr", 60))
    e.start()
    snap = e.wait_for(lambda s: s.state == DIVERGED, timeout=10)
    assert snap.diverged_at is not None and snap.message == f"diverged at step {snap.diverged_at}"
    assert np.isfinite(snap.history.loss).all()
    e.start()  # refused until reset, not a crash
    snap = e.wait_for(lambda s: "reset" in s.message, timeout=5)
    assert snap.state == DIVERGED and "reset (r) to train again" in snap.message


def test_pace_caps_the_step_rate(make_engine):
    e = make_engine(CPU.with_value("train.steps", 100_000), pace=100)
    e.start()
    time.sleep(0.5)
    e.pause()
    snap = e.wait_for(lambda s: s.state == PAUSED, timeout=5)
    assert 20 <= snap.step <= 80


def test_missing_device_is_a_config_error():
    with pytest.raises(ConfigError, match="train.device"):
        Engine(FitConfig().with_value("train.device", "cuda:7"))


def test_save_writes_three_files(make_engine, tmp_path):
    e = make_engine(CPU.with_value("train.steps", 20))
    e.start()
    e.wait_for(lambda s: s.state == DONE, timeout=10)
    path = e.save(tmp_path / "run").result(timeout=10)
    assert sorted(p.name for p in path.iterdir()) == ["config.toml", "metrics.csv", "model.pt"]
    rows = (path / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,train_loss,seconds" and len(rows) == 21


def test_history_keeps_every_point_then_min_max_buckets():
    h = LossHistory(cap=8)
    losses = np.arange(1, 21, dtype=float)
    losses[13] = 1000.0  # a spike
    h.extend(1, losses[:5], 0, 1)
    h.extend(6, losses[5:], 1, 2)
    v = h.view()
    assert len(h) <= 8 + 1 and v.stride > 1
    assert v.hi.max() == 1000.0  # the spike survives downsampling
    assert v.step[-1] == 20 and v.lo.min() == 1.0
    assert np.all(np.diff(v.step) > 0)


def test_history_exact_below_cap():
    h = LossHistory(cap=100)
    h.extend(1, np.array([3.0, 2.0, 1.0]), 0.0, 0.3)
    v = h.view()
    assert list(v.step) == [1, 2, 3] and list(v.loss) == [3.0, 2.0, 1.0]
    np.testing.assert_allclose(v.seconds, [0.1, 0.2, 0.3])


def test_step_n_runs_exactly_n_steps(make_engine):
    e = make_engine()
    for _ in range(3):
        e.step(40)
    snap = e.wait_for(lambda s: s.step >= 120 and s.state == PAUSED, timeout=10)
    time.sleep(0.1)
    assert e.latest.step == 120 and snap.step == 120
