"""`fitscope bench`: the engine's speed measured, printed as text or JSON."""

from __future__ import annotations

import argparse
import json

from fitscope.core import config as config_mod
from fitscope.core.config import FitConfig
from fitscope.core.errors import ConfigError
from fitscope.core.spec import MAX_MEMBERS


def _report(result: dict, as_json: bool, text: str) -> None:
    print(json.dumps(result) if as_json else text)


def bench(cfg: FitConfig, args: argparse.Namespace) -> int:
    rounds = args.rounds
    if rounds is not None and not 1 <= rounds <= 100:
        raise ConfigError("--rounds", rounds, "expected a whole number from 1 to 100")
    if args.device is not None and not args.device.startswith("cuda"):
        cfg = cfg.with_value("train.device", args.device)
    modes = ((args.markdown, _markdown), (args.device is not None and args.device.startswith("cuda"), _cuda),
             (args.startup, _startup), (args.compare, _compare), (args.load is not None, _load), (args.ui, _ui),
             (args.limit, _limit))
    for wanted, measure in modes:
        if wanted:
            return measure(cfg, args, rounds)
    return _engine(cfg, args, rounds)


def _markdown(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.tui.bench_markdown import markdown

    print(markdown(cfg, rounds))
    return 0


def _cuda(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.core.bench import device_speed

    r = device_speed(cfg, rounds=rounds or 3)
    if not r["cuda"]:
        _report(r, args.json, r["message"])
        return 0
    lines = [f"{r['device']}, {r['steps']:,} full-batch steps, medians of {r['rounds']} rounds "
             f"(CPU: {r['cpu_threads']} threads of {r['cores']} cores):"]
    for name, goal in (("lesson", "graph ≥ 5× eager"), ("large", "GPU ≥ 10× the CPU")):
        k = r[name]
        lines.append(f"  {name}: eager {k['eager_steps_per_s']:,.0f} · graph {k['graph_steps_per_s']:,.0f} steps/s "
                     f"= {k['graph_vs_eager']:.2f}× · CPU {k['cpu_steps_per_s']:,.0f} → GPU {k['gpu_vs_cpu']:.1f}× "
                     f"the CPU (goal: {goal})")
    k = r["race32"]
    lines.append(f"  race of 32: eager {k['eager_steps_per_s']:,.0f} · graph {k['graph_steps_per_s']:,.0f} race "
                 f"steps/s = {k['graph_vs_eager']:.2f}×")
    lines += [f"  note: {n}" for n in r["graph_notices"]]
    _report(r, args.json, "\n".join(lines))
    return 0


def _startup(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.tui.bench_ui import startup_bench

    r = startup_bench(rounds or 3)
    _report(r, args.json, f"fresh processes, medians of {r['rounds']} ({r['cores']} cores): import torch "
            f"{r['import_torch_s']:.2f} s · app's first frame {r['first_frame_s']:.2f} s "
            f"= {r['first_frame_vs_import_torch']:.2f}× import torch (goal ≤ 0.5) · engine ready, "
            f"first chart {r['engine_ready_s']:.2f} s")
    return 0


def _compare(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.core.bench import compare_speed

    if not 2 <= args.compare <= MAX_MEMBERS:
        raise ConfigError("--compare", args.compare, f"expected a member count from 2 to {MAX_MEMBERS}")
    r = compare_speed(cfg, args.compare, rounds=rounds or 3)
    _report(r, args.json, f"K={r['k']}: batched {r['batched_steps_per_s']:,.0f} race steps/s vs {r['k']} sequential "
            f"runs {r['sequential_steps_per_s']:,.0f} → speedup {r['speedup']:.2f}× "
            f"({r['speedup_vs_autograd']:.1f}× sequential autograd runs) · mixed activations "
            f"{r['mixed_activation_steps_per_s']:,.0f} steps/s = {r['mixed_vs_single_activation']:.2f}× "
            f"of one activation, {r['mixed_vs_its_activations_apart']:.2f}× of its activations raced apart "
            f"(medians of {r['rounds']} rounds, {r['steps']} steps each, {r['cores']} cores)")
    return 0


def _load(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    if not 1 <= args.load <= config_mod.MAX_POINTS:
        raise ConfigError("--load", args.load, f"expected a row count from 1 to {config_mod.MAX_POINTS:,} "
                          "(the limit of data.points)")
    from fitscope.core.bench import load_timing

    r = load_timing(args.load)
    _report(r, args.json, f"{r['rows']:,} rows: read {r['load_s']:.2f} s ({r['load_vs_numpy']:.2f}× numpy.loadtxt's "
            f"{r['numpy_loadtxt_s']:.2f} s), run built {r['trainer_build_s']:.2f} s, "
            f"total {r['total_s']:.2f} s (goal < 2 s)")
    return 0


def _ui(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.tui.bench_ui import ui_bench

    r = ui_bench(cfg, rounds=rounds or 2, engine=args.engine)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"the app at 120x40 over the {r['engine']} engine, training flat out, a key every 0.2 s "
          f"({r['cores']} cores; min / median / max of {r['rounds']} rounds):")
    for name in ("single", "race16"):
        k = r[name]

        def f(key: str, unit: str = "", k=k) -> str:
            v = k[key]
            return f"{v['min']:g} / {v['median']:g} / {v['max']:g}{unit}"

        print(f"  {name} ({k['members']} member{'s' if k['members'] > 1 else ''}, to step {k['steps_at_end']:,}): "
              f"train_ratio {f('train_ratio')} (goal ≥ 0.8, vs {k['bare_steps_per_s']:,.0f} steps/s bare) · "
              f"key p99 {f('key_latency_p99_ms', ' ms')} (goal ≤ 50) · loop lag p99 {f('loop_lag_p99_ms', ' ms')} "
              f"(goal ≤ 50) · redraw {f('redraw_ms', ' ms')} (goal ≤ 15)")
    print(f"  switch single → race → single: {r['switch_s']:.3f} s at the slowest (goal ≤ 0.3)")
    return 0


def _fmt(s: dict, unit: str = "") -> str:
    """min / median / max of a spread."""
    return f"{s['min']:g} / {s['median']:g} / {s['max']:g}{unit}"


def _limit(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.core.bench import step_vs_gemm

    r = step_vs_gemm(cfg, rounds or 3, quick=args.quick)
    lines = [f"the whole fast step against its matmuls alone (same shapes, tensors and threads; min / median / max "
             f"of {r['rounds']} rounds, {r['cores']} cores):"]
    for name in ("big", "large"):
        k = r[name]
        net = "-".join(map(str, [1, *k["hidden"], 1]))
        lines.append(f"  {net} on {k['points']:,} points, {k['threads']} thread(s): step_vs_gemm "
                     f"{_fmt(k['step_vs_gemm'])} (goal ≥ 0.7) · step {_fmt(k['step_steps_per_s'])} steps/s · "
                     f"matmuls alone {_fmt(k['gemm_steps_per_s'])} steps/s = {_fmt(k['gemm_gflop_per_s'], ' GFLOP/s')}")
    _report(r, args.json, "\n".join(lines))
    return 0


def _compiled_lines(r: dict) -> list[str]:
    names = {"lesson": "lesson's net", "big": "1-64-64-1 on 10,000 points", "large": "1-256-256-1 on 100,000 points"}
    lines = [f"compiled (torch.compile) vs fast, bare stepping (min / median / max of {r['rounds']} rounds, "
             f"{r['cores']} cores):"]
    for name, label in names.items():
        k = r[name]
        said = "" if k["compiled"] else " (the compile failed: both are fast)"
        lines.append(f"  {label}, {k['threads']} thread(s): {_fmt(k['compiled_vs_fast'], '×')} · compiled "
                     f"{_fmt(k['compiled_steps_per_s'])} vs fast {_fmt(k['fast_steps_per_s'])} steps/s{said}")
    c = r["compile_s"]
    lines.append(f"  compile, the lesson's net, fresh processes: cold {_fmt(c['cold'], ' s')} · warm (torch's cache) "
                 f"{_fmt(c['warm'], ' s')}")
    return lines


def _engine(cfg: FitConfig, args: argparse.Namespace, rounds: int | None) -> int:
    from fitscope.core.bench import engine_vs_bare

    result = engine_vs_bare(cfg, rounds=rounds or 5, quick=args.quick)
    if args.json:
        print(json.dumps(result))
    else:
        sp = result["ratio_spread"]
        print(f"engine ({result['kernels']}) {result['engine_steps_per_s']:,.0f} steps/s · the lesson's bare loop "
              f"{result['bare_steps_per_s']:,.0f} steps/s · ratio {result['ratio']:.2f}× (goal ≥ 2.5; "
              f"{sp['min']:g}–{sp['max']:g}) · {result['snapshots_per_s']:.0f} snapshots/s · the network's numbers "
              f"cost {100 * result['inside_cost']:.1f} % of it (goal ≤ 10) · {result['device']}, "
              f"{result['threads']} thread(s), {result['cores']} cores, medians of {result['rounds']} rounds")
        es = result["engine_vs_stepping"]
        print(f"engine vs its own bare stepping (Experiment.step, interleaved; goal ≥ 0.9): lesson's net "
              f"{es['lesson']['median']:g}× ({es['lesson']['min']:g}–{es['lesson']['max']:g}) · 1-64-64-1 on "
              f"10,000 points {es['big']['median']:g}× ({es['big']['min']:g}–{es['big']['max']:g})")
        print("\n".join(_compiled_lines(result["compiled"])))
    return 0
