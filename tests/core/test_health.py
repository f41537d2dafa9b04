"""Every way a member can end is named: diverged @N, blew up, collapsed, ok."""

import numpy as np

from fitscope.core.health import BLOWUP_FACTOR, COLLAPSE_SPREAD, failed, health

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
