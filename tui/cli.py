"""The `fitscope` command: the app by default; run, bench, compare and demo headless."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fitscope.core import config as config_mod
from fitscope.core import spec as spec_mod
from fitscope.core.config import FitConfig
from fitscope.core.errors import ConfigError
from fitscope.core.spec import RunSpec, coerce_seeds, parse_vary
from fitscope.core.store import folder as rundir
from fitscope.tui import argv as argv_mod
from fitscope.tui import runs_view, serve_cmd, signals
from fitscope.tui.precheck import its_config, precheck

COMMANDS = ("run", "compare", "runs", "show", "plot", "export", "demo", "bench", "check", "serve")
HEADLESS = ("run", "compare", "demo")

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


def _whole(text: str) -> int:
    """A whole number in ASCII digits (int() would take other scripts' digits too)."""
    if not text.isascii() or not text.strip().lstrip("+-").isdigit():
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}")
    return int(text)


def _engine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("process", "thread"), default="process",
                   help="where training runs while the app is open: a child process (keeps training at full "
                        "speed while the UI draws) or a thread (default: process)")


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="read settings from a TOML file (default: the lesson's experiment)")
    p.add_argument("--set", dest="sets", metavar="KEY=VALUE", action="append", default=[], help=SET_HELP)
    p.add_argument("--steps", type=_whole, metavar="N", help="training steps (same as --set train.steps=N; default 300)")
    p.add_argument("--data", metavar="FILE", help="train on your own data: a CSV or whitespace text file with two "
                   "numeric columns x, y (header optional), or .npy (shape n×2) / .npz (arrays x and y); "
                   "same as --set data.file=FILE (default: the generated target)")
    p.add_argument("--x", dest="x_column", metavar="NAME", help="the data file's column to use as x: a header name "
                   "or a 0-based index (same as --set data.x_column=NAME; default: found when unambiguous)")
    p.add_argument("--y", dest="y_column", metavar="NAME", help="the data file's column to use as y "
                   "(same as --set data.y_column=NAME)")


def _vary_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--vary", metavar="KEY=V1,V2", action="append", default=[],
                   help=what + "a setting's values, e.g. model.activation=relu,softplus,tanh or train.lr=0.05,0.2 "
                        "(hidden sizes: model.hidden=10,10;32); repeatable: the product is raced")
    p.add_argument("--seeds", type=str, default="1", metavar="N",
                   help="initial-weight seeds per variant, 0..N-1 (default: 1, the data seed's stream)")


def _save_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="save the run into DIR (default: a new folder under ./runs); "
                   "a folder that holds a run already is refused unless --force")
    p.add_argument("--force", action="store_true", help="let --out replace the run a folder holds (default: refuse)")
    p.add_argument("--no-save", action="store_true", help="keep nothing on disk (default: save the run)")


def race_spec(cfg: FitConfig, args: argparse.Namespace, default: list[str], given: RunSpec | None = None) -> RunSpec:
    """The race the --vary and --seeds arguments ask for (else a race config's own), checked
    before anything is built."""
    if given is not None and given.racing and not args.vary and args.seeds == "1":
        return given.with_base(cfg)
    spec = RunSpec.race(cfg, parse_vary(args.vary or default), coerce_seeds(args.seeds))
    if spec.count() < 2:
        raise ConfigError("--vary", " ".join(args.vary), "a race needs at least 2 members (values × seeds)")
    return spec


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fitscope", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _config_args(parser)
    _engine_arg(parser)
    _vary_args(parser, "open the app straight into a race of ")
    parser.add_argument("--open", metavar="RUN", help="open the app on a saved run, ready to continue it "
                        "(also: fitscope RUN)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="train headless: progress, final chart and summary",
                         description="Train without the UI: a progress bar on a terminal (a line every 10 % "
                                     "otherwise), then the final scatter-plus-fit chart and a summary. "
                                     "Exit codes: 0 done, 2 bad arguments or config, 3 diverged, 130 interrupted.")
    _config_args(run)
    _save_args(run)
    run.add_argument("--resume", metavar="RUN",
                     help="continue a saved run (a folder under runs/) bit for bit, to --steps N in all (default: its "
                          "own budget); writes into RUN; its settings come from RUN")
    run.add_argument("--frames", type=int, metavar="N", default=0,
                     help="also print N charts of the fit at moments spread over the run (e.g. steps 1, 30, 100, "
                          "300), to show it forming (default: 0, only the final chart)")
    run.add_argument("--quiet", action="store_true", help="no progress and no chart, only the summary (default: off)")

    compare = sub.add_parser("compare", help="race variants side by side, batched: overlay chart and table",
                             description="Train the product of the --vary lists, each over --seeds initial seeds, "
                                         "as one batched computation on the same data; print the overlay chart and "
                                         "each variant's median, min and max final loss.")
    _config_args(compare)
    _vary_args(compare, "race the product of ")
    _save_args(compare)
    compare.add_argument("--quiet", action="store_true", help="only the table (default: off)")

    runs = sub.add_parser("runs", help="list saved runs, newest first",
                          description="A table of the runs saved under DIR (default: ./runs): name, date, target, "
                                      "net, members, steps and final loss, newest first.")
    runs.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="where to look (default: runs)")
    show = sub.add_parser("show", help="a saved run's summary and chart; several runs side by side",
                          description="Print a saved run's final chart (fit.txt) and its summary (a race: each "
                                      "variant's median, min and max final loss, as compare prints them); given "
                                      "several runs, a table of them side by side: the settings that differ, the "
                                      "final, test and best losses and steps/s.")
    show.add_argument("runs", nargs="+", metavar="RUN", help="a run's folder; more than one: side by side")
    plot = sub.add_parser("plot", help="saved runs as a figure (PNG, SVG or PDF; needs the [plot] extra)",
                          description="Draw saved runs with matplotlib: the data (test points apart), the truth "
                                      "where there is one and each run's fit; a race as one panel per variant, its "
                                      "median member bold and the other seeds faint, the final loss in each title. "
                                      "Needs matplotlib: pip install -e \".[plot]\".")
    plot.add_argument("runs", nargs="+", metavar="RUN", help="a run's folder; more than one: their panels side by side")
    plot.add_argument("-o", "--out", metavar="FILE", help="the figure's file, .png, .svg or .pdf (default: a new "
                      "fitscope-RUN.png in the current folder, its name printed)")
    plot.add_argument("--loss", action="store_true", help="also draw the loss curves (log axis) under each panel, "
                      "failed members marked (default: the fits only)")
    export = sub.add_parser("export", help="a saved run as one standalone PyTorch script",
                            description="Write a standalone Python script (torch only; matplotlib optional) that "
                                        "reproduces RUN: its data, model, optimiser and loop. "
                                        "Usage: fitscope export RUN > fit.py")
    export.add_argument("run", metavar="RUN", help="the run's folder")
    export.add_argument("--embed-data", action="store_true", help="write a data file's points into the script, so it "
                        "runs on another machine (at most 100,000 points; default: the script reads the file and "
                        "checks its SHA-256)")

    sub.add_parser("demo", help="the lesson's story in one command: the ReLU fit, then the activation race",
                   description="The single ReLU fit of the lesson, then ReLU vs softplus vs tanh over 5 seeds, "
                               "its chart and table, and the best activation by median loss.")

    bench = sub.add_parser("bench", help="measure the engine against a bare PyTorch loop, side by side",
                           description="Time the engine's single run (train.kernels, publishing snapshots at "
                                       "20/s) and the lesson's bare autograd loop on the same config in one "
                                       "process, interleaved, and print the ratio.")
    _config_args(bench)
    _engine_arg(bench)
    bench.add_argument("--compare", type=int, metavar="K",
                       help="time a K-member race batched against K single runs one after another, and a "
                            "mixed-activation race against a one-activation race (default: off)")
    bench.add_argument("--load", type=int, metavar="N",
                       help="time reading an N-row CSV and building a trainer on it, beside numpy's loadtxt "
                            "(default: off; the goal is < 2 s for 1000000)")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of text (default: text)")
    bench.add_argument("--limit", action="store_true",
                       help="the whole training step against its matmuls alone (the BLAS floor) for 1-64-64-1 on "
                            "10,000 points and 1-256-256-1 on 100,000 (default: off)")
    bench.add_argument("--quick", action="store_true",
                       help="tiny sizes: every figure comes out in seconds, none worth quoting (a test's; default: off)")
    bench.add_argument("--markdown", action="store_true",
                       help="run the engine, race-of-8 and start-up benches and print the page docs/bench.md holds")
    bench.add_argument("--rounds", type=int, metavar="N",
                       help="interleaved rounds; medians are reported (default: 5; 3 with --compare and --startup; "
                            "2 with --ui)")
    bench.add_argument("--startup", action="store_true",
                       help="in fresh processes: import torch, the app's first frame, and the engine ready "
                            "(default: off)")
    bench.add_argument("--device", metavar="DEVICE",
                       help="cuda: on the GPU, CUDA-graph steps against eager ones for the lesson's net and a "
                            "1-256-256-1 net on 100,000 points, the GPU against 2 CPU threads, and a 32-member race "
                            "(says so and exits 0 without CUDA); cpu or another: the engine bench there "
                            "(default: train.device)")
    bench.add_argument("--ui", action="store_true",
                       help="open the app (headless, 120x40) over the engine training flat out (a single run, then "
                            "a 16-member race past 6,000 steps) and measure key latency, event-loop lag, training "
                            "speed against the same run stepped bare, one chart redraw, and a single <-> race "
                            "switch (default: off)")
    serve_cmd.add_parser(sub)
    check = sub.add_parser("check", help="prove the GPU path on this machine: a line per check, PASS / FAIL / SKIP",
                           description="Check the engine's CUDA path here: CUDA-graph blocks against eager steps per "
                                       "optimiser and loss, the fast kernels against autograd, lr changes, divergence, "
                                       "capture failures, wrong devices, the app's chunks, a CPU → GPU → CPU move, the "
                                       "memory budget, the engine process, the CLI and the GPU bench. Without CUDA the "
                                       "CPU half runs (eager blocks) and the rest is skipped. Exit 1 on any FAIL.")
    check.add_argument("--device", default="cuda", metavar="DEVICE",
                       help="cuda, cuda:N, or cpu for the CPU half only (default: cuda, the CPU half without CUDA)")
    check.add_argument("--quick", action="store_true", help="leave out the memory budget's large race and the bench "
                       "(default: all)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of lines (default: lines)")
    return parser


def load_spec(args: argparse.Namespace) -> RunSpec:
    """The settings asked for: a config file (a race's too), then --set, --steps and --data."""
    spec = spec_mod.from_toml(config_mod.read_config_text(args.config), args.config) if args.config \
        else RunSpec(FitConfig())
    cfg = config_mod.apply_assignments(spec.base, args.sets)
    if args.steps is not None:
        cfg = cfg.with_value("train.steps", args.steps)
    if args.data is not None:
        cfg = cfg.with_value("data.file", args.data)
    for flag, key in (("--x", "x_column"), ("--y", "y_column")):
        if getattr(args, key, None) is not None:
            if not cfg.data.file:
                raise ConfigError(flag, getattr(args, key), "picks a column of a data file: give --data FILE too")
            cfg = cfg.with_value(f"data.{key}", getattr(args, key))
    return spec.with_base(cfg)


def _saving(args: argparse.Namespace):
    from fitscope.tui.headless import Saving

    if args.no_save and (args.out is not None or args.force):
        raise ConfigError("--no-save", "--out" if args.out is not None else "--force",
                          "--no-save keeps nothing; drop one of them")
    resume = getattr(args, "resume", None)
    if resume and args.out is not None and Path(args.out).expanduser().resolve() == Path(resume).expanduser().resolve():
        args.out = None  # into the run's own folder: what --resume does anyway
    out = str(rundir.check_out_dir(args.out, args.force)) if args.out is not None else None
    if not args.no_save and out is None:  # where it will go, checked now rather than after training
        rundir.check_writable(Path(resume) if resume else Path("runs"), "--resume" if resume else "./runs")
    return Saving(enabled=not args.no_save, out=out, resume=resume, steps=args.steps)


def _resumed_spec(args: argparse.Namespace) -> RunSpec:
    given = [name for name, value in (("--config", args.config), ("--set", args.sets), ("--data", args.data),
                                      ("--x", getattr(args, "x_column", None)), ("--y", getattr(args, "y_column", None)),
                                      ("--vary", getattr(args, "vary", None))) if value]
    if given:
        raise ConfigError(given[0], "with a saved run", "a saved run keeps its own settings; change them once it is "
                          "open" if getattr(args, "open", None) else "a resumed run keeps its own settings; only "
                          "--steps may be given")
    saved = rundir.read(args.resume, names=("config.toml",))
    return spec_mod.load_saved(saved)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        if rundir.kind(Path(argv[0])) is None or "/" in argv[0]:
            argv = ["--open", *argv]  # fitscope RUN: the app on a saved run (or why it cannot be opened)
    args = serve_cmd.own_args(argv)
    if args is None:
        try:
            argv = argv_mod.place(argv, parser)  # `fitscope --set … run`: the option goes to run, or is refused
        except ConfigError as exc:
            print(f"fitscope: {exc}", file=sys.stderr)
            return 2
        args = parser.parse_args(argv)
    try:
        return serve_cmd.run(args) if args.command == "serve" else _dispatch(args)
    except (ConfigError, rundir.RunDirError) as exc:
        print(f"fitscope: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before training began (torch loading, the data being read)
        print(f"fitscope: interrupted before the first step ({signals.name(exc)})", file=sys.stderr)
        return signals.code(exc)
    finally:
        rundir.release_unused()  # an --out folder nothing was saved into is not left behind


def _dispatch(args: argparse.Namespace) -> int:
    """The command's work; main turns what it raises into one line and an exit code."""
    if args.command == "runs":
        return runs_view.list_runs(args.dir)
    if args.command == "show":
        return runs_view.show(args.runs[0]) if len(args.runs) == 1 else runs_view.side_by_side(args.runs)
    if args.command == "plot":
        from fitscope.tui.plot_cmd import plot

        return plot(args.runs, args.out, args.loss)
    if args.command == "export":
        from fitscope.core.store import export

        sys.stdout.write(export.script(args.run, embed_data=args.embed_data))
        return 0
    if args.command == "run":
        return _run(args)
    spec = load_spec(args)
    if args.command == "bench":
        from fitscope.tui.bench_cmd import bench

        return bench(spec.base, args)
    if args.command == "check":
        from fitscope.tui.check_cmd import check

        return check(args.device, args.quick, args.json)
    if args.command in ("compare", "demo"):
        from fitscope.tui import race

        if args.command == "demo":
            return race.demo()
        race_run = race_spec(spec.base, args, ["model.activation=relu,softplus,tanh"], spec)
        return race.run_race(race_run, _saving(args), args.quiet)[0]
    from fitscope.tui.app import run_app

    if args.open:  # its settings from the start; the engine loads its weights
        args.resume = args.open
        spec = _resumed_spec(args)
    elif args.vary or args.seeds != "1":
        spec = race_spec(spec.base, args, [])
    with its_config(args.open):
        precheck(spec)
    return run_app(spec, args.engine, open_run=args.open)


def _run(args: argparse.Namespace) -> int:
    from fitscope.tui import headless, race

    spec = _resumed_spec(args) if args.resume else load_spec(args)
    if not 0 <= args.frames <= 50:
        raise ConfigError("--frames", args.frames, "expected a count of charts from 0 to 50")
    saving = _saving(args)
    with its_config(args.resume):
        if spec.racing:
            return race.run_race(spec, saving, args.quiet)[0]
        return headless.run(spec, saving, args.quiet, frames=args.frames)


def entry() -> None:
    argv = sys.argv[1:]
    # started with a stream closed (`fitscope run >&-`): Python gives None, and the first print
    # was a traceback before anything was saved; the output goes nowhere, the run is still kept
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # for the life of the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    if any(a in HEADLESS for a in argv):  # `fitscope --set … run …` too: options may come first
        signals.install()  # SIGTERM and SIGHUP save and exit as Ctrl+C does
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `fitscope run | head`: not an error of ours
        _quiet_stdout()
        code = 0
    except OSError as exc:
        if exc.filename:  # a path the checks did not foresee: named, not a traceback
            print(f"fitscope: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            code = 2
        else:  # the console cannot be written (a full disk behind > file): the run is saved
            _quiet_stdout()
            print(f"fitscope: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
            code = 1
    sys.exit(code)


def _quiet_stdout() -> None:
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError:
        pass


if __name__ == "__main__":
    entry()
