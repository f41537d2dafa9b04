"""What the app's engine or a resumed run would refuse at start, said before anything starts, in
one line: torch-free checks of the data file, the device and the memory budget."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from fitscope.core.errors import ConfigError
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir


def precheck(spec: RunSpec) -> None:
    """What the app's engine would refuse at start, said here in one line instead (torch-free):
    a data file's contents, and the memory budget where the run will be on this machine's CPU."""
    from fitscope.core.data import file as datafile
    from fitscope.core.engine import memory

    rows = None
    if spec.base.data.file:
        d = spec.base.data
        x, _, _ = datafile.load(d.file, d.x_column, d.y_column)
        rows = x.size
    device = spec.base.train.device  # the same for every member of a race
    if device not in ("auto", "cpu") and sys.platform.startswith("linux") and not nvidia():  # nor Apple's mps
        raise ConfigError("train.device", device, "not available on this machine; available: auto, cpu")
    if device == "cpu" or (device == "auto" and not nvidia()):
        memory.check(spec, rows_in_file=rows)


def nvidia() -> bool:
    """Whether this machine has an NVIDIA GPU's device node (CUDA cannot run without one)."""
    return os.path.exists("/dev/nvidia0")


@contextlib.contextmanager
def its_config(folder: str | None) -> Iterator[None]:
    """A saved run keeps its config.toml's settings: one this machine refuses (a device, the memory
    budget) is named as the file's."""
    try:
        yield
    except ConfigError as exc:
        if folder is None:
            raise
        raise rundir.RunDirError(f"{Path(folder) / 'config.toml'}: {exc}") from None
