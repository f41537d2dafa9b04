"""The engine in a child process honours the same commands and gives the same numbers."""

import numpy as np
import pytest

from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.engine import DONE, PAUSED, Engine
from fitscope.core.process_engine import ProcessEngine

CPU = FitConfig().with_values({"train.device": "cpu", "train.steps": 120})


def test_process_engine_matches_the_thread_engine_and_takes_every_command(tmp_path):
    local = Engine(CPU)
    local.start()
    expected = local.wait_for(lambda s: s.state == DONE, timeout=20).history.loss.copy()
    local.stop()

    e = ProcessEngine(CPU)
    try:
        e.step(7)
        snap = e.wait_for(lambda s: s.step == 7 and s.state == PAUSED, timeout=20)
        assert len(snap.data.x_train) == 300  # the data view arrives once and is reused after
        e.start()
        snap = e.wait_for(lambda s: s.state == DONE, timeout=20)
        np.testing.assert_array_equal(snap.history.loss, expected)
        assert snap.data is not None and len(snap.y_pred) == len(snap.x_grid)
        e.update(lr=0.05, steps=150)
        e.start()
        snap = e.wait_for(lambda s: s.state == DONE and s.step == 150, timeout=20)
        assert snap.config.train.lr == 0.05
        path = e.save(tmp_path / "run").result(timeout=20)
        assert sorted(p.name for p in path.iterdir()) == ["config.toml", "metrics.csv", "model.pt"]
        e.reset(CPU.with_value("model.activation", "tanh"))
        snap = e.wait_for(lambda s: s.step == 0 and s.config.model.activation == "tanh", timeout=20)
        e.set_pace(50)
        e.step(1)
        assert e.wait_for(lambda s: s.step == 1, timeout=20).pace == 50
    finally:
        e.stop()
    assert not e._proc.is_alive()


def test_process_engine_reports_a_bad_device_as_a_config_error():
    with pytest.raises(ConfigError, match="train.device"):
        ProcessEngine(CPU.with_value("train.device", "cuda:5"))


def test_a_dead_engine_process_becomes_an_error_state_not_a_hang():
    e = ProcessEngine(CPU)
    try:
        e._proc.kill()
        snap = e.wait_for(lambda s: s.state == "error", timeout=20)
        assert snap.state == "error" and "ended unexpectedly" in snap.message
        e.start()  # commands to a dead engine are ignored, not raised
    finally:
        e.stop()
