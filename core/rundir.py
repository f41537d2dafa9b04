"""Run directories committed as a whole set of files, never a mix of two saves. Torch-free.

A save writes its files into ``.pending/`` (each flushed and fsynced), then the index
``run.json`` is replaced atomically with ``"state": "committing"`` and the new files' hashes,
then the files are renamed into place and the index is rewritten as ``"clean"``. A reader takes
each file from ``.pending/`` while the index says committing (the rename may not have happened
yet), else from the folder, and checks every hash: a kill at any moment leaves the old save or
the new one, whole. A lock (``flock`` on the folder) refuses a second writer; the next save rolls a
committed set forward and removes what a killed save left behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDEX = "run.json"
PENDING = ".pending"
FORMAT = 1
MARGIN = 1 << 20  # bytes kept free beyond what a save writes
LEGACY = ("config.toml", "model.pt")  # a folder of an earlier fitscope (no index) holds a run too


class RunDirError(Exception):
    """A run directory that cannot be read or written; the message names the file and the problem."""


def holds_run(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in (INDEX, *LEGACY))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    """A new file with the user's normal permissions (umask applies), flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_index(folder: Path, index: dict[str, Any]) -> None:
    tmp = folder / f".{INDEX}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    _write_durable(tmp, json.dumps(index, indent=1).encode())
    os.replace(tmp, folder / INDEX)
    _fsync_dir(folder)


def write_atomic(path: Path, data: bytes) -> None:
    """One file replaced whole: a temp file beside it, flushed, renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        _write_durable(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent if str(path.parent) else Path("."))


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the folder's save lock; a second writer is refused at once with a clear line."""
    fd = os.open(folder, os.O_RDONLY)  # the folder itself: no lock file left behind
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(f"{folder}: another fitscope is saving into this folder right now — "
                              "wait for it, or save somewhere else") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    try:
        index = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise RunDirError(f"{folder}: no saved run here (no {INDEX})") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: unreadable ({exc})") from None
    if not isinstance(index, dict) or not isinstance(index.get("files"), dict):
        raise RunDirError(f"{path}: not a fitscope run index")
    if not isinstance(index.get("format"), int) or index["format"] > FORMAT:
        raise RunDirError(f"{path}: saved by a newer fitscope (format {index.get('format')!r}; "
                          f"this one reads format {FORMAT}) — upgrade fitscope to open it")
    return index


def _roll_forward(folder: Path, index: dict[str, Any]) -> None:
    """Finish a committed save that was interrupted while its files were moved into place."""
    pending = folder / PENDING
    for name in index["files"]:
        src = pending / name
        if src.exists():
            os.replace(src, folder / name)
    _fsync_dir(folder)
    _replace_index(folder, {**index, "state": "clean"})


def _tidy(folder: Path, keep: set[str]) -> None:
    """What killed saves left: a pending set never committed, temp files, files of no save."""
    shutil.rmtree(folder / PENDING, ignore_errors=True)
    for p in folder.iterdir():
        if p.name.startswith(f".{INDEX}.") or re.match(r"^\.model\.pt\.|^\.config\.toml\.|^\.metrics\.csv\.", p.name):
            p.unlink(missing_ok=True)
        elif p.name in LEGACY and p.name not in keep:
            p.unlink(missing_ok=True)


def commit(folder: Path, files: dict[str, bytes], meta: dict[str, Any]) -> None:
    """Write ``files`` into ``folder`` as one save; ``meta`` goes into the index too."""
    folder.mkdir(parents=True, exist_ok=True)
    with locked(folder):
        old: dict[str, Any] | None = None
        with contextlib.suppress(RunDirError):
            old = read_index(folder)
        if old is not None and old.get("state") == "committing":
            _roll_forward(folder, old)
        _tidy(folder, set(files))
        need = sum(len(b) for b in files.values()) + MARGIN
        free = shutil.disk_usage(folder).free
        if free < need:
            raise RunDirError(f"{folder}: not enough disk space to save — needs {need / 1e6:,.1f} MB, "
                              f"{free / 1e6:,.1f} MB free; the run is kept in memory, free some space and save again")
        pending = folder / PENDING
        pending.mkdir()
        for name, data in files.items():
            _write_durable(pending / name, data)
        _fsync_dir(pending)
        index = {"format": FORMAT, **meta, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
        _replace_index(folder, {**index, "state": "committing"})  # the save is now the new one
        for name in files:
            os.replace(pending / name, folder / name)
        _fsync_dir(folder)
        if old is not None:
            for name in set(old["files"]) - set(files):
                (folder / name).unlink(missing_ok=True)
        _replace_index(folder, {**index, "state": "clean"})
        pending.rmdir()


@dataclass(frozen=True)
class Saved:
    folder: Path
    index: dict[str, Any]
    files: dict[str, bytes]

    def text(self, name: str) -> str:
        try:
            return self.files[name].decode("utf-8")
        except KeyError:
            raise RunDirError(f"{self.folder / name}: missing from this save") from None
        except UnicodeDecodeError:
            raise RunDirError(f"{self.folder / name}: not UTF-8 text") from None

    def json(self, name: str) -> dict[str, Any]:
        try:
            out = json.loads(self.text(name))
        except ValueError as exc:
            raise RunDirError(f"{self.folder / name}: not valid JSON ({exc})") from None
        if not isinstance(out, dict):
            raise RunDirError(f"{self.folder / name}: not a JSON object")
        return out


def read(folder: str | Path, names: tuple[str, ...] | None = None) -> Saved:
    """The current save's files (``names`` only, if given), each checked against its hash."""
    folder = Path(folder)
    if not folder.exists():
        raise RunDirError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise RunDirError(f"{folder}: not a folder (a run is a folder holding {INDEX})")
    index = read_index(folder)
    committing = index.get("state") == "committing"
    files = {}
    for name, digest in index["files"].items():
        if names is not None and name not in names:
            continue
        if "/" in name or name.startswith("."):
            raise RunDirError(f"{folder / INDEX}: names a file outside the run ({name!r})")
        data = None
        if committing:
            with contextlib.suppress(FileNotFoundError):
                data = (folder / PENDING / name).read_bytes()
        if data is None:
            try:
                data = (folder / name).read_bytes()
            except FileNotFoundError:
                raise RunDirError(f"{folder / name}: missing (the run directory is incomplete)") from None
            except OSError as exc:
                raise RunDirError(f"{folder / name}: cannot read it ({exc.strerror or exc})") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise RunDirError(f"{folder / name}: does not match its save (changed, truncated or damaged "
                              "since it was written)")
        files[name] = data
    return Saved(folder, index, files)


def check_out_dir(path: str, force: bool) -> Path:
    """Where ``--out`` will write, checked before training starts; RunDirError says why not."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RunDirError(f"--out {path}: not a folder (it is a file)")
    if holds_run(p) and not force:
        raise RunDirError(f"--out {path}: this folder already holds a run — choose a new folder, "
                          "or add --force to replace it")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        why = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else (exc.strerror or str(exc))
        raise RunDirError(f"--out {path}: cannot write there ({why})") from None
    return p


def new_run_dir(base: str | Path = "runs", name: str = "") -> Path:
    """runs/20261129-134501-cubic-relu, made unique with a suffix if two land in one second."""
    base = Path(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40]
    stem = f"{stamp}-{slug}" if slug else stamp
    for i in range(1000):
        path = base / (stem if i == 0 else f"{stem}-{i}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RunDirError(f"{base}: cannot make a new run folder there")


def listing(base: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run directly under ``base`` (or ``base`` itself), with its index, newest first."""
    base = Path(base)
    candidates = [base] if (base / INDEX).exists() else sorted(p for p in base.iterdir() if p.is_dir())
    out = []
    for p in candidates:
        with contextlib.suppress(RunDirError, OSError):
            out.append((p, read_index(p)))
    return sorted(out, key=lambda item: str(item[1].get("saved_at", "")), reverse=True)
