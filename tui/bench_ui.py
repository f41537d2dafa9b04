"""`fitscope bench --ui`: the app open over the real engine training flat out, measured."""

from __future__ import annotations

import asyncio
import statistics
import time

from fitscope.core.bench import bare_loop_rate
from fitscope.core.config import FitConfig
from fitscope.tui.app import ENGINES, PACES, FitscopeApp


KEY_GAP = 0.2  # a fast typist's pace: five keys a second


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


async def _measure(cfg: FitConfig, seconds: float, engine: str) -> dict:
    app = FitscopeApp(cfg.with_value("train.steps", 100_000_000), pace=len(PACES) - 1,  # flat out
                      engine_factory=ENGINES[engine])
    latencies, lags = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        snap0 = app.engine.latest
        app.engine.start()
        t_start = time.perf_counter()
        step_start = app.engine.latest.step
        loop = asyncio.get_running_loop()
        handled: list[float] = []
        toggle = app.action_truth

        def timed_toggle() -> None:  # the key's own handler, timed where it runs
            handled.append(time.perf_counter())
            toggle()

        app.action_truth = timed_toggle
        while time.perf_counter() - t_start < seconds:
            # a key event through the app's real queue (as the driver posts one), not Pilot's
            # wait-for-idle, which a busy training thread would make look slow
            t0 = time.perf_counter()
            app.simulate_key("t")
            while len(handled) < len(latencies) + 1 and time.perf_counter() - t0 < 2:
                await asyncio.sleep(0.001)
            latencies.append((handled[-1] - t0) * 1000 if len(handled) > len(latencies) else 2000.0)
            want = loop.time() + KEY_GAP
            await asyncio.sleep(KEY_GAP)
            lags.append(max(0.0, (loop.time() - want) * 1000))
        steps = app.engine.latest.step - step_start
        wall = time.perf_counter() - t_start
        app.engine.pause()
        snap = app.engine.wait_idle(5)
        redraw = []
        for _ in range(15):
            t0 = time.perf_counter()
            app.fit_chart.draw(snap)
            app.fit_chart.render()
            redraw.append((time.perf_counter() - t0) * 1000)
        fit_size = tuple(app.fit_chart.size)
        await pilot.press("q")
    del snap0
    return {"app_steps_per_s": steps / wall, "key_latency_p99_ms": _p99(latencies),
            "key_latency_median_ms": statistics.median(latencies), "loop_lag_p99_ms": _p99(lags),
            "redraw_ms": statistics.median(redraw), "fit_chart_size": fit_size, "keys": len(latencies)}


def ui_bench(cfg: FitConfig, seconds: float = 6.0, rounds: int = 2, engines=("thread", "process")) -> dict:
    """Each engine kind in turn, interleaved with the bare loop, in one process."""
    bare: list[float] = []
    runs: dict[str, list[dict]] = {kind: [] for kind in engines}
    bare_loop_rate(cfg, 300)
    for _ in range(rounds):
        for kind in engines:
            bare.append(bare_loop_rate(cfg, 3000))
            runs[kind].append(asyncio.run(_measure(cfg, seconds, kind)))
    bare.append(bare_loop_rate(cfg, 3000))
    b = statistics.median(bare)
    out: dict = {"bare_steps_per_s": round(b, 1), "rounds": rounds}
    for kind, results in runs.items():
        a = statistics.median(r["app_steps_per_s"] for r in results)
        out[kind] = {
            "app_steps_per_s": round(a, 1),
            "train_ratio": round(a / b, 3),
            "key_latency_p99_ms": round(max(r["key_latency_p99_ms"] for r in results), 1),
            "key_latency_median_ms": round(statistics.median(r["key_latency_median_ms"] for r in results), 1),
            "loop_lag_p99_ms": round(max(r["loop_lag_p99_ms"] for r in results), 1),
            "redraw_ms": round(statistics.median(r["redraw_ms"] for r in results), 2),
            "keys_pressed": sum(r["keys"] for r in results),
        }
    first = engines[0]
    out["engine"] = first  # the top-level fields describe the app's default engine
    out.update({k: out[first][k] for k in ("train_ratio", "key_latency_p99_ms", "redraw_ms")})
    out["redraw_size"] = "120x40 screen, fit chart {}x{}".format(*runs[first][0]["fit_chart_size"])
    return out
