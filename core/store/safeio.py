"""Files read and written safely: a reader that takes only regular files of a bounded size, and
writes that reach the disk whole (flushed, fsynced, renamed into place), and the locks that keep
a second fitscope out of a folder being saved or resumed. Torch-free."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from fitscope.core.errors import RunDirError


def kind(path: Path) -> str | None:
    """None for a folder; else what the path is instead, in words (``no such folder``, …)."""
    try:
        st = path.stat()
    except ValueError:
        return "not a usable name (it holds a NUL character)"
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else "no such folder"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return "the name is too long (the system allows 255 characters per name)"
        if exc.errno == errno.ENOTDIR:
            return "under a file, not a folder"
        return f"cannot be read ({exc.strerror or exc})"
    return None if stat.S_ISDIR(st.st_mode) else "not a folder (it is a file)" if stat.S_ISREG(st.st_mode) \
        else "not a folder"


def read_regular(path: Path, limit: int | None = None, follow: bool = True) -> bytes:
    """A file's bytes when it is a regular file (of at most ``limit`` bytes): a FIFO would hang the
    reader, a link to /dev/zero would fill memory. ``follow=False``: a symbolic link is refused, not
    read (a run's own files are never links). FileNotFoundError passes through."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunDirError(f"{path}: a symbolic link (a run's files are never links; not followed)") from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RunDirError(f"{path}: not a regular file")
        if limit is not None and st.st_size > limit:
            raise RunDirError(f"{path}: {st.st_size:,} bytes, more than fitscope reads for {path.name} "
                              f"(at most {limit:,})")
        return f.read() if limit is None else f.read(limit + 1)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """A new file with the user's normal permissions (umask applies), flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """One file replaced whole: a temp file beside it, flushed, renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        write_durable(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent if str(path.parent) else Path("."))


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


CLAIM = ".resuming"


@contextlib.contextmanager
def claimed(folder: Path) -> Iterator[None]:
    """This process alone resumes ``folder`` until the block ends: a second resume of the same run
    is refused at once (two both succeeded, and the last to save won silently). The claim is a lock
    on a small file the block removes; a killed process's lock goes with it."""
    path = folder / CLAIM
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        raise RunDirError(f"{folder}: cannot resume here ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:  # a hard link would have us write into another file
        os.close(fd)
        raise RunDirError(f"{path}: not fitscope's (a link or not a file); remove it to resume this run")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 20, 0).decode(errors="replace").strip()
            raise RunDirError(f"{folder}: another fitscope{f' (pid {other})' if other.isdigit() else ''} is resuming "
                              "this run right now — wait for it to finish, or resume a copy of the folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(fd)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a regular file we can read, in words; None when it is one."""
    try:
        st = Path(path).expanduser().stat()
    except ValueError:
        return "not a usable file name (it holds a NUL character)"
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return "the name is too long (the system allows 255 characters per name)"
        return f"cannot read it ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (a pipe)" if stat.S_ISFIFO(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
    return f"it is {kind}, not a file"
