"""How a member ended, in one word a user can read: ok, diverged, blew up or collapsed (numpy only).

Only NaN/inf used to count as a failure, so an Adam member at lr 30 that ended 60,000× above its
first loss, or one whose prediction had collapsed to a constant, read `ok`. The thresholds live
here, in one place, and the README states them.
"""

from __future__ import annotations

import math

import numpy as np

BLOWUP_FACTOR = 10.0  # a final loss this many times its step-1 loss: it blew up and never recovered
COLLAPSE_SPREAD = 1e-3  # a fit whose range on the grid is under this share of the data's y range is a constant


def health(first_loss: float | None, last_loss: float | None, diverged_at: int | None,
           y_pred: np.ndarray | None, y_span: float | None) -> str:
    """`diverged @N`, `blew up`, `collapsed` or `ok` — the first that applies, in that order."""
    if diverged_at is not None:
        return f"diverged @{diverged_at}"
    if (first_loss is not None and last_loss is not None and math.isfinite(first_loss) and first_loss > 0
            and last_loss > BLOWUP_FACTOR * first_loss):
        return "blew up"
    if y_pred is not None and y_span is not None and y_span > 0 and y_pred.size > 1:
        finite = y_pred[np.isfinite(y_pred)]
        if finite.size == y_pred.size and float(finite.max() - finite.min()) < COLLAPSE_SPREAD * y_span:
            return "collapsed"
    return "ok"


def failed(word: str) -> bool:
    """Whether a health word is a failure: failed members sort after every healthy one."""
    return word != "ok"
