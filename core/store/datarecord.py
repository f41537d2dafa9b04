"""What a save keeps of the data file a run trained on (where it was, its SHA-256), and the check
that a resume trains on the same bytes. Torch-free."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fitscope.core.config import file_problem
from fitscope.core.errors import RunDirError

if TYPE_CHECKING:
    from fitscope.core.store.folder import Saved


def data_record(path: str) -> dict[str, str]:
    """What a save keeps of the data file a run trained on: where it was and its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"file": str(Path(path).resolve()), "sha256": digest.hexdigest()}


def saved_data(saved: Saved, path: str, to: str = "resume") -> str:
    """The data file to resume ``saved`` on: ``path`` (its config's data.file) or, when that is not
    there (resumed from another folder), where it was at the save; RunDirError when the file is
    not the one the run trained on (``to``: what needs it, e.g. export). Saves from before the record
    are taken as they are."""
    doing = "resuming" if to == "resume" else to + "ing"
    record = saved.index.get("data")
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        return path
    where = path
    if not os.path.exists(where) and isinstance(record.get("file"), str) and os.path.exists(record["file"]):
        where = record["file"]
    problem = file_problem(where)  # a FIFO or /dev/zero put where the file was would hang the hash
    if problem:
        raise RunDirError(f"{where}: the run's data file — {problem}; {doing} needs the data it trained on")
    try:
        now = data_record(where)["sha256"]
    except OSError as exc:
        raise RunDirError(f"{path}: the run's data file — cannot read it ({exc.strerror or exc}); "
                          f"{doing} needs the data it trained on") from None
    if now != record["sha256"]:
        raise RunDirError(f"{where}: not the data this run trained on (the file changed since the save); "
                          f"put the original back to {to} it")
    return where


def locate(saved: Saved, path: str) -> str:
    """Where the data file of ``saved`` is, unchecked (to show or export the run, not to train it):
    ``path`` (its config's data.file), else where it was at the save, else ``path``."""
    record = saved.index.get("data")
    at = record.get("file") if isinstance(record, dict) else None
    return at if not os.path.exists(path) and isinstance(at, str) and os.path.exists(at) else path
