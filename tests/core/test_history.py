"""Loss histories in bounded memory, and the Tracker that folds snapshot deltas into them."""

import numpy as np
import pytest

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.engine.history import LossHistory
from fitscope.core.engine.run import Run
from fitscope.core.spec import RunSpec

CPU = FitConfig().with_value("train.device", "cpu")


class ReferenceHistory:
    """LossHistory's rule written plainly, one step at a time: every step is a row until the cap;
    a full table merges neighbouring rows (min of mins, max of maxes, the later row's last value,
    step and time) and doubles the bucket width; an unfinished bucket shows as one more row."""

    def __init__(self, cap: int):
        self.cap, self.stride = cap, 1
        self.rows: list[tuple[int, float, float, float, float]] = []  # step, last, lo, hi, seconds
        self.open: list[tuple[int, float, float]] = []  # step, loss, seconds

    def extend(self, first: int, losses, t0: float, t1: float) -> None:
        k = len(losses)
        for i, loss in enumerate(losses):
            self.add(first + i, float(loss), t0 + (t1 - t0) * (i + 1) / k)

    def add(self, step: int, loss: float, sec: float) -> None:
        self.open.append((step, loss, sec))
        if len(self.open) < self.stride:
            return
        if len(self.rows) == self.cap:  # no room for this bucket: halve the table, wider buckets
            self.rows = [(b[0], b[1], min(a[2], b[2]), max(a[3], b[3]), b[4])
                         for a, b in zip(self.rows[0::2], self.rows[1::2])]
            self.stride *= 2
            return  # the open bucket is now half full
        losses = [x[1] for x in self.open]
        self.rows.append((step, loss, min(losses), max(losses), sec))
        self.open = []

    def view(self) -> tuple[np.ndarray, ...]:
        rows = list(self.rows)
        if self.open:
            losses = [x[1] for x in self.open]
            rows.append((self.open[-1][0], self.open[-1][1], min(losses), max(losses), self.open[-1][2]))
        cols = list(zip(*rows)) if rows else [(), (), (), (), ()]
        return tuple(np.array(c, dtype=float) for c in cols)


@pytest.mark.parametrize("cap", [2, 8, 50])
@pytest.mark.parametrize("seed", range(4))
def test_extend_equals_the_step_by_step_rule_for_any_chunking(cap, seed):
    rng = np.random.default_rng(seed)
    h, ref = LossHistory(cap), ReferenceHistory(cap)
    step, t = 1, 0.0
    strides = set()
    while step <= 3000:
        k = int(rng.choice([0, 1, 2, 3, 7, int(rng.integers(1, 400))]))
        losses = rng.lognormal(size=k)
        if k and rng.random() < 0.1:
            losses[rng.integers(k)] = 1e6  # a spike
        dt = float(rng.uniform(0, 0.1))
        h.extend(step, losses, t, t + dt)
        ref.extend(step, losses, t, t + dt)
        step, t = step + k, t + dt
        v = h.view()
        assert v.stride == ref.stride
        assert len(v) == len(h) <= cap + 1
        for got, want in zip((v.step, v.loss, v.lo, v.hi, v.seconds), ref.view()):
            np.testing.assert_array_equal(got, want)
        curve = h.curve()  # what a chart draws: the same two columns
        np.testing.assert_array_equal(curve.step, v.step)
        np.testing.assert_array_equal(curve.hi, v.hi)
        strides.add(v.stride)
    assert len(strides) > 3  # it went through several compactions


def test_history_keeps_every_point_then_min_max_buckets():
    h = LossHistory(cap=8)
    losses = np.arange(1, 21, dtype=float)
    losses[13] = 1000.0  # a spike
    h.extend(1, losses[:5], 0, 1)
    h.extend(6, losses[5:], 1, 2)
    v = h.view()
    assert len(h) <= 8 + 1
    assert v.stride == 4
    assert v.hi.max() == 1000.0  # the spike survives downsampling
    assert v.step[-1] == 20
    assert v.loss[-1] == 20.0
    assert v.lo.min() == 1.0
    assert np.all(np.diff(v.step) > 0)
    assert not v.loss.flags.writeable
    assert not v.step.flags.writeable


def test_history_exact_below_cap():
    h = LossHistory(cap=100)
    h.extend(1, np.array([3.0, 2.0, 1.0]), 0.0, 0.3)
    v = h.view()
    assert list(v.step) == [1, 2, 3]
    assert list(v.loss) == [3.0, 2.0, 1.0]
    assert v.stride == 1
    np.testing.assert_allclose(v.seconds, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(v.lo, v.hi)


def test_an_empty_history_and_a_bad_cap():
    h = LossHistory(4)
    h.extend(1, np.zeros(0), 0, 1)
    assert len(h) == 0
    assert len(h.view()) == 0
    for cap in (0, 1, 3):
        with pytest.raises(ValueError, match="even"):
            LossHistory(cap)


def test_the_tracker_folds_deltas_and_starts_over_on_a_new_run():
    run = Run(RunSpec.race(CPU.with_value("data.split", "random"), {"model.activation": ["relu", "tanh"]}))
    t = Tracker(cap=100)
    t.feed(run.snapshot())
    for n in (3, 5, 1):
        run.apply(C.Step(n))
        t.feed(run.snapshot())
    t.feed(run.snapshot())  # nothing new: nothing added
    for j in (0, 1):
        h, own = t.history(j), run.tracker.history(j)
        np.testing.assert_array_equal(h.step, np.arange(1, 10))
        np.testing.assert_array_equal(h.loss, own.loss)
        assert [s for s, _ in t.test_history(j)] == [3, 8, 9]  # one test loss per step it was taken at
    assert h.seconds[-1] == pytest.approx(run.elapsed)
    assert np.all(np.diff(h.seconds) >= 0)
    run.apply(C.Reset(RunSpec(CPU)))
    first = t.feed(run.snapshot())
    assert first.data is not None
    assert len(first.members) == 1
    assert len(t.history(0)) == 0
    assert t.test_history(0) == ()
    with pytest.raises(IndexError):
        t.history(1)  # the old race's second member is gone with it
