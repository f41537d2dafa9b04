"""A race's members grouped by variant (what varies, without the seed): the one summary that the
app's variant view and `fitscope compare`'s table both print, so they cannot disagree."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from fitscope.core.engine.health import failed
from fitscope.core.snapshot import MemberSnap, Snapshot, loss_rank


@dataclass(frozen=True)
class VariantRow:
    variant: str
    members: tuple[int, ...]  # its members' indices, in the race's order
    median: float | None  # final training loss over its seeds that did not diverge (a NaN has no loss)
    low: float | None
    high: float | None
    test_median: float | None
    failures: tuple[str, ...]  # the health words of its failed members, the first to fail first
    median_member: int  # the member whose loss is the median: the variant's curve on the chart

    @property
    def seeds(self) -> int:
        return len(self.members)

    @property
    def state(self) -> str:
        """``ok``, ``1 diverged @39`` (one failed: its word), ``2 failed`` (several)."""
        if not self.failures:
            return "ok"
        if len(self.failures) == 1:
            return f"1 {self.failures[0]}"
        return f"{len(self.failures)} failed"


def _failure_order(word: str) -> tuple[int, int]:
    """diverged first (by step), then blew up, then collapsed."""
    if word.startswith("diverged @"):
        return 0, int(word.removeprefix("diverged @"))
    return (1 if word == "blew up" else 2), 0


def _row(variant: str, idx: list[int], members: tuple[MemberSnap, ...]) -> VariantRow:
    alive = [i for i in idx if members[i].diverged_at is None and members[i].loss is not None]
    alive.sort(key=lambda i: loss_rank(members[i].loss))
    finals = [members[i].loss for i in alive]
    tests = [members[i].test_loss for i in alive if members[i].test_loss is not None]
    words = sorted((members[i].health for i in idx if failed(members[i].health)), key=_failure_order)
    return VariantRow(
        variant, tuple(idx),
        statistics.median(finals) if finals else None,  # type: ignore[type-var]
        min(finals) if finals else None,  # type: ignore[type-var]
        max(finals) if finals else None,  # type: ignore[type-var]
        statistics.median(tests) if tests else None,  # type: ignore[type-var]
        tuple(words),
        alive[len(alive) // 2] if alive else idx[0])


def variant_rows(snap: Snapshot) -> list[VariantRow]:
    """Each variant's median, min and max final loss over its seeds, best first; a variant with no
    healthy member after every one that has one."""
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(snap.members):
        groups.setdefault(m.variant or m.label, []).append(i)
    rows = [_row(v, idx, snap.members) for v, idx in groups.items()]
    rows.sort(key=lambda r: (len(r.failures) == r.seeds, loss_rank(r.median)))
    return rows
