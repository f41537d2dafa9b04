"""`fitscope compare` and `fitscope demo`: the lesson's activation race, headless."""

from __future__ import annotations

import sys

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.snapshot import Snapshot, State, loss_rank
from fitscope.core.spec import RunSpec
from fitscope.tui import headless, signals
from fitscope.tui.formatting import num
from fitscope.tui.plotting import chart_text
from fitscope.tui.variants import variant_rows


def table(snap: Snapshot) -> tuple[str, list[tuple[str, float]]]:
    """Each variant's median, min and max final loss over its seeds, best first (the app's variant
    view prints the same rows: :func:`variant_rows`), and its failed members by their words."""
    rows = variant_rows(snap)
    width = max(7, *(len(r.variant) for r in rows))
    has_test = any(r.test_median is not None for r in rows)
    head = f"{'variant':<{width}}  {'median':>9}  {'min':>9}  {'max':>9}" + ("  test med." if has_test else "") + "  runs"
    lines = [head, "─" * len(head)]
    for r in rows:
        line = f"{r.variant:<{width}}  {num(r.median):>9}  {num(r.low):>9}  {num(r.high):>9}"
        if has_test:
            line += f"  {num(r.test_median):>10}"
        line += f"  {r.seeds}"
        if len(r.failures) == 1:
            line += f" (1 {r.failures[0]})"
        elif r.failures:
            line += f" ({len(r.failures)} failed: {', '.join(r.failures)})"
        lines.append(line)
    return "\n".join(lines), [(r.variant, loss_rank(r.median)) for r in rows]


def medians(snap: Snapshot) -> dict[str, int]:
    """Each variant's member with the median final loss."""
    return {r.variant: r.median_member for r in variant_rows(snap)}


def inside_lines(snap: Snapshot, layers: dict[int, list]) -> list[str]:
    """Per variant, its median member's linear pieces (ReLU family) and dead units: measured."""
    from fitscope.core.engine import inside

    lines = []
    for variant, i in medians(snap).items():
        cfg = snap.spec.members()[i].cfg
        act = cfg.model.activation
        parts = []
        if act in inside.KINKED and layers.get(i) is not None and snap.data is not None:
            pieces = len(inside.kinks(layers[i], act, snap.data.x_range)) + 1
            parts.append(f"{pieces} linear pieces")
        elif act not in inside.KINKED:
            parts.append("smooth (no kinks)")
        stats = snap.members[i].stats
        if stats and stats.dead and stats.dead[0] is not None:
            deads = stats.dead_known
            parts.append(f"{100 * sum(deads) / len(deads):.0f} % of its units dead")
        lines.append(f"  {variant}: " + ", ".join(parts) + f" (seed {snap.members[i].seed}, the median)")
    return lines


def _last_layers(driver) -> dict[int, list]:
    """The median members' final layers, from the engine's timeline."""
    snap = driver.latest
    found = {}
    for i in medians(snap).values():
        frames = driver.send(C.Timeline(i)).result()
        if frames.layers is not None:
            found[i] = [(w[-1], b[-1]) for w, b in frames.layers]
    return found


def run_race(spec: RunSpec, saving: headless.Saving, quiet: bool, out=None, err=None,
             inside: bool = False) -> tuple[int, Snapshot | None]:
    out, err = out or sys.stdout, err or sys.stderr
    count, seeds = spec.count(), spec.seeds
    if not quiet:
        what = "resuming" if saving.resume else "racing"
        out.write(f"{what} {count} members ({count // seeds} variants × {seeds} seed"
                  f"{'s' if seeds > 1 else ''}), batched, {saving.steps or spec.base.train.steps} steps…\n")
        out.flush()

    def ignore(snap: Snapshot, tracker: Tracker) -> None:
        pass

    width, height = headless.FIT_TXT_SIZE
    result = headless.train(spec, ignore, saving, err, lambda snap: chart_text(snap, width, height, False),
                            before_close=_last_layers if inside else None)
    snap = result.snap
    if result.saved_to and not quiet:
        out.write(f"saved {headless.SAVED_FILES} to {result.saved_to}\n")
    if snap.state == State.ERROR:
        err.write(f"fitscope: {headless.last_error(result)}\n")
        return headless.EXIT_ERROR, snap
    if not quiet:
        width, height = headless.terminal_size(out)
        out.write(chart_text(snap, width, max(10, height - 6), headless.use_color(out)) + "\n")
    text, _ = table(snap)
    out.write(text + "\n")
    if inside and isinstance(result.extra, dict):
        out.write("inside the nets:\n" + "\n".join(inside_lines(snap, result.extra)) + "\n")
    rate = snap.steps_per_s
    out.write(f"{snap.step} steps · {rate:,.0f} race steps/s ({rate * count:,.0f} member steps/s) · "
              f"{snap.device} · {snap.elapsed:.2f} s\n")
    if result.interrupted:
        err.write(f"fitscope: interrupted at step {snap.step}\n")
        return signals.code(result.interrupted), snap
    if snap.state == State.DIVERGED:
        err.write("fitscope: every member diverged (try a lower train.lr)\n")
        return headless.EXIT_DIVERGED, snap
    return result.failed or headless.EXIT_OK, snap


def demo(out=None) -> int:
    """The lesson's whole story: the single ReLU fit, then the three-activation race over 5 seeds."""
    out = out or sys.stdout
    cfg = FitConfig()
    out.write("1/2  The lesson: fit y = x³ − x² + 0.2·U(0,1) (300 points) with an MLP 1-10-10-1, ReLU, "
              "SGD lr 0.2, MSE, 300 full-batch steps\n\n")
    code = headless.run(RunSpec(cfg), headless.Saving(enabled=False), quiet=False, out=out)
    if code:
        return code
    out.write("\n2/2  The race: ReLU vs softplus vs tanh on the same data, each from 5 initial seeds "
              "(15 members trained as one batched computation)\n\n")
    race = RunSpec.race(cfg, {"model.activation": ["relu", "softplus", "tanh"]}, 5)
    code, snap = run_race(race, headless.Saving(enabled=False), False, out=out, inside=True)
    if snap is not None and snap.members:
        _, ranked = table(snap)
        best, med = ranked[0]
        out.write(f"\nBest activation by median final loss: {best} ({num(med)})\n")
    return code
