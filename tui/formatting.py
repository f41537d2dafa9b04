"""The one number formatter: every loss, lr and coordinate the app and the console show.

Fixed digits in the ordinary range, ``1.23e+34`` outside it, ``inf``/``nan`` spelled out, and
never wider than a label's column; plus axis ticks that read as round numbers.
"""

from __future__ import annotations

import math


def num(value: float | None, decimals: int = 5) -> str:
    """``0.00470``; ``6.40e+34``; ``—`` for no value. At most decimals + 6 characters."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if 10.0 ** -(decimals - 1) <= abs(value) < 1e4:
        return f"{value:.{decimals}f}"
    return f"{value:.2e}"


R2_FLOOR = -99.0  # below it a fit is worse than a constant by so much that the digits say nothing


def r2(value: float | None, decimals: int = 3) -> str:
    """An R² in fixed digits, like the losses: ``0.998``, ``-1.250``, ``<-99`` below the floor, ``—`` unmeasured."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if value < R2_FLOOR:
        return f"<{R2_FLOOR:.0f}"
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # -6.79e-07 is 0.000, not -0.000


def short(value: float) -> str:
    """An axis label: ``0.5``, ``1.2k``, ``3M``, ``1e-3``, at most ~6 characters."""
    if not math.isfinite(value):
        return num(value)
    a = abs(value)
    if a == 0:
        return "0"
    if a >= 1e9:
        return f"{value:.1e}".replace(".0e", "e").replace("e+0", "e+")
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e3:
        return f"{value / 1e3:.3g}k"
    if a >= 1e-2:
        return f"{value:.3g}"
    return f"{value:.1e}".replace(".0e", "e").replace("e-0", "e-")  # 2.5e-7 stays 2.5e-7, 1.0e-3 is 1e-3


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2, 2.5 or 5 times a power of ten) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, count)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def int_ticks(first: int, last: int, count: int) -> list[int]:
    """Whole-number ticks from about ``first`` to ``last``: round steps, the last one included."""
    if last <= first:
        return [first]
    ticks = sorted({int(round(t)) for t in nice_ticks(first, last, count) if first <= t <= last})
    if len(ticks) < 2:
        return sorted({first, last})
    if last - ticks[-1] >= (ticks[1] - ticks[0]) / 2:
        ticks.append(last)  # the run's latest step always has its tick
    else:
        ticks[-1] = last
    return ticks
