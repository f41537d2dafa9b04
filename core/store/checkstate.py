"""Whether a checkpoint fits the experiment it is loaded into, before anything is loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from fitscope.core.engine.training import Experiment
    from fitscope.core.spec import Member


def check_state(state: dict[str, Any], exp: Experiment) -> None:
    """A checkpoint that fits this experiment, or a StateError naming what does not."""
    if not isinstance(state, dict) or not isinstance(state.get("members"), list):
        raise StateError("not a fitscope checkpoint")
    if state.get("kernels") != exp.spec.base.train.kernels:
        raise StateError(f"saved with train.kernels = {state.get('kernels')!r}, the config says "
                         f"{exp.spec.base.train.kernels!r}")
    if len(state["members"]) != len(exp.members):
        raise StateError(f"holds {len(state['members'])} members, the config makes {len(exp.members)}")
    if not isinstance(state.get("batches"), dict):
        raise StateError("holds no batch order")
    if not isinstance(state.get("step"), int) or state["step"] < 0:
        raise StateError(f"step {state.get('step')!r} is not a step count")
    for j, (member, m) in enumerate(zip(state["members"], exp.members)):
        _check_member(j, member, m)


def _check_member(j: int, member: Any, m: Member) -> None:
    model = member.get("model") if isinstance(member, dict) else None
    if not isinstance(model, dict):
        raise StateError(f"member {j} has no model weights")
    widths = [1, *m.cfg.model.hidden, 1]
    for layer, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        for name, shape in ((f"{2 * layer}.weight", (w_out, w_in)), (f"{2 * layer}.bias", (w_out,))):
            t = model.get(name)
            if not isinstance(t, torch.Tensor):
                raise StateError(f"member {j} ({m.label}) has no {name}")
            if tuple(t.shape) != shape:
                raise StateError(f"member {j} ({m.label}): {name} has shape {list(t.shape)}, the config's "
                                 f"{shape_of(m.cfg.model.hidden)} net needs {list(shape)}")
            if t.dtype != torch.float32:  # a bool, int8 or complex tensor of the right shape loaded silently
                raise StateError(f"member {j} ({m.label}): {name} is {str(t.dtype).removeprefix('torch.')}, "
                                 "expected float32")
    for t in _tensors(member.get("optim")):
        if t.dtype.is_complex or t.dtype == torch.bool:
            raise StateError(f"member {j} ({m.label}): its optimiser state holds a "
                             f"{str(t.dtype).removeprefix('torch.')} tensor, expected real numbers")
    if not isinstance(member.get("optim"), dict):
        raise StateError(f"member {j} ({m.label}) has no optimiser state")
    if len(model) != 2 * (len(widths) - 1):
        raise StateError(f"member {j} ({m.label}) has {len(model) // 2} layers, the config needs {len(widths) - 1}")


def _tensors(value: Any, depth: int = 0) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if depth > 8:
        return []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return [t for v in items for t in _tensors(v, depth + 1)]


def shape_of(hidden: tuple[int, ...]) -> str:
    return "-".join(str(n) for n in (1, *hidden, 1))


class StateError(ValueError):
    """A checkpoint that does not fit the run it is loaded into."""
