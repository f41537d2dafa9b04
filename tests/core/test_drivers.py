"""The drivers: a thread, a worker process and the manual one honour the same commands and give
the same numbers. Waits are on snapshots and events; their timeouts are only a backstop."""

import threading
import time

import numpy as np
import pytest

from fitscope.core import commands as C
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.drivers.process import ProcessDriver
from fitscope.core.drivers.thread import ManualDriver, ThreadDriver
from fitscope.core.engine.run import Run
from fitscope.core.engine.training import Experiment
from fitscope.core.snapshot import Level, State
from fitscope.core.spec import RunSpec

from support.devices import absent_cuda

CPU = FitConfig().with_values({"train.device": "cpu", "train.steps": 120})
RACE = RunSpec.race(CPU, {"model.activation": ["relu", "tanh", "softplus"]})
BAD = RunSpec(CPU.with_value("train.device", absent_cuda()))
SAVED = ["checkpoint.pt", "config.toml", "fit.csv", "fit.txt", "metrics.csv", "run.json", "summary.json",
         "timeline.npz"]
T = 60  # seconds; a backstop, never what decides a test
DRIVERS = {"thread": ThreadDriver, "process": ProcessDriver}


@pytest.fixture
def make():
    made = []

    def make(kind, spec, **kw):
        driver = DRIVERS[kind](spec, **kw)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


class Notices:
    """Collects the notices of every snapshot a driver delivers; waits for one by an event."""

    def __init__(self, driver):
        self.seen: list = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        driver.subscribe(self._take)

    def _take(self, snap) -> None:
        with self._arrived:
            self.seen.extend(snap.notices)
            self._arrived.notify_all()

    def wait(self, fragment: str, level: Level = Level.ERROR):
        with self._arrived:
            ok = self._arrived.wait_for(lambda: any(n.level == level and fragment in n.text for n in self.seen),
                                        timeout=T)
        assert ok, f"no {level} notice with {fragment!r}; saw {self.seen}"


def manual_history(spec: RunSpec, steps: int) -> list[np.ndarray]:
    """What the manual driver records for the same spec and commands: step 7, then start to the end."""
    d = ManualDriver(spec)
    d.send(C.Step(7)).result()
    d.send(C.Start()).result()
    while d.latest.state == State.RUNNING:
        d.pump()
    assert d.latest.state == State.DONE
    assert d.latest.step == steps
    return [np.asarray(d.tracker.history(j).loss) for j in range(len(spec.members()))]


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_driver_takes_every_command_and_matches_the_manual_driver(kind, make, tmp_path):
    expected = manual_history(RunSpec(CPU), 120)
    d = make(kind, RunSpec(CPU))
    notices = Notices(d)
    first = d.wait_for(lambda s: True, timeout=T)
    assert first is not None
    assert first.state == State.READY
    assert first.step == 0
    d.send(C.Step(7)).result(timeout=T)
    snap = d.wait_for(lambda s: s.step == 7 and s.state == State.PAUSED, timeout=T)
    assert snap.step == 7
    assert len(snap.data.x_train) == 300
    d.send(C.Start()).result(timeout=T)
    snap = d.wait_for(lambda s: s.state == State.DONE, timeout=T)
    assert snap.state == State.DONE
    assert snap.step == 120
    assert len(snap.lead.y_pred) == 400
    h = d.tracker.history(0)
    np.testing.assert_array_equal(h.step, np.arange(1, 121))
    np.testing.assert_array_equal(h.loss, expected[0])  # the same numbers, every one of them

    d.send(C.SetLr(0.05)).result(timeout=T)
    d.send(C.SetSteps(150)).result(timeout=T)
    d.send(C.Start()).result(timeout=T)
    snap = d.wait_for(lambda s: s.state == State.DONE and s.step == 150, timeout=T)
    assert snap.step == 150
    assert snap.config.train.lr == 0.05
    assert snap.budget == 150
    path = d.send(C.Save(str(tmp_path / "run"))).result(timeout=T)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == SAVED
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 151  # the header, 150 rows
    notices.wait(f"saved run to {path}", Level.INFO)
    with pytest.raises(C.Refused, match=r"budget \(150\) is reached"):
        d.send(C.Start()).result(timeout=T)
    notices.wait("budget (150) is reached")

    pid = d.pid if kind == "process" else None
    run_id = d.latest.run_id
    d.send(C.Reset(RACE)).result(timeout=T)
    snap = d.wait_for(lambda s: s.run_id != run_id, timeout=T)
    assert snap.racing
    assert len(snap.members) == 3
    assert snap.step == 0
    assert snap.state == State.READY
    race_id = snap.run_id
    d.send(C.Step(5)).result(timeout=T)
    snap = d.wait_for(lambda s: s.step == 5, timeout=T)
    race = Experiment(RACE).step(5)
    for j in range(3):
        np.testing.assert_array_equal(d.tracker.history(j).loss, race[:, j])  # histories started over

    with pytest.raises(C.Refused, match=f"train.device: '{absent_cuda()}' is not valid"):
        d.send(C.Reset(BAD)).result(timeout=T)
    notices.wait(f"train.device: '{absent_cuda()}' is not valid")
    d.send(C.SetPace(50)).result(timeout=T)
    d.send(C.Step(1)).result(timeout=T)
    snap = d.wait_for(lambda s: s.step == 6, timeout=T)
    assert snap.step == 6
    assert snap.pace == 50
    assert snap.racing
    assert snap.spec == RACE.with_base(snap.spec.base)
    assert snap.run_id == race_id
    if kind == "process":
        assert d.pid == pid
        assert d.alive

    # close ends it promptly, even flat out
    d.send(C.SetSteps(100_000_000)).result(timeout=T)
    d.send(C.SetPace(None)).result(timeout=T)
    d.send(C.Start()).result(timeout=T)
    assert d.wait_for(lambda s: s.step > 200, timeout=T).step > 200
    t0 = time.monotonic()
    d.close()
    took = time.monotonic() - t0
    assert d.wait_for(lambda s: s.state == State.STOPPED, timeout=T).state == State.STOPPED
    if kind == "thread":
        assert not d.alive
    else:
        assert d.exit_code == 0  # it ended itself: not killed after close's timeout
    assert took < 5  # a generous bound on "promptly"; close gives up (and fails above) at 5 s
    with pytest.raises(C.Refused, match="stopped"):
        d.send(C.Start()).result(timeout=T)


def test_a_killed_worker_is_an_error_state_and_a_failure_not_a_hang(make):
    d = make("process", RunSpec(CPU.with_value("train.steps", 100_000_000)))
    seen = []  # whoever hears the error state hears the failure with it (it once came a moment later)
    d.subscribe(lambda s: seen.append(d.failure) if s.state == State.ERROR else None)
    d.send(C.Start()).result(timeout=T)
    assert d.wait_for(lambda s: s.step > 50, timeout=T).step > 50
    d.kill()
    snap = d.wait_for(lambda s: s.state == State.ERROR, timeout=T)
    assert snap.state == State.ERROR
    assert snap.step > 50
    assert d.failure is not None
    assert "ended unexpectedly" in d.failure
    assert seen == [d.failure]
    assert any("ended unexpectedly" in n.text for n in snap.notices)
    assert len(d.tracker.history(0)) > 0
    assert not d.alive
    with pytest.raises(C.Refused, match="engine has stopped"):
        d.send(C.Start()).result(timeout=T)


def test_a_bad_first_spec_is_a_config_error():
    with pytest.raises(ConfigError, match="train.device"):
        ThreadDriver(BAD)
    d = ProcessDriver(BAD)
    try:
        assert d.wait_for(lambda s: False, timeout=T) is None  # returns on the failure, with no run
        assert d.failure is not None
        assert f"train.device: '{absent_cuda()}' is not valid" in d.failure
    finally:
        d.close()


def test_the_manual_driver_applies_commands_at_once_and_survives_a_broken_subscriber():
    d = ManualDriver(RunSpec(CPU))
    d.subscribe(lambda s: 1 / 0)
    assert d.send(C.Step(3)).result() is None
    assert d.latest.step == 3
    bad = d.send(C.SetLr(-1))
    assert isinstance(bad.exception(), C.Refused)
    assert "train.lr" in str(bad.exception())
    assert any("train.lr" in n.text for n in d.latest.notices)
    d.send(C.Start())
    snap = d.pump(3)
    assert snap.state == State.RUNNING
    assert snap.step > 3
    d.close()
    assert d.latest.state == State.STOPPED


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(caplog):
    from fitscope.core.drivers.driver import Mailbox

    box, heard = Mailbox(), []

    def broken(snap):
        raise ValueError("a bug in a subscriber")

    box.subscribe(broken)
    box.subscribe(heard.append)
    run = Run(RunSpec(CPU))
    with caplog.at_level("ERROR", logger="fitscope"):
        box.deliver(run.snapshot())
    assert len(heard) == 1  # the broken one did not stop the delivery
    assert "subscriber failed" in caplog.text
    assert "a bug in a subscriber" in caplog.text
