"""`fitscope run` without a UI: progress on the console, then the final chart and a summary."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fitscope.core import commands as C
from fitscope.core.config import data_label, shape_text
from fitscope.core.drivers.thread import ThreadDriver
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.engine.history import HistoryView
from fitscope.core.engine.run import steps_refusal
from fitscope.core.snapshot import END_STATES, Frames, Level, Snapshot, State
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import saved as runs
from fitscope.core.store.folder import RunDirError
from fitscope.tui import signals
from fitscope.tui.formatting import num
from fitscope.tui.plotting import chart_text, draw_fit, render_chart

EXIT_OK, EXIT_DIVERGED, EXIT_ERROR = 0, 3, 1  # 2 (bad input) is cli's


def use_color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def terminal_size(stream) -> tuple[int, int]:
    """The terminal's own size (COLUMNS and LINES can lie: COLUMNS=100000 drew a chart that wide)."""
    if stream.isatty():
        try:
            size = os.get_terminal_size(stream.fileno())
        except (OSError, ValueError):
            return 80, 24
        return min(max(size.columns, 20), 1000), min(max(size.lines, 8), 500)
    return 80, 24




def summary(snap: Snapshot) -> str:
    cfg = snap.config
    lead = snap.lead
    if snap.diverged_at is not None:  # the last finite loss, its step, and where it diverged (as the app says)
        last = snap.diverged_at - 1
        parts = [f"final loss {num(lead.loss)} at step {last:,} (the last finite)" if lead.loss is not None
                 else "no finite loss", f"diverged at step {snap.diverged_at:,}"]
    else:
        parts = [f"final loss {num(lead.loss)}"]
    if lead.test_loss is not None:
        parts.append(f"test loss {num(lead.test_loss)}")
    rate = snap.steps_per_s
    trained = snap.step if snap.diverged_at is None else min(snap.step, snap.diverged_at)
    device = snap.device
    if cfg.train.device == "auto" and snap.device == "cpu":  # why auto chose the CPU (tui loads no torch to ask)
        device += " (auto: a small net, faster on the CPU)" if os.path.exists("/dev/nvidia0") else " (auto: no GPU found)"
    parts += [f"{trained} steps", f"{rate:,.0f} steps/s", device, f"{snap.elapsed:.2f} s"]
    head = (f"{data_label(cfg.data)} · {shape_text(cfg.model)} {cfg.model.activation} · "
            f"{cfg.train.optimizer} lr {cfg.train.lr:g}")
    return head + "\n" + " · ".join(parts)


class _Progress:
    """A live bar on a terminal; otherwise a plain line every 10 % of the run."""

    def __init__(self, out, budget: int, quiet: bool):
        self.out, self.budget, self.quiet = out, budget, quiet
        self.tty = out.isatty()
        self.next_tenth = 1
        self._bar = None
        if self.tty and not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            console = Console(file=out, no_color="NO_COLOR" in os.environ)
            self._bar = Progress(TextColumn("step {task.completed:>7.0f}/{task.total:.0f}"), BarColumn(),
                                 TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} steps/s"),
                                 console=console, transient=True)
            self._task = self._bar.add_task("train", total=budget, loss="—", rate="0")
            self._bar.start()

    def update(self, snap: Snapshot, tracker: Tracker) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            loss = num(snap.train_loss)
            self._bar.update(self._task, completed=snap.step, loss=loss, rate=f"{snap.steps_per_s:,.0f}")
            return
        h = tracker.history(0)
        while self.next_tenth <= 10 and snap.step >= self.budget * self.next_tenth / 10:
            # the loss at the 10 % mark itself, from the history, whenever the snapshot came
            mark = int(np.ceil(self.budget * self.next_tenth / 10))
            i = min(int(np.searchsorted(h.step, mark)), len(h) - 1)
            loss = num(float(h.loss[i])) if len(h) else "—"
            step = int(h.step[i]) if len(h) else mark
            self.out.write(f"step {step}/{self.budget}  loss {loss}  {snap.steps_per_s:,.0f} steps/s\n")
            self.out.flush()
            self.next_tenth += 1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@dataclass
class Outcome:
    snap: Snapshot
    interrupted: KeyboardInterrupt | None  # Ctrl+C, SIGTERM or SIGHUP
    failed: int | None  # an exit code when saving failed
    errors: list[str]  # what the run said went wrong, in order
    saved_to: Path | None = None
    frames: Frames | None = None  # the fit's history, when asked for
    history: HistoryView | None = None
    extra: object = None  # what ``before_close(driver)`` answered


@dataclass(frozen=True)
class Saving:
    """Where a headless run is kept: ``out`` (checked before training), else its own folder when
    resumed, else a new folder under ./runs; nothing when ``enabled`` is False."""

    enabled: bool = True
    out: str | None = None
    resume: str | None = None
    steps: int | None = None  # with resume: the new total


SAVED_FILES = "config.toml, metrics.csv, checkpoint.pt, fit.csv, fit.txt, summary.json, timeline.npz, run.json"


FIT_TXT_SIZE = (100, 30)


def train(spec: RunSpec, on_snapshot, saving: Saving, err, chart=None, want_frames: bool = False,
          before_close=None) -> Outcome:
    """Train ``spec`` (or the run to resume) to its end on a thread driver; Ctrl+C pauses it.
    The run is saved before the driver closes; ``chart(snap)`` draws its fit.txt. A run resumed
    is this process's alone until it is saved. ``before_close(driver)``, when given, asks the
    finished run more (e.g. its timeline) before the driver closes; its answer is ``Outcome.extra``."""
    claim = rundir.claimed(Path(saving.resume)) if saving.resume and saving.enabled else contextlib.nullcontext()
    with claim:
        return _train(spec, on_snapshot, saving, err, chart, want_frames, before_close)


def _train(spec: RunSpec, on_snapshot, saving: Saving, err, chart, want_frames: bool, before_close) -> Outcome:
    driver = ThreadDriver(spec)
    errors: list[str] = []
    driver.subscribe(lambda s: errors.extend(n.text for n in s.notices if n.level == Level.ERROR))

    def warn(snap: Snapshot) -> None:
        for n in snap.notices:
            if n.level == Level.WARNING:
                err.write(f"fitscope: note: {n.text}\n")
    driver.subscribe(warn)
    first = driver.latest
    assert first is not None
    assert first.data is not None
    warn(first)  # delivered before the subscription: e.g. a compile the first step waits for
    interrupted: KeyboardInterrupt | None = None
    failed = None
    saved_to = None
    frames = None
    extra = None
    try:
        _open_or_note(driver, first, saving, err)
        driver.send(C.Start())
        _follow(driver, on_snapshot)
    except KeyboardInterrupt as exc:
        interrupted = exc
    finally:
        if driver.alive:
            driver.send(C.Pause()).result()
            latest = driver.wait_for(lambda s: s.state != State.RUNNING, timeout=5)
            if saving.enabled and latest is not None and latest.step > 0:
                saved_to, failed = _save(driver, latest, saving, err, chart, interrupted)
            if want_frames:
                frames = driver.send(C.Timeline(0)).result()
            extra = before_close(driver) if before_close is not None and interrupted is None else None
            driver.close()
    snap = driver.latest
    assert snap is not None
    return Outcome(snap, interrupted, failed, errors, saved_to, frames, driver.tracker.history(0), extra)


def _open_or_note(driver: ThreadDriver, first: Snapshot, saving: Saving, err) -> None:
    """A resume loads its run (or says why it cannot go on); a new run says what its data dropped."""
    if not saving.resume:
        assert first.data is not None
        for note in first.data.notes:  # e.g. points dropped: never silently
            err.write(f"fitscope: note: {note}\n")
        return
    try:
        driver.send(C.Open(saving.resume, saving.steps)).result()
    except C.Refused as exc:  # the message names the file and the problem
        driver.close()
        raise RunDirError(str(exc)) from None
    latest = driver.wait_for(lambda s: s.step > 0 or s.run_id > first.run_id, timeout=30)
    if latest is not None and latest.state == State.DIVERGED:
        driver.close()
        raise RunDirError(f"{saving.resume}: the run diverged at step {latest.diverged_at:,}; there is "
                          "nothing to continue — start a new run with a lower train.lr")
    if latest is not None and latest.step >= latest.budget:
        driver.close()
        raise RunDirError(steps_refusal(latest.budget, saving.resume, latest.step))


def _follow(driver: ThreadDriver, on_snapshot) -> None:
    seen = 0
    while True:
        def newer(s: Snapshot, seen: int = seen) -> bool:
            return s.seq != seen
        snap = driver.wait_for(newer, timeout=0.2)
        assert snap is not None
        seen = snap.seq
        on_snapshot(snap, driver.tracker)
        if snap.state in END_STATES:
            return


def _save(driver: ThreadDriver, latest: Snapshot, saving: Saving, err, chart,
          interrupted: KeyboardInterrupt | None) -> tuple[Any, int | None]:
    """Saved where asked, or — never lost — in a new folder under ./runs: (where, the exit code if not where asked)."""
    if interrupted is not None:
        err.write(f"fitscope: {signals.name(interrupted)} at step {latest.step:,}: saving what the run has…\n")
        err.flush()
    text = chart(latest) if chart and latest.data is not None else ""
    try:
        return driver.send(C.Save(saving.out, text)).result(), None
    except (OSError, C.Refused) as exc:
        try:
            elsewhere = str(rundir.new_run_dir("runs", runs.short_name(latest.spec)))
            saved_to = driver.send(C.Save(elsewhere, text)).result()
            err.write(f"fitscope: cannot save the run where asked ({exc}) — saved it to {saved_to}\n")
            return saved_to, EXIT_ERROR
        except (OSError, C.Refused, RunDirError) as again:
            err.write(f"fitscope: cannot save the run: {exc}; nor under ./runs: {again}\n")
            return None, EXIT_ERROR


def frame_charts(snap: Snapshot, frames: Frames, history: HistoryView | None, count: int, width: int,
                 color: bool) -> str:
    """``count`` charts of the fit at moments spread over the run, geometrically (the early steps
    change most): e.g. steps 1, 30, 100, 300."""
    last = int(frames.steps[-1])
    wanted = np.unique(np.round(np.geomspace(1, max(last, 1), count))) if last else np.zeros(1)
    picks = sorted({int(np.argmin(np.abs(frames.steps - w))) for w in wanted})
    out = []
    for i in picks:
        member = dataclasses.replace(snap.members[0], y_pred=frames.fits[i][0].astype(float))
        frame = dataclasses.replace(snap, members=(member,))
        step = int(frames.steps[i])
        at = int(np.searchsorted(history.step, step)) if history is not None and step else -1
        loss = float(history.loss[at]) if history is not None and 0 <= at < len(history) and history.step[at] == step \
            else None

        def draw(plt, legend, frame=frame, step=step, loss=loss):
            draw_fit(plt, frame, width=width, color=color, legend=False)
            plt.title(f"step {step:,}" + (f"  Loss={num(loss, 4)}" if loss is not None else "  (the initial weights)"))

        out.append(render_chart(draw, width, 14, color))
    return "\n".join(out)


def fit_txt(snap: Snapshot) -> str:
    return chart_text(snap, FIT_TXT_SIZE[0], FIT_TXT_SIZE[1], color=False)


def run(spec: RunSpec, saving: Saving, quiet: bool, out=None, err=None, frames: int = 0) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    progress = _Progress(out, saving.steps or spec.base.train.steps, quiet)
    try:
        result = train(spec, progress.update, saving, err, fit_txt, want_frames=frames > 0 and not quiet)
    finally:
        progress.close()
    snap = result.snap
    if result.saved_to and not quiet:
        out.write(f"saved {SAVED_FILES} to {result.saved_to}\n")
    if result.frames is not None and snap.data is not None and snap.state != State.ERROR:
        out.write(frame_charts(snap, result.frames, result.history, frames, terminal_size(out)[0], use_color(out)) + "\n")
    if not quiet and snap.step > 0 and snap.state != State.ERROR:
        width, height = terminal_size(out)
        out.write(chart_text(snap, width, max(10, height - 4), use_color(out)) + "\n")
    out.write(summary(snap) + "\n")
    if result.interrupted:
        err.write(f"fitscope: interrupted at step {snap.step}\n")
        return signals.code(result.interrupted)
    if snap.state == State.DIVERGED:
        err.write(f"fitscope: diverged at step {snap.diverged_at}: the loss became NaN or infinite "
                  "(try a lower train.lr)\n")
        return EXIT_DIVERGED
    if snap.state == State.ERROR:
        err.write(f"fitscope: {last_error(result)}\n")
        return EXIT_ERROR
    return result.failed or EXIT_OK


def last_error(result: Outcome) -> str:
    return result.errors[-1] if result.errors else "the run stopped on an error"
