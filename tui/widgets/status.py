"""The header line: the run's state, step, loss and pace, then as the width allows its rate, device,
test loss and recipe."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape

from fitscope.core.config import FitConfig, data_label, shape_text
from fitscope.core.snapshot import Snapshot, State
from fitscope.core.spec import RunSpec
from fitscope.tui.formatting import num
from fitscope.tui.widgets.charts import FrameView
from fitscope.tui.widgets.leaderboard import lead_text
from fitscope.tui.widgets.textview import TextView

PACES: list[tuple[float | None, str]] = [
    (10, "10/s"), (30, "30/s"), (100, "watch"), (300, "300/s"), (1000, "1k/s"), (3000, "3k/s"), (None, "flat out")]
WATCH = 2  # the lesson's 300 steps unfold over ~3 s
STATE_ICON = {State.STARTING: "… engine starting", State.READY: "■ ready", State.RUNNING: "▶ running",
              State.PAUSED: "❚❚ paused", State.DONE: "✓ done", State.DIVERGED: "✗ diverged",
              State.STOPPED: "■ stopped", State.ERROR: "✗ error"}


@dataclass(frozen=True)
class Header:
    """What the header is about besides the snapshot."""

    spec: RunSpec
    pace: int  # an index into PACES
    switching: bool = False  # a switch is on its way: the run it replaces may still be the latest
    frame: FrameView | None = None  # a timeline frame is shown instead of the live fit


def experiment(cfg: FitConfig) -> str:
    target = data_label(cfg.data)
    if cfg.data.target == "cubic" and not cfg.data.file:
        target = "cubic x³−x²"
    return (f"{target} · {shape_text(cfg.model)} {cfg.model.activation} · "
            f"{cfg.train.optimizer} lr {cfg.train.lr:g}")


def status_line(snap: Snapshot | None, head: Header, width: int) -> str:
    """State, step, loss and pace always; then, as the width allows, steps/s, the test loss,
    and the recipe (a race's: what varies, on which base settings)."""
    pace = f"pace {PACES[head.pace][1]}"
    if snap is None:
        must, extra = [STATE_ICON[State.STARTING], pace], []
    else:
        must = [STATE_ICON.get(snap.state, str(snap.state)), f"step {snap.step:,}/{snap.budget:,}",
                lead_text(snap), pace]
        extra = [f"{snap.steps_per_s:,.0f} steps/s"] if snap.state == State.RUNNING else []
        extra.append(snap.device if snap.memory is None else f"{snap.device} {snap.memory / 2 ** 20:,.0f} MB")
        if snap.test_loss is not None:
            extra.append(f"test {num(snap.test_loss, 4)}")
    if head.switching:
        must[0] = "… switching"
    frame = head.frame
    if frame is not None and snap is not None:
        must = [f"◀ frame {frame.index + 1}/{frame.count}", f"step {frame.step:,}", f"loss {num(frame.loss, 4)}",
                ". , move · space live"]
    spec, cfg = head.spec, head.spec.base
    recipe = experiment(cfg)
    race = f"race of {spec.count()} ({', '.join(spec.varied)})"
    if spec.racing:
        recipe = f"{race} · base {recipe}"
    short = race if spec.racing else (f"{data_label(cfg.data)} {shape_text(cfg.model)} {cfg.model.activation} "
                                      f"{cfg.train.optimizer} {cfg.train.lr:g}")
    right = "  ".join(must)
    for part in extra:  # steps/s, the device, the test loss: where the short recipe still fits
        if len(right) + len(part) + 2 <= width - max(20, len(short) + 2):
            right = right.replace(f"  {pace}", f"  {part}  {pace}")
    for left in (f"fitscope  {recipe}", recipe, short, f"race of {spec.count()}" if spec.racing else "fitscope", ""):
        if len(left) + len(right) + 2 <= width:
            break
    if len(right) > width:
        right = right[:max(0, width - 1)] + "…"
    gap = max(2 if left else 0, width - len(left) - len(right))
    return escape(left) + " " * gap + escape(right)


class StatusBar(TextView):
    """The header; it draws what it is shown (a snapshot and its :class:`Header`) at its width."""

    def show(self, snap: Snapshot | None, head: Header) -> None:
        self.update(status_line(snap, head, self.app.size.width - 2))

    def engine_failed(self, failure: str) -> None:
        self.update(escape(f"✗ the engine could not start: {failure}"))
