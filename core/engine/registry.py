"""Every activation, optimiser and loss fitscope knows, each described once.

Adding an activation is one entry here: config's choices, the autograd model, the fast kernels,
the numpy view of the network and the exported script all read these tables (a test checks each
entry end to end). Torch-free at import, as the app never loads torch: an entry's fast kernels
are built by a function that imports torch when the fast path first asks for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Forward = Callable[[Any, Any], Any]  # (z, out): the activation of z into out
Backward = Callable[[Any, Any, Any, Any], Any]  # (grad, z, a, out): dL/dz into out

# torch.nn's default arguments, which the fast kernels and numpy must repeat; a test checks them
# against the modules torch builds, so a torch release that changed one would be caught
SOFTPLUS_BETA, SOFTPLUS_THRESHOLD = 1, 20
LEAKY_SLOPE = 0.01
ELU_ALPHA = 1


@dataclass(frozen=True)
class Activation:
    module: str  # the torch.nn class, built with its defaults
    numpy: Callable[[np.ndarray], np.ndarray]
    kernels: Callable[[], tuple[Forward, Backward]]  # the derivative kernels autograd itself calls
    kinked: bool = False  # piecewise-linear: the fit's slope changes where a unit turns on, units can die

    @property
    def source(self) -> str:
        """The module as an exported script writes it."""
        return f"nn.{self.module}()"


def _ops() -> tuple[Any, Any, Any]:
    import torch

    return torch, torch.ops.aten, torch._C._nn


def _relu() -> tuple[Forward, Backward]:
    torch, aten, _ = _ops()
    return (lambda z, out: torch.clamp_min(z, 0, out=out),
            lambda g, z, a, out: aten.threshold_backward.grad_input(g, a, 0, grad_input=out))


def _softplus() -> tuple[Forward, Backward]:
    _, aten, nn = _ops()
    b, t = SOFTPLUS_BETA, SOFTPLUS_THRESHOLD
    return (lambda z, out: nn.softplus(z, b, t, out=out),
            lambda g, z, a, out: aten.softplus_backward.grad_input(g, z, b, t, grad_input=out))


def _tanh() -> tuple[Forward, Backward]:
    torch, aten, _ = _ops()
    return (lambda z, out: torch.tanh(z, out=out),
            lambda g, z, a, out: aten.tanh_backward.grad_input(g, a, grad_input=out))


def _sigmoid() -> tuple[Forward, Backward]:
    torch, aten, _ = _ops()
    return (lambda z, out: torch.sigmoid(z, out=out),
            lambda g, z, a, out: aten.sigmoid_backward.grad_input(g, a, grad_input=out))


def _gelu() -> tuple[Forward, Backward]:
    _, aten, nn = _ops()
    return (lambda z, out: nn.gelu(z, out=out),
            lambda g, z, a, out: aten.gelu_backward.grad_input(g, z, grad_input=out))


def _silu() -> tuple[Forward, Backward]:
    _, aten, nn = _ops()
    return (lambda z, out: nn.silu(z, out=out),
            lambda g, z, a, out: aten.silu_backward.grad_input(g, z, grad_input=out))


def _elu() -> tuple[Forward, Backward]:
    _, aten, nn = _ops()
    return (lambda z, out: nn.elu(z, out=out),
            lambda g, z, a, out: aten.elu_backward.grad_input(g, ELU_ALPHA, 1, 1, False, z, grad_input=out))


def _leaky_relu() -> tuple[Forward, Backward]:
    _, aten, nn = _ops()
    return (lambda z, out: nn.leaky_relu(z, LEAKY_SLOPE, out=out),
            lambda g, z, a, out: aten.leaky_relu_backward.grad_input(g, z, LEAKY_SLOPE, False, grad_input=out))


def _identity() -> tuple[Forward, Backward]:
    return lambda z, out: out.copy_(z), lambda g, z, a, out: out.copy_(g)


_ERF = np.vectorize(math.erf, otypes=[float])


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _np_softplus(z: np.ndarray) -> np.ndarray:
    t = SOFTPLUS_THRESHOLD
    return np.where(z > t, z, np.log1p(np.exp(np.minimum(z, float(t)))))


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("ReLU", lambda z: np.maximum(z, 0.0), _relu, kinked=True),
    "softplus": Activation("Softplus", _np_softplus, _softplus),
    "tanh": Activation("Tanh", np.tanh, _tanh),
    "sigmoid": Activation("Sigmoid", _np_sigmoid, _sigmoid),
    "gelu": Activation("GELU", lambda z: 0.5 * z * (1.0 + _ERF(z / math.sqrt(2.0))), _gelu),
    "silu": Activation("SiLU", lambda z: z * _np_sigmoid(z), _silu),
    "elu": Activation("ELU", lambda z: np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0))), _elu),
    "leaky_relu": Activation("LeakyReLU", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z), _leaky_relu, kinked=True),
    "identity": Activation("Identity", lambda z: z, _identity),
}
KINKED = tuple(name for name, a in ACTIVATIONS.items() if a.kinked)


@dataclass(frozen=True)
class Optimizer:
    cls: str  # the torch.optim class
    momentum: bool  # takes a momentum argument (the others ignore train.momentum)
    fused: bool  # torch.optim's fused kernel exists for it (same math, ~1.35x on CPU at these sizes)
    second_moment: bool  # keeps a running square of the gradient besides its first buffer


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("SGD", momentum=True, fused=False, second_moment=False),
    "adam": Optimizer("Adam", momentum=False, fused=True, second_moment=True),
    "adamw": Optimizer("AdamW", momentum=False, fused=True, second_moment=True),
    "rmsprop": Optimizer("RMSprop", momentum=True, fused=False, second_moment=True),
}


@dataclass(frozen=True)
class Loss:
    module: str  # the torch.nn class, built with its defaults
    functional: str  # its torch.nn.functional twin, which the fast path calls with reduction="none"

    @property
    def source(self) -> str:
        return f"nn.{self.module}()"


LOSSES: dict[str, Loss] = {
    "mse": Loss("MSELoss", "mse_loss"),
    "l1": Loss("L1Loss", "l1_loss"),
    "huber": Loss("HuberLoss", "huber_loss"),
}
