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
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fitscope.core.errors import RunDirError as RunDirError
from fitscope.core.store.datarecord import data_record as data_record  # run.py's name for it
from fitscope.core.store.runfiles import INDEX as INDEX
from fitscope.core.store.runfiles import LIMITS
from fitscope.core.store.runfiles import SAVED_NAMES as SAVED_NAMES
from fitscope.core.store.safeio import CLAIM as CLAIM
from fitscope.core.store.safeio import claimed as claimed
from fitscope.core.store.safeio import fsync_dir, read_regular, write_durable
from fitscope.core.store.safeio import kind as kind
from fitscope.core.store.safeio import locked as locked
from fitscope.core.store.safeio import write_atomic as write_atomic

PENDING = ".pending"
FORMAT = 1
MARGIN = 1 << 20  # bytes kept free beyond what a save writes
LEGACY = ("config.toml", "model.pt")  # a folder of an earlier fitscope (no index) holds a run too
INDEX_MAX = 1 << 20  # bytes: an index is a few hundred


def _pending_dir(folder: Path) -> Path | None:
    """The folder's ``.pending``, when it is a real folder inside the run (never a link out of it)."""
    pending = folder / PENDING
    try:
        st = pending.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        raise RunDirError(f"{pending}: not a folder (a symbolic link or a file, never followed)")
    return pending


def holds_run(path: Path) -> bool:
    """A saved run, or a run being trained into it by a live fitscope (its reservation)."""
    if kind(path) is not None:
        return False
    try:
        index = json.loads(read_regular(path / INDEX, INDEX_MAX))
    except FileNotFoundError:
        return any(_exists(path / name) for name in LEGACY)
    except (OSError, ValueError, RecursionError, RunDirError):
        return True  # something is there: never written over without --force
    if isinstance(index, dict) and index.get("state") == "reserved":
        return _alive(index.get("pid"))
    return True


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or not 0 < pid < 1 << 31:  # os.kill takes a C int
        return False
    if pid == os.getpid():
        return False  # our own reservation
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reserve(folder: Path) -> None:
    """Mark ``folder`` as taken by this process until its first save, so a second ``--out`` into
    it is refused while this one trains (a reservation of a process that has ended counts for nothing)."""
    if (folder / INDEX).exists():
        return  # a save is there (replaced with --force): its own index stands until ours is written
    _replace_index(folder, {"format": FORMAT, "state": "reserved", "pid": os.getpid(), "files": {}})


def _names(index: dict[str, Any], where: Path) -> list[str]:
    """The file names an index lists, each a plain name inside the run folder."""
    names = list(index["files"])
    for name in names:
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") \
                or name == INDEX:
            raise RunDirError(f"{where / INDEX}: names a file outside the run ({name!r})")
    return names


def _replace_index(folder: Path, index: dict[str, Any]) -> None:
    tmp = folder / f".{INDEX}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    write_durable(tmp, json.dumps(index, indent=1).encode())
    os.replace(tmp, folder / INDEX)
    fsync_dir(folder)


def read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    problem = kind(folder)
    if problem:
        raise RunDirError(f"{folder}: {problem}" + (f" (a run is a folder holding {INDEX})" if "not a folder" in problem
                                                     else ""))
    try:
        index = json.loads(read_regular(path, INDEX_MAX))
    except FileNotFoundError:
        raise RunDirError(f"{folder}: no saved run here (no {INDEX})") from None
    except RecursionError:
        raise RunDirError(f"{path}: unreadable (nested too deeply)") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: unreadable ({exc})") from None
    if not isinstance(index, dict) or not isinstance(index.get("files"), dict):
        raise RunDirError(f"{path}: not a fitscope run index")
    if not isinstance(index.get("format"), int) or index["format"] > FORMAT:
        raise RunDirError(f"{path}: saved by a newer fitscope (format {index.get('format')!r}; "
                          f"this one reads format {FORMAT}) — upgrade fitscope to open it")
    if index.get("state") == "reserved":
        busy = _alive(index.get("pid"))
        raise RunDirError(f"{folder}: no saved run here yet" + (f" (a fitscope, pid {index['pid']}, is training into it)"
                                                                  if busy else ""))
    _names(index, folder)
    return index


def _roll_forward(folder: Path, index: dict[str, Any]) -> None:
    """Finish a committed save that was interrupted while its files were moved into place; only a
    writer of the folder does this, and only from a real ``.pending`` inside it, file by regular file."""
    with contextlib.suppress(RunDirError):
        pending = _pending_dir(folder)
        if pending is not None:
            for name in _names(index, folder):
                src = pending / name
                with contextlib.suppress(FileNotFoundError):
                    if stat.S_ISREG(src.lstat().st_mode):
                        os.replace(src, folder / name)
    fsync_dir(folder)
    _replace_index(folder, {**index, "state": "clean"})


def _tidy(folder: Path, keep: set[str]) -> None:
    """What killed saves left: a pending set never committed, temp files, files of no save."""
    pending = folder / PENDING
    if pending.is_symlink() or (pending.exists() and not pending.is_dir()):
        pending.unlink()  # the link itself, never what it points at
    else:
        shutil.rmtree(pending, ignore_errors=True)
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
        with contextlib.suppress(RunDirError):  # an unreadable, reserved or hostile index names no files
            old = read_index(folder)
        if old is not None and old.get("state") == "committing":
            _roll_forward(folder, old)
        _tidy(folder, set(files))
        need = sum(len(b) for b in files.values()) + MARGIN
        free = shutil.disk_usage(folder).free
        if free < need:
            needs, has = f"{need / 1e6:,.1f} MB", f"{free / 1e6:,.1f} MB"
            if needs == has:  # never "needs 1.1 MB, 1.1 MB free"
                needs, has = f"{need:,} bytes", f"{free:,} bytes"
            raise RunDirError(f"{folder}: not enough disk space to save — needs {needs}, {has} free; the run is "
                              "kept in memory, free some space and save again")
        pending = folder / PENDING
        pending.mkdir()
        for name, data in files.items():
            write_durable(pending / name, data)
        fsync_dir(pending)
        index = {"format": FORMAT, **meta, "saved_at": _now(),
                 "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
        _replace_index(folder, {**index, "state": "committing"})  # the save is now the new one
        for name in files:
            os.replace(pending / name, folder / name)
        fsync_dir(folder)
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
        except RecursionError:
            raise RunDirError(f"{self.folder / name}: unreadable (nested too deeply)") from None
        except ValueError as exc:
            raise RunDirError(f"{self.folder / name}: not valid JSON ({str(exc)[:120]})") from None
        if not isinstance(out, dict):
            raise RunDirError(f"{self.folder / name}: not a JSON object")
        return out


def read(folder: str | Path, names: tuple[str, ...] | None = None) -> Saved:
    """The current save's files (``names`` only, if given), each checked against its hash."""
    folder = Path(folder).expanduser()
    index = read_index(folder)
    # a save killed while moving its files into place: its set is read from wherever each file is,
    # and left as it is (a reader never writes; the next save into the folder finishes it)
    pending = _pending_dir(folder) if index.get("state") == "committing" else None
    files = {}
    for name, digest in index["files"].items():
        if names is not None and name not in names:
            continue
        data = None
        if pending is not None:
            with contextlib.suppress(FileNotFoundError):
                data = read_regular(pending / name, LIMITS.get(name), follow=False)
        if data is None:
            try:
                data = read_regular(folder / name, LIMITS.get(name), follow=False)
            except FileNotFoundError:
                raise RunDirError(f"{folder / name}: missing (the run directory is incomplete)") from None
            except OSError as exc:
                raise RunDirError(f"{folder / name}: cannot read it ({exc.strerror or exc})") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise RunDirError(f"{folder / name}: does not match its save (changed, truncated or damaged "
                              "since it was written)")
        files[name] = data
    return Saved(folder, index, files)


def _probe(folder: Path) -> None:
    """Can a file be made here? A new one of a fresh name (O_EXCL), so never through a link a
    crafted folder planted under the name a probe would take."""
    fd, name = tempfile.mkstemp(prefix=".probe.", dir=folder)
    os.close(fd)
    os.unlink(name)


def check_out_dir(path: str, force: bool) -> Path:
    """Where ``--out`` will write, checked before training starts; RunDirError says why not."""
    if not path.strip():
        raise RunDirError("--out: an empty name — give a folder, e.g. --out runs/mine")
    p = Path(path).expanduser()
    problem = kind(p)
    if problem and problem != "no such folder":
        raise RunDirError(f"--out {path}: {problem}")
    if any(True for _ in _subruns(p)):
        raise RunDirError(f"--out {path}: this folder holds other runs (it is a folder of runs) — give a new "
                          f"folder inside it, e.g. --out {Path(path) / 'mine'}")
    if holds_run(p) and not force:
        raise RunDirError(f"--out {path}: this folder already holds a run — choose a new folder, "
                          "or add --force to replace it")
    clash = [name for name in SAVED_NAMES if _exists(p / name)]
    if clash and not force:  # the user's own files of those names: never replaced without --force
        raise RunDirError(f"--out {path}: it holds {', '.join(clash)}, which a save would replace — choose a new "
                          "folder, or add --force to replace them")
    made = [a for a in [p, *p.parents] if not a.exists()]  # the folders this --out makes, deepest first
    try:
        p.mkdir(parents=True, exist_ok=True)
        _probe(p)
        reserve(p)
    except OSError as exc:
        why = ("a read-only file system" if exc.errno == errno.EROFS else "permission denied"
               if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc)))
        _remove_empty(made)
        raise RunDirError(f"--out {path}: cannot write there ({why})") from None
    RESERVED.append((p, made))
    return p


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; a folder that holds anything stays
        try:
            folder.rmdir()
        except OSError:
            return


RESERVED: list[tuple[Path, list[Path]]] = []  # --out folders this process reserved, and the folders it made


def release_unused() -> None:
    """Take back what ``check_out_dir`` reserved and nothing was saved into: a refused or failed run
    left an empty folder, or one holding only its reservation."""
    while RESERVED:
        folder, made = RESERVED.pop()
        with contextlib.suppress(OSError, ValueError):
            index = json.loads(read_regular(folder / INDEX, INDEX_MAX, follow=False))
            if isinstance(index, dict) and index.get("state") == "reserved" and index.get("pid") == os.getpid():
                (folder / INDEX).unlink()
        _remove_empty(made)


def check_writable(folder: Path, what: str) -> None:
    """A folder a run will be saved into (made if missing), or RunDirError saying why not."""
    where = f"{what} {folder}" if what.startswith("-") else what  # "--resume runs/x", or "./runs" alone
    problem = kind(folder)
    if problem and problem != "no such folder":
        raise RunDirError(f"{where}: {problem}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _probe(folder)
    except OSError as exc:
        why = ("a read-only file system" if exc.errno == errno.EROFS else "permission denied"
               if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc)))
        raise RunDirError(f"{where}: cannot save there ({why})") from None


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


def _subruns(base: Path) -> Iterator[Path]:
    try:
        for p in base.iterdir():
            if _exists(p / INDEX):
                yield p
    except OSError:
        return


def _now() -> str:
    # milliseconds: two saves within one second still list newest first
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def listing(base: str | Path) -> list[tuple[Path, dict[str, Any] | str]]:
    """Every run directly under ``base`` and ``base`` itself, with its index (or why it cannot be
    read), newest first; folders that hold no index are not runs and are left out."""
    base = Path(base)
    candidates = ([base] if _exists(base / INDEX) else []) + sorted(_subruns(base))
    out: list[tuple[Path, dict[str, Any] | str]] = []
    for p in candidates:
        try:
            out.append((p, read_index(p)))
        except RunDirError as exc:
            out.append((p, str(exc).removeprefix(f"{p}: ").removeprefix(f"{p / INDEX}: ")))
    return sorted(out, key=lambda item: str(item[1].get("saved_at", "")) if isinstance(item[1], dict) else "",
                  reverse=True)
