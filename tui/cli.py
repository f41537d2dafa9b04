"""The `fitscope` command: the app by default; run, bench, compare and demo headless."""

from __future__ import annotations

import argparse
import json
import sys

from fitscope.core import config as config_mod
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.spec import MAX_MEMBERS, RunSpec, parse_vary

DESCRIPTION = """\
fitscope — a keyboard-driven terminal lab for fitting functions with small neural networks.
With no command it opens the app on the lesson's experiment (y = x³ − x² + noise, MLP 1-10-10-1,
ReLU, SGD lr 0.2, MSE, 300 full-batch steps)."""

SET_HELP = ("override one setting, e.g. --set train.lr=0.1 --set model.hidden=[32,32]; repeatable "
            "(default: none, the lesson's values). Keys: " + ", ".join(config_mod.keys()))


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one clear line on stderr and exit 2, no usage dump."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _engine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("process", "thread"), default="process",
                   help="where training runs while the app is open: a child process (keeps training at full "
                        "speed while the UI draws) or a thread (default: process)")


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="read settings from a TOML file (default: the lesson's experiment)")
    p.add_argument("--set", dest="sets", metavar="KEY=VALUE", action="append", default=[], help=SET_HELP)
    p.add_argument("--steps", type=int, metavar="N", help="training steps (same as --set train.steps=N; default 300)")
    p.add_argument("--data", metavar="FILE", help="train on your own data: a CSV or whitespace text file with two "
                   "numeric columns x, y (header optional), or .npy (shape n×2) / .npz (arrays x and y); "
                   "same as --set data.file=FILE (default: the generated target)")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fitscope", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _config_args(parser)
    _engine_arg(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="train headless: progress, final chart and summary",
                         description="Train without the UI: a progress bar on a terminal (a line every 10 %% "
                                     "otherwise), then the final scatter-plus-fit chart and a summary. "
                                     "Exit codes: 0 done, 2 bad arguments or config, 3 diverged, 130 interrupted.")
    _config_args(run)
    run.add_argument("--out", metavar="DIR", help="write config.toml, metrics.csv and model.pt to DIR (default: write nothing)")
    run.add_argument("--quiet", action="store_true", help="no progress and no chart, only the summary (default: off)")

    compare = sub.add_parser("compare", help="race variants side by side, batched: overlay chart and table",
                             description="Train the product of the --vary lists, each over --seeds initial seeds, "
                                         "as one batched computation on the same data; print the overlay chart and "
                                         "each variant's median, min and max final loss.")
    _config_args(compare)
    compare.add_argument("--vary", metavar="KEY=V1,V2", action="append", default=[],
                         help="a setting and its values, e.g. model.activation=relu,softplus,tanh or "
                              "train.lr=0.05,0.2 (hidden sizes: model.hidden=10,10;32); repeatable: the "
                              "product is raced (default: model.activation=relu,softplus,tanh)")
    compare.add_argument("--seeds", type=int, default=1, metavar="N",
                         help="initial-weight seeds per variant, 0..N-1 (default: 1, the data seed's stream)")
    compare.add_argument("--out", metavar="DIR", help="write compare.csv (variant, seed, step, loss) and config.toml to DIR")
    compare.add_argument("--quiet", action="store_true", help="only the table (default: off)")

    sub.add_parser("demo", help="the lesson's story in one command: the ReLU fit, then the activation race",
                   description="The single ReLU fit of the lesson, then ReLU vs softplus vs tanh over 5 seeds, "
                               "its chart and table, and the best activation by median loss.")

    bench = sub.add_parser("bench", help="measure the engine against a bare PyTorch loop, side by side",
                           description="Time the engine (publishing snapshots at 20/s) and the lesson's bare "
                                       "loop on the same config in one process, interleaved, and print the ratio.")
    _config_args(bench)
    _engine_arg(bench)
    bench.add_argument("--compare", type=int, metavar="K",
                       help="time a K-member race batched against K single runs one after another, and a "
                            "mixed-activation race against a one-activation race (default: off)")
    bench.add_argument("--load", type=int, metavar="N",
                       help="time reading an N-row CSV and building a trainer on it, beside numpy's loadtxt "
                            "(default: off; the goal is < 2 s for 1000000)")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of text (default: text)")
    bench.add_argument("--rounds", type=int, default=5, metavar="N", help="interleaved rounds; medians are reported (default: 5; 2 with --ui)")
    bench.add_argument("--ui", action="store_true",
                       help="open the app (headless, 120x40) over the engine training flat out and measure key "
                            "latency (p99), training speed against the bare loop, and one chart redraw (default: off)")
    return parser


def load_config(args: argparse.Namespace) -> FitConfig:
    cfg = config_mod.load(args.config) if args.config else FitConfig()
    cfg = config_mod.apply_assignments(cfg, args.sets)
    if args.steps is not None:
        cfg = cfg.with_value("train.steps", args.steps)
    if args.data is not None:
        cfg = cfg.with_value("data.file", args.data)
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args)
        if args.command == "run":
            from fitscope.tui import headless

            return headless.run(cfg, args.out, args.quiet)
        if args.command == "bench":
            return _bench(cfg, args)
        if args.command == "compare":
            from fitscope.tui import race

            vary = parse_vary(args.vary or ["model.activation=relu,softplus,tanh"])
            if RunSpec.race(cfg, vary, args.seeds).count() < 2:
                raise ConfigError("--vary", " ".join(args.vary), "a race needs at least 2 members (values × seeds)")
            return race.run_race(cfg, vary, args.seeds, args.out, args.quiet)[0]
        if args.command == "demo":
            from fitscope.tui import race

            return race.demo()
        from fitscope.tui.app import run_app

        return run_app(RunSpec(cfg), args.engine)
    except ConfigError as exc:
        print(f"fitscope: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _bench(cfg: FitConfig, args: argparse.Namespace) -> int:
    from fitscope.core.bench import engine_vs_bare

    if args.compare:
        from fitscope.core.bench import compare_speed

        if not 2 <= args.compare <= MAX_MEMBERS:
            raise ConfigError("--compare", args.compare, f"expected a member count from 2 to {MAX_MEMBERS}")
        r = compare_speed(cfg, args.compare, rounds=3 if args.rounds == 5 else max(1, args.rounds))
        if args.json:
            print(json.dumps(r))
        else:
            print(f"K={r['k']}: batched {r['batched_steps_per_s']:,.0f} race steps/s vs {r['k']} sequential runs "
                  f"{r['sequential_steps_per_s']:,.0f} → speedup {r['speedup']:.2f}× · mixed activations "
                  f"{r['mixed_activation_steps_per_s']:,.0f} steps/s = {r['mixed_vs_single_activation']:.2f}× "
                  f"of one activation (medians of {r['rounds']} rounds, {r['steps']} steps each)")
        return 0
    if args.load:
        from fitscope.core.bench import load_timing

        r = load_timing(args.load)
        if args.json:
            print(json.dumps(r))
        else:
            print(f"{r['rows']:,} rows: read {r['load_s']:.2f} s ({r['load_vs_numpy']:.2f}× numpy.loadtxt's "
                  f"{r['numpy_loadtxt_s']:.2f} s), trainer built {r['trainer_build_s']:.2f} s, "
                  f"total {r['total_s']:.2f} s (goal < 2 s)")
        return 0
    if args.ui:
        from fitscope.tui.app import ENGINES
        from fitscope.tui.bench_ui import ui_bench

        order = (args.engine, *(k for k in ENGINES if k != args.engine))
        r = ui_bench(cfg, rounds=2 if args.rounds == 5 else max(1, args.rounds), engines=order)
        if args.json:
            print(json.dumps(r))
            return 0
        print(f"bare loop {r['bare_steps_per_s']:,.0f} steps/s; app open at 120x40, training flat out, a key every 0.2 s:")
        for kind in order:
            k = r[kind]
            print(f"  {kind:<7} engine: {k['app_steps_per_s']:,.0f} steps/s → train_ratio {k['train_ratio']:.3f} "
                  f"(goal ≥ 0.8) · key latency p99 {k['key_latency_p99_ms']:.1f} ms, median "
                  f"{k['key_latency_median_ms']:.1f} ms (goal ≤ 50) · loop lag p99 {k['loop_lag_p99_ms']:.1f} ms · "
                  f"redraw {k['redraw_ms']:.1f} ms (goal ≤ 15)")
        print(f"  ({r['redraw_size']}; top-level JSON fields describe the {order[0]} engine)")
        return 0

    result = engine_vs_bare(cfg, rounds=max(1, args.rounds))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"engine {result['engine_steps_per_s']:,.0f} steps/s · bare loop {result['bare_steps_per_s']:,.0f} steps/s"
              f" · ratio {result['ratio']:.3f} (goal ≥ 0.9) · {result['snapshots_per_s']:.0f} snapshots/s · "
              f"{result['device']}, {result['threads']} thread(s), medians of {result['rounds']} rounds")
    return 0


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `fitscope run | head`: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    entry()
