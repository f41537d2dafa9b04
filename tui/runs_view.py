"""`fitscope runs` and `fitscope show`: saved runs on the console, read without torch."""

from __future__ import annotations

import sys
from pathlib import Path

from fitscope.core import readers, rundir
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
        try:
            info = readers.checked(index.get("listing", {}), readers.LISTING, f"{folder / rundir.INDEX} (listing)")
        except rundir.RunDirError as exc:
            damaged.append(f"{name}: {printable(str(exc))}")
            continue
        date = printable(str(index.get("saved_at", ""))[:16].replace("T", " "))
        rows.append((name, date, _name(str(info["target"] or "—"), 24), _name(str(info["net"] or "—"), 32),
                     _cell(info["members"]), _count(info["steps"]), "—" if info["final_loss"] is None
                     else num(info["final_loss"])))
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


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


def _plain(text: str) -> str:
    """A folder's text with its lines kept and every other control character (ESC, BEL, CSI) shown as ?."""
    return "\n".join(printable(line) for line in text.split("\n"))


def show(run: str, out=None) -> int:
    out = out or sys.stdout
    saved = rundir.read(run, names=("summary.json", "fit.txt"))
    s = readers.summary(saved.json("summary.json"), saved.folder / "summary.json")  # checked before it is formatted
    if "fit.txt" in saved.files:
        out.write(_plain(saved.text("fit.txt")))
    saved_at = printable(str(saved.index.get("saved_at", ""))[:19]).replace("T", " ")
    out.write(f"{printable(str(saved.folder))}  saved {saved_at}\n")
    varies = s["varies"] or {}
    optimizer = s["optimizer"]
    if "train.lr" in varies or "train.optimizer" in varies:
        optimizer = " / ".join(f"{k.split('.')[-1]} {','.join(map(str, v))}" for k, v in varies.items()
                               if k in ("train.optimizer", "train.lr"))
    out.write(printable(f"{s['target']} · {s['net']} · {optimizer} · {s['device']} · kernels {s['kernels']}") + "\n")
    rate = s["steps_per_s"]
    parts = [f"{_count(s['steps'])} of {_count(s['budget'])} steps", f"final loss {num(s['final_loss'])}"]
    if s["test_loss"] is not None:
        parts.append(f"test loss {num(s['test_loss'])}")
    parts.append(f"best {num(s['best_loss'])} at step {_cell(s['best_step'])}")
    if s["diverged_at"] is not None:
        parts.append(f"diverged at step {s['diverged_at']:,}")
    if rate is not None:
        parts.append(f"{rate:,.0f} steps/s")
    out.write(" · ".join(parts) + "\n")
    units = s.get("data_units")  # a data file trains standardised: its losses in y's own units too
    if units:
        out.write(f"in the data's units (trained standardised, y mean {num(units.get('y_mean'))} sd "
                  f"{num(units.get('y_sd'))}): final loss {num(units.get('final_loss'))}"
                  + ("" if units.get("test_loss") is None else f" · test loss {num(units['test_loss'])}") + "\n")
    members = s["per_member"] or []
    if len(members) > 1:
        names = ", ".join(varies) or "the init seed"
        out.write(printable(f"race of {len(members)} members varying {names} (seeds: {_cell(s['seeds'])}):") + "\n")
        width = max(len(str(m["label"] or "")) for m in members)
        for m in sorted(members, key=lambda m: (m["final_loss"] is None, m["final_loss"] or 0.0)):
            tail = f"  diverged at step {m['diverged_at']:,}" if m["diverged_at"] else ""
            out.write(printable(f"  {str(m['label']):<{width}}  {num(m['final_loss']):>10}{tail}") + "\n")
    versions = s["versions"] or {}
    if versions:
        out.write(printable("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())) + "\n")
    return 0
