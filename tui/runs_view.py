"""`fitscope runs` and `fitscope show`: saved runs on the console, read without torch."""

from __future__ import annotations

import sys
from pathlib import Path

from fitscope.core import rundir
from fitscope.core.errors import printable
from fitscope.tui.formatting import num


def _cell(value) -> str:
    return "—" if value is None else str(value)


def _name(text: str, width: int = 48) -> str:
    text = printable(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def list_runs(base: str, out=None) -> int:
    out = out or sys.stdout
    path = Path(base)
    problem = rundir.kind(path)
    if problem:
        raise rundir.RunDirError(f"{base}: {problem}" + (" (fitscope run saves under ./runs by default)"
                                                         if problem == "no such folder" else ""))
    found = rundir.listing(path)
    if not found:
        out.write(f"no saved runs in {_name(base)}\n")
        return 0
    rows = [("name", "date", "target", "net", "members", "steps", "final loss")]
    damaged = []
    for folder, index in found:
        name = _name(folder.name if folder != path else str(folder))
        if isinstance(index, str):
            damaged.append(f"{name}: {printable(index)}")
            continue
        info = index.get("listing", {}) if isinstance(index.get("listing"), dict) else {}
        date = str(index.get("saved_at", ""))[:16].replace("T", " ")
        steps = info.get("steps")
        loss = info.get("final_loss")
        rows.append((name, date, _name(str(info.get("target", "—")), 24), _name(str(info.get("net", "—")), 32),
                     _cell(info.get("members")), f"{steps:,}" if isinstance(steps, int) else "—",
                     num(loss) if isinstance(loss, (int, float)) else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6}
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.write("  ".join(cells).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("─" * w for w in widths) + "\n")
    for line in damaged:
        out.write(f"not readable: {line}\n")
    return 0


def show(run: str, out=None) -> int:
    out = out or sys.stdout
    saved = rundir.read(run, names=("summary.json", "fit.txt"))
    s = saved.json("summary.json")
    if "fit.txt" in saved.files:
        out.write(saved.text("fit.txt"))
    out.write(f"{saved.folder}  saved {str(saved.index.get('saved_at', ''))[:19].replace('T', ' ')}\n")
    varies = s.get("varies") if isinstance(s.get("varies"), dict) else {}
    optimizer = s.get("optimizer")
    if "train.lr" in varies or "train.optimizer" in varies:
        optimizer = " / ".join(f"{k.split('.')[-1]} {','.join(map(str, v))}" for k, v in varies.items()
                               if k in ("train.optimizer", "train.lr"))
    out.write(f"{printable(str(s.get('target')))} · {s.get('net')} · {optimizer} · {s.get('device')} · "
              f"kernels {s.get('kernels')}\n")
    rate = s.get("steps_per_s")
    parts = [f"{s.get('steps', 0):,} of {s.get('budget', 0):,} steps", f"final loss {num(s.get('final_loss'))}"]
    if s.get("test_loss") is not None:
        parts.append(f"test loss {num(s.get('test_loss'))}")
    parts.append(f"best {num(s.get('best_loss'))} at step {_cell(s.get('best_step'))}")
    if s.get("diverged_at") is not None:
        parts.append(f"diverged at step {s['diverged_at']:,}")
    if isinstance(rate, (int, float)):
        parts.append(f"{rate:,.0f} steps/s")
    out.write(" · ".join(parts) + "\n")
    members = s.get("per_member") or []
    if len(members) > 1:
        varies = ", ".join(s.get("varies", {})) or "the init seed"
        out.write(f"race of {len(members)} members varying {varies} (seeds: {s.get('seeds')}):\n")
        width = max(len(str(m.get("label", ""))) for m in members)
        for m in sorted(members, key=lambda m: (m.get("final_loss") is None, m.get("final_loss") or 0.0)):
            tail = f"  diverged at step {m['diverged_at']:,}" if m.get("diverged_at") else ""
            out.write(f"  {str(m.get('label')):<{width}}  {num(m.get('final_loss')):>10}{tail}\n")
    versions = s.get("versions", {})
    if isinstance(versions, dict) and versions:
        out.write("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")
    return 0
