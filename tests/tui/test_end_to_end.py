"""One run of the real app over the real engine: train a few hundred steps, pause, look."""

import time

import numpy as np

from fitscope.core.config import FitConfig
from fitscope.core.engine import PAUSED, RUNNING
from fitscope.tui.app import ENGINES, PACES, FitscopeApp


async def test_real_engine_trains_then_pauses_and_the_screen_shows_it():
    cfg = FitConfig().with_values({"train.device": "cpu", "train.steps": 100_000})
    app = FitscopeApp(cfg, engine_factory=ENGINES["process"], pace=PACES.index((1000, "1k/s")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")
        deadline = time.monotonic() + 30
        while app.engine.latest.step < 300 and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert app.engine.latest.state == RUNNING
        await pilot.press("space")
        snap = app.engine.wait_for(lambda s: s.state == PAUSED, timeout=10)
        assert snap.step >= 300
        await pilot.pause(0.3)  # a redraw tick
        status = str(app.status_bar.render())
        assert "paused" in status and f"step {snap.step:,}/" in status
        chart = str(app.fit_chart.render())
        assert f"Loss={snap.train_loss:.4f}" in chart
        assert any(0x2800 <= ord(c) <= 0x28FF for c in chart)  # the braille fit and data
        assert any(line.strip().startswith(str(snap.step)) and "paused" in line for line in app.log_view.lines)
        assert np.isfinite(snap.y_pred).all()
        await pilot.press("q")
    assert not app.engine._proc.is_alive()
