"""One run of the real app over the real process driver: train a few hundred steps, pause, look."""

import asyncio

import numpy as np

from fitscope.core.config import FitConfig
from fitscope.core.snapshot import State
from fitscope.tui.app import ENGINES, PACES, FitscopeApp


async def wait_for(app, predicate, timeout=60):
    """Until the driver's latest snapshot satisfies ``predicate``; the app's loop runs meanwhile."""
    snap = await asyncio.to_thread(app.driver.wait_for, predicate, timeout)
    assert app.driver.failure is None, app.driver.failure
    assert snap is not None, f"timed out; last snapshot: {snap and (snap.state, snap.step)}"
    assert predicate(snap), f"timed out; last snapshot: {snap and (snap.state, snap.step)}"
    return snap


async def test_real_engine_trains_then_pauses_and_the_screen_shows_it():
    cfg = FitConfig().with_values({"train.device": "cpu", "train.steps": 100_000})
    app = FitscopeApp(cfg, engine_factory=ENGINES["process"], pace=PACES.index((1000, "1k/s")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")  # queued in the pipe even while the worker still loads torch
        snap = await wait_for(app, lambda s: s.step >= 300)
        assert snap.state == State.RUNNING
        await pilot.press("space")
        snap = await wait_for(app, lambda s: s.state == State.PAUSED, timeout=10)
        assert snap.step >= 300
        app.refresh_view()  # a redraw tick, now rather than after a sleep
        await pilot.pause()
        status = str(app.status_bar.render())
        assert "paused" in status
        assert f"step {snap.step:,}/" in status
        chart = str(app.fit_chart.render())
        assert f"Loss={snap.train_loss:.4f}" in chart
        assert any(0x2800 <= ord(c) <= 0x28FF for c in chart)  # the braille fit and data
        assert any(line.strip().startswith(str(snap.step)) and "paused" in line for line in app.log_view.lines)
        assert np.isfinite(snap.members[0].y_pred).all()
        history = app.driver.tracker.history(0)
        assert history.step[-1] == snap.step  # the losses arrived up to the last step
        if history.stride == 1:  # one row a step (below the history's cap): none was lost on the way
            assert len(history) == snap.step
        await pilot.press("q")
    assert not app.driver.alive  # the worker process ended with the app
    assert app.driver.exit_code is not None


async def test_after_the_engine_dies_keys_say_so_and_R_restarts_it_with_the_current_settings(tmp_path, monkeypatch):
    import os
    import signal

    monkeypatch.chdir(tmp_path)
    cfg = FitConfig().with_values({"train.device": "cpu", "train.steps": 100_000, "model.activation": "tanh"})
    app = FitscopeApp(cfg, engine_factory=ENGINES["process"], pace=PACES.index((1000, "1k/s")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")
        await wait_for(app, lambda s: s.step >= 50)
        os.kill(app.driver.pid, signal.SIGKILL)
        await asyncio.to_thread(app.driver.wait_for, lambda s: s.state == State.ERROR, 30)
        assert app.driver.failure is not None
        app.refresh_view()
        await pilot.pause()
        for key in ("r", "a", "e", "n"):  # reset, a setting, save, a step: none pretends to apply
            before = len(app._notifications)
            await pilot.press(key)
            assert any("the engine has stopped — press R" in n.message for n in list(app._notifications)[before:])
        assert app.cfg.model.activation == "tanh"
        assert not (tmp_path / "runs").exists()
        assert "math domain error" not in str(app.loss_chart.render())
        assert "chart unavailable" not in str(app.loss_chart.render())
        await pilot.press("R")
        snap = await wait_for(app, lambda s: s.state == State.READY and s.step == 0)
        assert snap.config.model.activation == "tanh"
        assert app.driver.failure is None
        await pilot.press("space")
        await wait_for(app, lambda s: s.step >= 10)
        await pilot.press("q")
