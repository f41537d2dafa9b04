"""A saved run as one standalone PyTorch script: its data, model, optimiser and loop, no fitscope.

The script recomputes the run from its settings with the same ops in the same order (the data
and weights from one seeded stream, as the lesson), and replays its lr changes
(``train.lr_changes``) at their steps, so a run trained with ``train.kernels = "autograd"`` ends on
the same loss (to ~1e-6); a ``"fast"`` run ends near it, not on it (its docstring says why). A run
on a data file names the file and checks its SHA-256, or (``embed_data``) carries the points.
Torch-free: it only writes text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitscope.core import spec as spec_mod
from fitscope.core.config import DataConfig, FitConfig, file_problem, shape_text
from fitscope.core.data import file as datafile
from fitscope.core.data import targets
from fitscope.core.engine import lrplan, registry
from fitscope.core.errors import ConfigError, RunDirError
from fitscope.core.spec import Member, RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import runfiles
from fitscope.core.store.datarecord import saved_data

ACTIVATIONS = {n: a.source for n, a in registry.ACTIVATIONS.items()}
LOSSES = {n: loss.source for n, loss in registry.LOSSES.items()}
OPTIMIZERS = {n: o.cls for n, o in registry.OPTIMIZERS.items()}
EMBED_MAX_POINTS = 100_000  # points --embed-data writes into a script (~4 MB of Python); more: share the file
AUTOGRAD = ("The run trained with train.kernels = \"autograd\": this is its loop, the same ops in the same order,",
            "so on the CPU it ends on the run's final loss (to ~1e-6).")
FAST = ("The run trained with the fast kernels (a batched, hand-written backward and update), this script with",
        "torch.nn and torch.optim: the same math, rounded in another order. It ends near the run, not on it: within",
        "rounding for a smooth short run, while lr 0.2 SGD on tanh/softplus is chaotic and those last bits grow to",
        "visible differences after ~100 steps. Train with train.kernels = \"autograd\" for a script that ends on",
        "the run's loss.")


@dataclass(frozen=True)
class FileData:
    """A data-file run's data as the export found it: where the file is (absolute), the columns the
    run picked (0-based; an .npz's arrays go by name), a text file's layout, and its points when
    they go into the script."""

    where: str
    x_index: int = 0
    y_index: int = 1
    skip: int = 0  # a text file's lines before its rows
    comma: bool = False
    points: tuple[np.ndarray, np.ndarray] | None = None


def script(run: str | Path, embed_data: bool = False) -> str:
    """The script of a saved run; ``embed_data``: a data file's points written into it."""
    saved = rundir.read(run, names=(runfiles.CONFIG,))
    spec = spec_mod.load_saved(saved, resume=False)
    d = spec.base.data
    if embed_data and not d.file:
        raise RunDirError("--embed-data: this run trained on a generated target, not a data file — "
                          "its script makes the data itself")
    record = saved.index.get("data")
    sha = record.get("sha256") if isinstance(record, dict) else None
    data = (_embedded(saved, d) if embed_data else _located(d)) if d.file else None
    return source(spec, saved.folder.name, data=data,
                  sha256=sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) else None)


def _embedded(saved: rundir.Saved, d: DataConfig) -> FileData:
    """The points the run trained on: the bytes it read (SHA-256 checked), the columns it picked."""
    where = saved_data(saved, d.file, to="export")
    try:
        table = datafile.read(where, d.x_column, d.y_column)
    except ConfigError as exc:
        raise RunDirError(f"--embed-data: {exc}") from None
    if table.x.size > EMBED_MAX_POINTS:
        raise RunDirError(f"--embed-data: the run's data has {table.x.size:,} points; a script carries at most "
                          f"{EMBED_MAX_POINTS:,} — export without --embed-data and send the data file with it")
    return FileData(str(Path(where).resolve()), points=(table.x, table.y))


def _located(d: DataConfig) -> FileData:
    """Where the data file is (its config's path, else where it was at the save) and which of its
    columns the run picked, from its first bytes only (the script checks the file's SHA-256)."""
    where = d.file  # located already (core.datarecord.locate)
    suffix = Path(d.file).suffix.lower()
    if suffix == ".npz":
        return FileData(str(Path(where).resolve()))
    head = _head(where)  # a FIFO or a device is refused here, not read
    try:
        if suffix == ".npy":
            chosen, skip, comma = datafile.npy_columns(where, d.x_column, d.y_column), 0, False
        else:
            skip, comma, _, chosen = datafile.text_columns(head.splitlines(), where, d.x_column, d.y_column)
    except ConfigError as exc:
        raise RunDirError(f"export: {exc}") from None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{where}: the run's data file — cannot read it ({exc})") from None
    return FileData(str(Path(where).resolve()), chosen.x, chosen.y, skip, comma)


def source(spec: RunSpec, name: str = "run", data: FileData | None = None, sha256: str | None = None) -> str:
    base = spec.base
    members = spec.members()
    # nothing a user or a run folder supplies is written here as text: formulas are rendered anew
    # from their checked tree, names and paths go in as repr() literals, numbers as validated numbers
    how = AUTOGRAD if base.train.kernels == "autograd" else FAST
    lines = [f'"""{_describe(spec)}{f", a race of {len(members)}" if spec.racing else ""}.',
             "",
             "Exported from fitscope as a plain PyTorch script.", *how,
             "Run it with:  python fit.py   (needs torch; draws the fit when matplotlib is installed)",
             '"""', "", f"EXPORTED_FROM = {name!r}  # the run folder", ""]
    reads = bool(base.data.file) and (data is None or data.points is None)  # the script reads the file
    lines += (["import hashlib", "import os", "import sys", ""] if reads else []) + \
        (["import numpy as np"] if base.data.file else []) + ["import torch", "from torch import nn", ""]
    widest = max(max(m.cfg.model.hidden) for m in members)
    if base.data.points * widest ** 2 * len(members) < 1_000_000:
        lines += ["torch.set_num_threads(1)  # a tiny net runs fastest (and as fitscope ran it) on one thread"]
    lines += [f"STEPS = {base.train.steps}"]
    if base.train.lr_changes:
        lines += [f"LR_CHANGES = {dict(base.train.lr_changes)!r}  # step: the lr from that step on"]
    if base.train.batch_size:
        lines += [f"BATCH = {base.train.batch_size}  # rows per step, in a shuffled order each epoch"]
    lines += ["", f"torch.manual_seed({base.data.seed})  # the data first, then the weights, from one seeded stream"]
    lines += _data(base.data, data, sha256)
    lines += _split(base.data)
    lines += ["after_data = torch.get_rng_state()", ""] if spec.racing else [""]
    lines += _race(spec, members) if spec.racing else _single(base)
    lines += _plot(base, spec.racing)
    return "\n".join(lines) + "\n"


def _describe(spec: RunSpec) -> str:
    cfg = spec.base
    data = "the data file DATA_FILE" if cfg.data.file else f"y = {targets.render(cfg.data.target)}"
    varied = spec.varied
    optimizer = "/".join(varied.get("train.optimizer", (cfg.train.optimizer,)))
    lr = "/".join(f"{v:g}" for v in varied["train.lr"]) if "train.lr" in varied \
        else lrplan.describe(cfg.train.lr, cfg.train.lr_changes)  # the rate it began with, then each change
    return f"{data} · {spec_mod.net_text(spec)} · {optimizer} lr {lr} · {cfg.train.loss} · {cfg.train.steps} steps"


def _data(d: DataConfig, data: FileData | None, sha256: str | None) -> list[str]:
    if d.file:
        return _file_data(d, data, sha256)
    formula = targets.render(d.target)
    out = [f"# the data: {d.points} points of y = {formula} on [{d.x_min:g}, {d.x_max:g}]"
           + ("" if d.noise == "none" else f", plus {d.noise} noise of {d.noise_level:g}")]
    if d.sampling == "grid":
        out.append(f"x = torch.unsqueeze(torch.linspace({d.x_min!r}, {d.x_max!r}, {d.points}), dim=1)")
    else:
        out.append(f"x = {d.x_min!r} + {d.x_max - d.x_min!r} * torch.rand({d.points}, 1)")
    out.append(f"y = {targets.torch_source(d.target)}")
    if d.noise == "uniform":
        out.append(f"y = y + {d.noise_level!r} * torch.rand(x.size())")
    elif d.noise == "gaussian":
        out.append(f"y = y + {d.noise_level!r} * torch.randn(x.size())")
    probe = np.linspace(d.x_min, d.x_max, 10_001, dtype=np.float32)
    if not np.isfinite(targets.evaluate(d.target, probe)).all():
        out += ["finite = torch.isfinite(y)[:, 0]  # the target is not finite everywhere: keep where it is",
                "x, y = x[finite], y[finite]"]
    return out


def _file_data(d: DataConfig, data: FileData | None, sha256: str | None) -> list[str]:
    found = data or FileData(d.file)  # a FileData always comes from script(); without one: as the config says
    if found.points is not None:  # floats, written as repr(): exact, and nothing but numbers
        xs, ys = found.points
        return [f"# the data: the {xs.size:,} points the run trained on, written in by export --embed-data",
                f"x_raw = np.array([{', '.join(map(repr, xs.tolist()))}])",
                f"y_raw = np.array([{', '.join(map(repr, ys.tolist()))}])", *_standardise()]
    out = [f"DATA_FILE = {d.file!r}  # the file the run trained on (export --embed-data puts its points in here)",
           "if len(sys.argv) > 1:  # python fit.py PATH: the file from somewhere else",
           "    DATA_FILE = sys.argv[1]"]
    if found.where != d.file:  # a relative path: the script may run in another folder
        out += [f"elif not os.path.exists(DATA_FILE) and os.path.exists({found.where!r}):  # where it was at the export",
                f"    DATA_FILE = {found.where!r}"]
    if sha256 is not None:
        out += [f"DATA_SHA256 = {sha256!r}",
                "try:",
                "    with open(DATA_FILE, 'rb') as f:",
                "        found = hashlib.sha256(f.read()).hexdigest()",
                "except OSError as exc:",
                "    sys.exit(f'this script needs the run\\'s data file {DATA_FILE} ({exc.strerror}): put it there, '",
                "             'give its path (python fit.py PATH), or export the run with --embed-data')",
                "if found != DATA_SHA256:",
                "    sys.exit(f'{DATA_FILE}: not the data the run trained on (its SHA-256 is {found}, the run\\'s '",
                "             f'{DATA_SHA256}); put the original there, or export the run with --embed-data')"]
    out += ["# the data: x, y from DATA_FILE, trained standardised (mean 0, sd 1), as fitscope does"]
    suffix = Path(d.file).suffix.lower()
    if suffix == ".npz":
        xn, yn = d.x_column or "x", d.y_column or "y"
        out += ["with np.load(DATA_FILE) as z:", f"    x_raw, y_raw = np.ravel(z[{xn!r}]).astype(float), "
                f"np.ravel(z[{yn!r}]).astype(float)"]
    elif suffix == ".npy":
        out += ["a = np.load(DATA_FILE)",
                f"x_raw, y_raw = a[:, {found.x_index}].astype(float), a[:, {found.y_index}].astype(float)"
                "  # the columns the run picked"]
    else:
        delimiter = ", delimiter=','" if found.comma else ""
        out += [f"data = np.loadtxt(DATA_FILE{delimiter}, skiprows={found.skip}, ndmin=2, encoding='utf-8-sig',",
                f"                  usecols=({found.x_index}, {found.y_index}))  # the columns the run picked",
                "x_raw, y_raw = data[:, 0], data[:, 1]"]
    return out + ["keep = np.isfinite(x_raw) & np.isfinite(y_raw)", "x_raw, y_raw = x_raw[keep], y_raw[keep]",
                  *_standardise()]


def _standardise() -> list[str]:
    return ["mx, sx = float(x_raw.mean()), float(x_raw.std()) or 1.0",
            "my, sy = float(y_raw.mean()), float(y_raw.std()) or 1.0",
            "x = torch.tensor((x_raw - mx) / sx, dtype=torch.float32)[:, None]",
            "y = torch.tensor((y_raw - my) / sy, dtype=torch.float32)[:, None]"]


def _head(path: str, size: int = 1 << 16) -> str:
    """The first lines of a data file, enough to tell its layout (a crafted config once named a
    3 GB file, read whole); a FIFO or a device is refused, not read."""
    problem = file_problem(path)
    if problem:
        raise RunDirError(f"{path}: the run's data file — {problem}")
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError as exc:
        raise RunDirError(f"{path}: the run's data file — cannot read it ({exc.strerror or exc})") from None
    text = data.decode("utf-8", errors="replace")
    return text if len(data) < size else text.rsplit("\n", 1)[0]


def _split(d: DataConfig) -> list[str]:
    if d.split == "none":
        return ["x_train, y_train = x, y"]
    if d.split == "random":
        out = [f"# hold out {d.test_fraction:g} of the points at random for testing (a generator of its own)",
               f"order = torch.randperm(len(x), generator=torch.Generator().manual_seed({d.seed}))",
               "test = torch.zeros(len(x), dtype=torch.bool)",
               f"test[order[:int(round(len(x) * {d.test_fraction!r}))]] = True"]
    else:
        x_of = "torch.tensor(x_raw)" if d.file else "x[:, 0]"
        lo, hi = ("float(x_raw.min())", "float(x_raw.max())") if d.file else (repr(d.x_min), repr(d.x_max))
        out = [f"# hold out the outer {d.test_fraction:g} of the x range (half on each side): can the fit extrapolate?",
               f"lo, hi = {lo}, {hi}",
               f"margin = (hi - lo) * {d.test_fraction!r} / 2",
               f"test = ({x_of} < lo + margin) | ({x_of} > hi - margin)"]
    return out + ["x_train, y_train, x_test, y_test = x[~test], y[~test], x[test], y[test]"]


def _net_lines(hidden: tuple[int, ...], activation: str, indent: str) -> list[str]:
    widths = [1, *hidden]
    act = ACTIVATIONS[activation]
    out = [f"{indent}nn.Linear({a}, {b}), {act}," for a, b in zip(widths[:-1], widths[1:])]
    return out + [f"{indent}nn.Linear({widths[-1]}, 1),"]


def _optimizer(cfg: FitConfig, params: str = "net.parameters()") -> str:
    t = cfg.train
    args = [params, f"lr={t.lr!r}"]
    entry = registry.OPTIMIZERS[t.optimizer]
    if entry.momentum and t.momentum:
        args.append(f"momentum={t.momentum!r}")
    if t.weight_decay:
        args.append(f"weight_decay={t.weight_decay!r}")
    if entry.fused:
        args.append("fused=True")  # as fitscope runs it: the same math in one kernel
    return f"torch.optim.{OPTIMIZERS[t.optimizer]}({', '.join(args)})"


def _batch_lines(indent: str) -> list[str]:
    return [f"{indent}if order is None or pos + BATCH > len(x_train):  # a new epoch: a new shuffled order",
            f"{indent}    order, pos = torch.randperm(len(x_train), generator=shuffle), 0",
            f"{indent}idx = order[pos:pos + BATCH]",
            f"{indent}pos += BATCH",
            f"{indent}xb, yb = x_train[idx], y_train[idx]"]


def _lr_lines(cfg: FitConfig, indent: str) -> list[str]:
    if not cfg.train.lr_changes:
        return []
    return [f"{indent}if step in LR_CHANGES:  # a change the run made at this step",
            f"{indent}    for group in optimizer.param_groups:",
            f"{indent}        group['lr'] = LR_CHANGES[step]"]


def _single(cfg: FitConfig) -> list[str]:
    t, m = cfg.train, cfg.model
    out = []
    if m.init_seed >= 0:
        out.append(f"torch.manual_seed({m.init_seed})  # the weights from a seed of their own")
    out += [f"# the model: {shape_text(m)} with {m.activation}", "net = nn.Sequential(",
            *_net_lines(m.hidden, m.activation, "    "), ")",
            f"optimizer = {_optimizer(cfg)}", f"loss_fn = {LOSSES[t.loss]}", ""]
    batched = bool(t.batch_size)
    if batched:
        out += [f"shuffle = torch.Generator().manual_seed({cfg.data.seed})", "order, pos = None, 0"]
    out += ["for step in range(1, STEPS + 1):"]
    out += _lr_lines(cfg, "    ")
    if batched:
        out += _batch_lines("    ")
    else:
        out += ["    xb, yb = x_train, y_train  # every point, every step"]
    out += ["    loss = loss_fn(net(xb), yb)",
            "    optimizer.zero_grad()",
            "    loss.backward()",
            "    optimizer.step()",
            "    if step % max(1, STEPS // 10) == 0:",
            "        print(f\"step {step}/{STEPS}  loss {loss.item():.6g}\")",
            "print(f\"final loss {loss.item():.9g}\")"]
    if cfg.data.split != "none":
        out += ["with torch.no_grad():",
                "    print(f\"test loss {loss_fn(net(x_test), y_test).item():.9g}\")"]
    return out


def _race(spec: RunSpec, members: list[Member]) -> list[str]:
    base = spec.base
    varied = ", ".join(spec.varied) or "the init seed"
    out = [f"# the race: {len(members)} variants ({varied}), each trained on the same data"]
    out += ["VARIANTS = ["]
    for m in members:
        c = m.cfg
        out.append(f"    dict(label={m.label!r}, hidden={list(c.model.hidden)!r}, activation={c.model.activation!r}, "
                   f"optimizer={c.train.optimizer!r}, lr={c.train.lr!r}, momentum={c.train.momentum!r}, "
                   f"weight_decay={c.train.weight_decay!r}, init_seed={c.model.init_seed!r}),")
    out += ["]", f"ACTIVATIONS = {{{', '.join(f'{k!r}: {v}' for k, v in ACTIVATIONS.items())}}}".replace("()", ""),
            "OPTIMIZERS = {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW, "
            "'rmsprop': torch.optim.RMSprop}",
            "", "",
            "def make_net(v):",
            "    if v['init_seed'] >= 0:",
            "        torch.manual_seed(v['init_seed'])  # the weights from a seed of their own",
            "    else:",
            "        torch.set_rng_state(after_data)  # the weights continue the data's stream, as the lesson",
            "    layers, width = [], 1",
            "    for units in v['hidden']:",
            "        layers += [nn.Linear(width, units), ACTIVATIONS[v['activation']]()]",
            "        width = units",
            "    return nn.Sequential(*layers, nn.Linear(width, 1))",
            "", "",
            "def make_optimizer(v, params):",
            "    kw = dict(lr=v['lr'], weight_decay=v['weight_decay'])",
            "    if v['optimizer'] in ('sgd', 'rmsprop'):",
            "        kw['momentum'] = v['momentum']",
            "    else:",
            "        kw['fused'] = True  # as fitscope runs it: the same math in one kernel",
            "    return OPTIMIZERS[v['optimizer']](params, **kw)",
            "", "",
            f"loss_fn = {LOSSES[base.train.loss]}",
            "nets = {}",
            "for v in VARIANTS:",
            "    net = make_net(v)",
            "    optimizer = make_optimizer(v, net.parameters())"]
    if base.train.batch_size:
        out += [f"    shuffle = torch.Generator().manual_seed({base.data.seed})  # every variant sees the same batches",
                "    order, pos = None, 0"]
    out += ["    for step in range(1, STEPS + 1):"]
    out += _lr_lines(base, "        ")
    if base.train.batch_size:
        out += _batch_lines("        ")
    else:
        out += ["        xb, yb = x_train, y_train"]
    out += ["        loss = loss_fn(net(xb), yb)",
            "        if not torch.isfinite(loss):",
            "            print(f\"{v['label']}: diverged at step {step}\")",
            "            break",
            "        optimizer.zero_grad()",
            "        loss.backward()",
            "        optimizer.step()",
            "    else:",
            "        print(f\"{v['label']}: final loss {loss.item():.9g}\")",
            "    nets[v['label']] = net"]
    return out


def _plot(cfg: FitConfig, racing: bool) -> list[str]:
    scale = cfg.data.file != ""
    def own(t: str, m: str, sd: str) -> str:  # in the data's own units
        return f"({t} * {sd} + {m})" if scale else t

    out = ["", "try:  # a picture of the fit, when matplotlib is there",
           "    import matplotlib.pyplot as plt",
           "except ImportError:",
           "    plt = None",
           "if plt is not None:",
           "    grid = torch.linspace(float(x.min()), float(x.max()), 400)[:, None]",
           "    with torch.no_grad():",
           f"        plt.scatter({own('x[:, 0]', 'mx', 'sx')}.numpy(), {own('y[:, 0]', 'my', 'sy')}.numpy(), "
           "s=6, label='data')"]
    if racing:
        out += ["        for label, net in nets.items():",
                f"            plt.plot({own('grid[:, 0]', 'mx', 'sx')}.numpy(), "
                f"{own('net(grid)[:, 0]', 'my', 'sy')}.numpy(), label=label)"]
    else:
        out += [f"        plt.plot({own('grid[:, 0]', 'mx', 'sx')}.numpy(), {own('net(grid)[:, 0]', 'my', 'sy')}.numpy(), "
                "'r-', lw=2, label='fit')"]
    out += ["    plt.legend()", "    plt.show()"]
    return out

