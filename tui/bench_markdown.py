"""`fitscope bench --markdown`: the measured figures the docs quote, as one Markdown page (docs/bench.md).

The README points here instead of carrying numbers typed in by hand: every figure below is
printed by the benches themselves, side by side in one run, with its spread and the machine.
"""

from __future__ import annotations

import datetime
import platform
import sys
from typing import Any

from fitscope.core.config import FitConfig


def _spread(s: dict[str, Any], unit: str = "×") -> str:
    return f"{s['min']:g}{unit} / **{s['median']:g}{unit}** / {s['max']:g}{unit}"


def render(engine: dict[str, Any], race: dict[str, Any], startup: dict[str, Any] | None,
           versions: dict[str, str]) -> str:
    """The page, from the benches' JSON results (pure, so a test can render canned results)."""
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Measured figures",
        "",
        f"Written by `fitscope bench --markdown` on {when}: {engine['cores']} cores, "
        f"{platform.machine()}, " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "Each ratio is measured side by side in one process, rounds interleaved; min / **median** / max.",
        "On a shared machine absolute steps/s move with the load; the ratios move less.",
        "",
        "| what | figure | goal |",
        "|---|---|---|",
        f"| engine ({engine['kernels']}) vs the lesson's bare loop, {engine['threads']} thread(s) | "
        f"{_spread(engine['ratio_spread'])} ({engine['engine_steps_per_s']:,.0f} vs "
        f"{engine['bare_steps_per_s']:,.0f} steps/s) | ≥ 2.5× |",
        f"| the network's numbers' share of the engine's time | "
        f"{_spread({k: round(100 * v, 1) for k, v in engine['inside_cost_spread'].items()}, ' %')} | ≤ 10 % |",
        f"| engine vs its own bare stepping, lesson's net | {_spread(engine['engine_vs_stepping']['lesson'])} | ≥ 0.9× |",
        f"| engine vs its own bare stepping, 1-64-64-1 on 10,000 points | "
        f"{_spread(engine['engine_vs_stepping']['big'])} | ≥ 0.9× |",
        f"| snapshots published per second | {engine['snapshots_per_s']:g} | ≤ 20 |",
        f"| race of {race['k']} vs {race['k']} sequential fast runs | {_spread(race['speedup_spread'])} | ≥ 3.5× |",
        f"| race of {race['k']} vs {race['k']} sequential autograd runs | {race['speedup_vs_autograd']:g}× | |",
        f"| mixed activations vs one activation (race of {race['k']}) | {race['mixed_vs_single_activation']:g}× | |",
    ]
    if startup is not None:
        lines.append(f"| the app's first frame vs `import torch` (fresh processes, median of {startup['rounds']}) | "
                     f"{startup['first_frame_vs_import_torch']:g}× ({startup['first_frame_s']:.2f} s vs "
                     f"{startup['import_torch_s']:.2f} s) | ≤ 0.5× |")
    lines += ["", f"Rounds: engine {engine['rounds']}, race {race['rounds']}. Commands: `fitscope bench --json`, "
              f"`fitscope bench --compare {race['k']} --json`, `fitscope bench --startup --json`.", ""]
    return "\n".join(lines)


def markdown(cfg: FitConfig, rounds: int | None) -> str:
    import numpy
    import torch

    from fitscope.core.bench import compare_speed, engine_vs_bare
    from fitscope.tui.bench_ui import startup_bench

    engine = engine_vs_bare(cfg, rounds=rounds or 5)
    race = compare_speed(cfg, 8, rounds=rounds or 3)
    startup = startup_bench(rounds or 3)
    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__}
    return render(engine, race, startup, versions)
