"""Every way a member can end is named: diverged @N, blew up, collapsed, ok."""

import dataclasses

import numpy as np

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine.health import BLOWUP_FACTOR, COLLAPSE_SPREAD, failed, health
from fitscope.core.engine.run import Run
from fitscope.core.snapshot import MemberSnap, ranked
from fitscope.core.spec import RunSpec

GRID = np.linspace(-1, 1, 50)


def test_nan_at_a_step_is_diverged_at_that_step():
    assert health(0.5, 1e34, 39, GRID ** 3, 2.0) == "diverged @39"


def test_a_loss_far_above_its_first_blew_up():
    # Adam at lr 30 in the issue: 3.1e4 against a first loss of ~0.5
    assert health(0.5, 3.1e4, None, GRID ** 3, 2.0) == "blew up"
    assert health(0.5, 0.5 * BLOWUP_FACTOR * 0.99, None, GRID ** 3, 2.0) == "ok"


def test_a_constant_prediction_collapsed():
    flat = np.full(50, 0.52433) + 1e-5 * GRID
    assert health(0.6, 0.52433, None, flat, 2.0) == "collapsed"
    assert health(0.6, 0.1, None, 0.52433 + 2.0 * COLLAPSE_SPREAD * GRID, 2.0) == "ok"


def test_a_healthy_fit_is_ok_and_only_ok_is_not_failed():
    assert health(0.6, 0.0047, None, GRID ** 3 - GRID ** 2, 2.0) == "ok"
    assert health(None, None, None, None, None) == "ok"
    assert not failed("ok")
    assert all(failed(w) for w in ("blew up", "collapsed", "diverged @3"))


def test_a_run_names_each_members_end_and_ranks_the_failed_last():
    # the Adam lr race: lr 30 ends far above its first loss; the small lr fits

    base = (FitConfig().with_value("train.device", "cpu").with_value("train.optimizer", "adam")
            .with_value("train.steps", 300))
    run = Run(RunSpec.race(base, {"train.lr": [30.0, 0.01]}))
    assert {m.health for m in run.snapshot().members} == {"ok"}  # nothing trained yet: nothing failed
    run.apply(C.Step(300))
    for _ in range(100_000):
        if run.tick() is None:
            break
    snap = run.snapshot()
    words = {m.label: m.health for m in snap.members}
    big, small = (next(m for m in snap.members if m.label.endswith(x)) for x in ("30", "0.01"))
    assert big.health in ("blew up", "collapsed") or big.health.startswith("diverged @"), words
    assert small.health == "ok", words
    assert snap.lead is small  # the failed one never leads, whatever its loss


def test_ranked_puts_every_failed_member_after_every_healthy_one():
    def member(loss, word):
        return MemberSnap("m", "m", 0, loss, None, loss, 1, None, GRID, 1, np.zeros(0), health=word)

    members = (member(0.001, "blew up"), member(0.5, "ok"), member(0.01, "collapsed"), member(0.2, "ok"))
    assert ranked(members) == [3, 1, 0, 2]
    dead = dataclasses.replace(member(1e-9, "diverged @3"), diverged_at=3)
    assert ranked((dead, *members))[-1] == 0
