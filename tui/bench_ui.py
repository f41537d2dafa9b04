"""`fitscope bench --ui` and `--startup`: the app measured over the real engine.

--ui: the app open at 120x40 over training flat out (a single run, and a 16-member race past
6,000 steps): key latency, event-loop lag, training speed against the same run stepped bare in
this process, one chart redraw, and the time a single <-> race switch takes.
--startup: fresh processes, side by side: `import torch`, the app's first frame, the engine ready.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.snapshot import Snapshot
from fitscope.core.spec import RunSpec
from fitscope.tui.app import ENGINES, PACES, FitscopeApp

KEY_GAP = 0.2  # a fast typist's pace: five keys a second
RACE_WARM_STEPS = 6_000


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


def spread(values: list[float], digits: int = 3) -> dict:
    return {"min": round(min(values), digits), "median": round(statistics.median(values), digits),
            "max": round(max(values), digits)}


def bare_rate(spec: RunSpec, seconds: float = 1.5) -> float:
    """The same run stepped in this process with no app and no driver: what training costs alone."""
    from fitscope.core.engine.training import Experiment  # torch: only the bench loads it in this process

    exp = Experiment(spec)
    exp.step(20)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        exp.step(100)
        n += 100
    return n / (time.perf_counter() - t0)


async def _until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the engine did not answer in time")
        await asyncio.sleep(0.01)


def _latest(app: FitscopeApp) -> Snapshot:
    snap = app.driver.latest
    if snap is None:
        raise RuntimeError("the engine has sent no snapshot yet")
    return snap


async def _switch_time(app: FitscopeApp, spec: RunSpec) -> float:
    """Seconds from the switch key's handler to the new run's first chart frame."""
    t0 = time.perf_counter()
    before = _latest(app).run_id
    app.switch_spec(spec)
    await _until(lambda: (s := _latest(app)).run_id != before and app.fit_chart.drawn_seq == s.seq)
    return time.perf_counter() - t0


async def _measure(spec: RunSpec, seconds: float, engine: str, warm_steps: int, switch: bool) -> dict:
    flat_out = len(PACES) - 1
    app = FitscopeApp(spec=spec, pace=flat_out, engine_factory=ENGINES[engine], background_charts=True,
                      lazy_settings=True, freeze_heap=True)
    latencies: list[float] = []
    lags: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: app.driver.latest is not None)
        out: dict = {}
        if switch:  # single -> race -> single, the slowest of the two
            race = RunSpec.race(spec.base, {"model.activation": ["relu", "softplus", "tanh"]})
            out["switch_s"] = max([await _switch_time(app, race), await _switch_time(app, spec)])
        app.send(C.Start())
        await _until(lambda: _latest(app).step >= warm_steps)
        t_start = time.perf_counter()
        step_start = _latest(app).step
        loop = asyncio.get_running_loop()
        handled: list[float] = []
        toggle = app.fit_chart.action_truth

        def timed_toggle() -> None:  # the key's own handler, timed where it runs
            handled.append(time.perf_counter())
            toggle()

        app.fit_chart.action_truth = timed_toggle  # timed where the key runs
        while time.perf_counter() - t_start < seconds:
            # a key event through the app's real queue (as the driver posts one), not Pilot's
            # wait-for-idle, which busy training would make look slow
            t0 = time.perf_counter()
            app.simulate_key("t")
            while len(handled) < len(latencies) + 1 and time.perf_counter() - t0 < 2:
                await asyncio.sleep(0.001)
            latencies.append((handled[-1] - t0) * 1000 if len(handled) > len(latencies) else 2000.0)
            want = loop.time() + KEY_GAP
            await asyncio.sleep(KEY_GAP)
            lags.append(max(0.0, (loop.time() - want) * 1000))
        steps = _latest(app).step - step_start
        wall = time.perf_counter() - t_start
        app.send(C.Pause())
        await _until(lambda: _latest(app).state != "running")
        snap = _latest(app)
        # a build of the last frames may still be under way on the charts' thread: let it end, so
        # that each redraw timed here is one chart's cost, not two sharing the interpreter
        await _until(lambda: not app.fit_chart.building and not app.loss_chart.building)
        redraw = []
        for _ in range(15):
            t0 = time.perf_counter()
            app.fit_chart.draw(snap, app.driver.tracker)
            app.fit_chart.render()
            app.loss_chart.draw(snap, app.driver.tracker)
            app.loss_chart.render()
            redraw.append((time.perf_counter() - t0) * 1000)
        fit_size = tuple(app.fit_chart.size)
        await pilot.press("q")
    out.update({"app_steps_per_s": steps / wall, "key_latency_p99_ms": _p99(latencies),
                "key_latency_median_ms": statistics.median(latencies), "loop_lag_p99_ms": _p99(lags),
                "redraw_ms": statistics.median(redraw), "fit_chart_size": fit_size, "keys": len(latencies),
                "steps_at_end": snap.step})
    return out


def ui_bench(cfg: FitConfig, seconds: float = 6.0, rounds: int = 2, engine: str = "process") -> dict:
    """Each case in turn, interleaved with the same run stepped bare, in one process."""
    cfg = cfg.with_value("train.steps", 100_000_000)
    race16 = RunSpec.race(cfg, {"train.lr": [0.02 * (i + 1) for i in range(8)]}, 2)
    cases = {"single": (RunSpec(cfg), 0), "race16": (race16, RACE_WARM_STEPS)}
    out: dict = {"engine": engine, "cores": os.cpu_count(), "rounds": rounds, "seconds": seconds}
    for name, (spec, warm) in cases.items():
        runs, bares = [], []
        for _ in range(rounds):
            bares.append(bare_rate(spec))
            runs.append(asyncio.run(_measure(spec, seconds, engine, warm, switch=name == "single")))
        bares.append(bare_rate(spec))
        bare = statistics.median(bares)
        case = {"members": spec.count(), "bare_steps_per_s": round(bare, 1),
                "app_steps_per_s": spread([r["app_steps_per_s"] for r in runs], 1),
                "train_ratio": spread([r["app_steps_per_s"] / bare for r in runs]),
                "key_latency_p99_ms": spread([r["key_latency_p99_ms"] for r in runs], 1),
                "key_latency_median_ms": spread([r["key_latency_median_ms"] for r in runs], 1),
                "loop_lag_p99_ms": spread([r["loop_lag_p99_ms"] for r in runs], 1),
                "redraw_ms": spread([r["redraw_ms"] for r in runs], 2),
                "steps_at_end": min(r["steps_at_end"] for r in runs),
                "keys_pressed": sum(r["keys"] for r in runs),
                "fit_chart_size": "{}x{}".format(*runs[0]["fit_chart_size"])}
        if name == "single":
            case["switch_s"] = spread([r["switch_s"] for r in runs])
            out["switch_s"] = case["switch_s"]["max"]
        out[name] = case
    worst = [out[n] for n in cases]
    out.update({"train_ratio": min(c["train_ratio"]["median"] for c in worst),
                "key_latency_p99_ms": max(c["key_latency_p99_ms"]["max"] for c in worst),
                "loop_lag_p99_ms": max(c["loop_lag_p99_ms"]["max"] for c in worst),
                "redraw_ms": max(c["redraw_ms"]["median"] for c in worst)})
    return out


# ---- start-up -------------------------------------------------------------------------------
_FIRST_FRAME = """
import asyncio, sys
from pathlib import Path
from fitscope.core.config import FitConfig
from fitscope.tui import app as app_mod
from fitscope.tui.app import FitscopeApp

class Timed(FitscopeApp):
    CSS_PATH = str(Path(app_mod.__file__).parent / "app.tcss")

    def on_mount(self):
        super().on_mount()
        # after the first refresh of the screen, i.e. once its first frame has been painted
        self.call_after_refresh(lambda: print("frame", "torch" in sys.modules, flush=True))

async def main():
    app = Timed(FitConfig().with_value("train.device", "cpu"), background_charts=True, lazy_settings=True)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.driver.latest is None or app.fit_chart.drawn_seq != app.driver.latest.seq:
            await asyncio.sleep(0.005)
        await pilot.pause()
        print("ready", app.driver.latest.step, flush=True)
        await pilot.press("q")
asyncio.run(main())
"""


def _timed_lines(code: str) -> dict[str, tuple[float, str]]:
    """Seconds from starting a fresh interpreter to each line it prints, by the line's first word."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = {}
    for line in proc.stdout:
        word, _, rest = line.strip().partition(" ")
        seen[word] = (time.perf_counter() - t0, rest)
    if proc.wait() != 0:
        raise RuntimeError(f"the timed process failed (exit {proc.returncode})")
    return seen


def startup_bench(rounds: int = 3) -> dict:
    torch_s, frame_s, ready_s = [], [], []
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
        torch_s.append(_timed_lines("import torch\nprint('done')")["done"][0])
        seen = _timed_lines(_FIRST_FRAME)
        if seen["frame"][1] != "False":
            raise RuntimeError("the app's process imported torch before its first frame")
        frame_s.append(seen["frame"][0])
        ready_s.append(seen["ready"][0])
    ratios = [f / t for f, t in zip(frame_s, torch_s)]
    return {"cores": os.cpu_count(), "rounds": rounds,
            "import_torch_s": round(statistics.median(torch_s), 3), "first_frame_s": round(statistics.median(frame_s), 3),
            "engine_ready_s": round(statistics.median(ready_s), 3),
            "first_frame_vs_import_torch": round(statistics.median(ratios), 3),
            "spread": {"import_torch_s": spread(torch_s), "first_frame_s": spread(frame_s),
                       "engine_ready_s": spread(ready_s), "first_frame_vs_import_torch": spread(ratios)}}
