"""Inside the network, in numpy (so the app, which never loads torch, can draw it): the units of
the last hidden layer that sum to the fit, the kinks of a ReLU-family fit, dead units.

A net is its layers as (W [out, in], b [out]) pairs, ``nn.Linear``'s layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fitscope.core.engine import registry
from fitscope.core.engine.registry import KINKED

__all__ = ["ACTIVATIONS", "KINKED", "TOP_UNITS", "Layers", "Units", "dead_fraction", "forward", "hidden", "kinks",
           "layers_of", "units"]

Layers = list[tuple[np.ndarray, np.ndarray]]
TOP_UNITS = 8
# the numpy view of each activation, for the app, which never loads torch
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {n: a.numpy for n, a in registry.ACTIVATIONS.items()}


def layers_of(state: dict[str, np.ndarray]) -> Layers:
    """From a state dict (``0.weight``, ``0.bias``, ``2.weight``, …) in nn.Sequential's order."""
    out = []
    i = 0
    while f"{i}.weight" in state:
        out.append((np.asarray(state[f"{i}.weight"], float), np.asarray(state[f"{i}.bias"], float)))
        i += 2
    return out


def hidden(layers: Layers, activation: str, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each hidden layer's pre-activation and activation at the points x: [n, width] each."""
    act = ACTIVATIONS[activation]
    h = np.asarray(x, float).reshape(-1, 1)
    out = []
    for w, b in layers[:-1]:
        z = h @ w.T + b
        h = act(z)
        out.append((z, h))
    return out


def forward(layers: Layers, activation: str, x: np.ndarray) -> np.ndarray:
    h = hidden(layers, activation, x)
    last = h[-1][1] if h else np.asarray(x, float).reshape(-1, 1)
    w, b = layers[-1]
    return (last @ w.T + b)[:, 0]


@dataclass(frozen=True)
class Units:
    """The fit as a sum: ``curves`` (the top units, then "others") plus ``bias`` equals it."""

    labels: list[str]  # "u3" (unit 3 of the last hidden layer), "others (+n)"
    curves: np.ndarray  # [curves, points]
    bias: float
    total: np.ndarray  # their sum plus the bias: the fit


def units(layers: Layers, activation: str, x: np.ndarray, top: int = TOP_UNITS) -> Units:
    """Each last-hidden-layer unit's contribution w_j·a_j(x), sorted by how much it contributes
    (max |w_j·a_j| over x); past ``top``, the rest summed into one curve."""
    a = hidden(layers, activation, x)[-1][1]  # [n, H]
    w, b = layers[-1]
    contrib = (a * w[0]).T  # [H, n]
    order = np.argsort(-np.abs(contrib).max(axis=1), kind="stable")
    shown = order[:top]
    labels = [f"u{j + 1}" for j in shown]
    curves = contrib[shown]
    if len(order) > top:
        labels.append(f"others (+{len(order) - top})")
        curves = np.vstack([curves, contrib[order[top:]].sum(axis=0)])
    return Units(labels, curves, float(b[0]), curves.sum(axis=0) + float(b[0]))


def kinks(layers: Layers, activation: str, x_range: tuple[float, float], fine: int = 20_001) -> np.ndarray:
    """Where a ReLU-family fit's slope can change inside the range, sorted: for one hidden layer
    exactly x = −b_i/w_i; deeper, where any unit's pre-activation changes sign along a fine grid
    (located by linear interpolation between grid points). Empty for smooth activations."""
    if activation not in KINKED:
        return np.zeros(0)
    lo, hi = x_range
    if len(layers) == 2:
        w, b = layers[0]
        w, b = w[:, 0], b
        ok = w != 0
        x = -b[ok] / w[ok]
        return np.unique(x[(x > lo) & (x < hi)])
    grid = np.linspace(lo, hi, fine)
    found = []
    for z, _ in hidden(layers, activation, grid):
        s = z > 0
        flips = np.nonzero(s[1:] != s[:-1])  # (grid index, unit)
        for i, u in zip(*flips):
            z0, z1 = z[i, u], z[i + 1, u]
            found.append(grid[i] + (grid[i + 1] - grid[i]) * (z0 / (z0 - z1) if z0 != z1 else 0.5))
    return np.unique(np.round(np.array(found), 12)) if found else np.zeros(0)


def dead_fraction(layers: Layers, activation: str, x: np.ndarray) -> list[float | None]:
    """Per hidden layer, the fraction of units never active on the points x (pre-activation > 0);
    None for activations where "dead" has no meaning (all but relu and leaky_relu)."""
    if activation not in KINKED:
        return [None] * (len(layers) - 1)
    return [float(((z > 0).sum(axis=0) == 0).mean()) for z, _ in hidden(layers, activation, x)]
