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


NETS = {"lesson": "the lesson's net", "big": "1-64-64-1 on 10,000 points", "large": "1-256-256-1 on 100,000 points"}


def _speed_rows(engine: dict[str, Any], limit: dict[str, Any] | None) -> list[str]:
    """compiled against fast per net and the compile's time (when the engine bench measured them);
    the whole step against its matmuls alone (when ``bench --limit`` ran)."""
    lines = []
    comp = engine.get("compiled")
    if comp is not None:
        for name, label in NETS.items():
            k = comp[name]
            note = "" if k["compiled"] else " (the compile failed: fast both sides)"
            lines.append(f"| compiled (torch.compile) vs fast, {label}, {k['threads']} thread(s) | "
                         f"{_spread(k['compiled_vs_fast'])}{note} | ≥ 1.3× to offer it |")
        c = comp["compile_s"]
        lines.append(f"| compile, the lesson's net, fresh process: cold / warm (torch's cache) | "
                     f"{_spread(c['cold'], ' s')} / {_spread(c['warm'], ' s')} | |")
    if limit is not None:
        for name in ("big", "large"):
            k = limit[name]
            lines.append(f"| whole step vs its matmuls alone, {NETS[name]}, {k['threads']} thread(s) | "
                         f"{_spread(k['step_vs_gemm'])} (matmuls {k['gemm_gflop_per_s']['median']:g} GFLOP/s) | ≥ 0.7× |")
    return lines


def render(engine: dict[str, Any], race: dict[str, Any], startup: dict[str, Any] | None,
           versions: dict[str, str], limit: dict[str, Any] | None = None) -> str:
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
    lines += _speed_rows(engine, limit)
    if startup is not None:
        lines.append(f"| the app's first frame vs `import torch` (fresh processes, median of {startup['rounds']}) | "
                     f"{startup['first_frame_vs_import_torch']:g}× ({startup['first_frame_s']:.2f} s vs "
                     f"{startup['import_torch_s']:.2f} s) | ≤ 0.5× |")
    lines += ["", f"Rounds: engine {engine['rounds']}, race {race['rounds']}. Commands: `fitscope bench --json`, "
              f"`fitscope bench --compare {race['k']} --json`, `fitscope bench --startup --json`"
              + (", `fitscope bench --limit --json`" if limit is not None else "") + ".", ""]
    return "\n".join(lines)


def markdown(cfg: FitConfig, rounds: int | None) -> str:
    import numpy
    import torch

    from fitscope.core.bench import compare_speed, engine_vs_bare, step_vs_gemm
    from fitscope.tui.bench_ui import startup_bench

    engine = engine_vs_bare(cfg, rounds=rounds or 5)
    race = compare_speed(cfg, 8, rounds=rounds or 3)
    limit = step_vs_gemm(cfg, rounds or 3)
    startup = startup_bench(rounds or 3)
    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__}
    return render(engine, race, startup, versions, limit)
