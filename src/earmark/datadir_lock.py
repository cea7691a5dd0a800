"""One process per data directory: a lock file the kernel releases when its process ends.

Two ``earmark serve`` (or two ``earmark run index``) on one directory would each keep their
own view of the index and of the databases and answer differently. The first takes an
exclusive ``flock`` on ``<dir>/earmark.lock`` and writes its PID in the file; the second
finds the lock taken and names that PID. A process killed with SIGKILL holds nothing: the
kernel drops its locks with its file descriptors, and the next start takes the file over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from earmark.errors import EarmarkError

LOCK_FILE = "earmark.lock"
#: The directory of the in-process index engine under the data directory (``index_url`` empty).
INDEX_DIR = "index"


class DataDirLockError(EarmarkError):
    """The data directory is in use by another process, or cannot be locked."""

    exit_code = 1


class DataDirLock:
    """The lock of one directory, held until :meth:`release` or the end of the process."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd

    @property
    def path(self) -> Path:
        return self.directory / LOCK_FILE

    def release(self) -> None:
        if self._fd is not None:
            # The file stays: removing it would let a third process lock a new file while a
            # second one already waits on the old one.
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def lock_data_dir(directory: Path, *, create: bool = False) -> DataDirLock:
    """Lock ``directory`` for this process (see the module docstring).

    With ``create``, a missing directory is made first (mode 0700: the data directory holds
    keys in clear). Raises :class:`DataDirLockError` naming the holder's PID when it is taken.
    """
    if directory.exists() and not directory.is_dir():
        raise DataDirLockError(f"{directory} exists and is not a directory")
    try:
        if create:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise DataDirLockError(
            f"cannot lock the data directory {directory}: {exc.strerror}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f"process {holder}" if holder else "another process"
        raise DataDirLockError(
            f"the data directory {directory} is in use by {who} "
            f"(lock file {directory / LOCK_FILE}); stop it first or use another directory"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise DataDirLockError(
            f"cannot lock the data directory {directory}: {exc.strerror}"
        ) from None
    # Only the holder writes: the file keeps the PID of the last process that held the lock.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(directory, fd)


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text else None
    return None


def claim_data_dir(directory: Path, check: Callable[[], object]) -> DataDirLock:
    """Lock ``directory`` around ``check`` (the server's port check) in the order that leaves
    nothing behind when either fails: a directory that exists is locked first (a second server
    on it names the first, whatever its port); a missing one is created only once ``check``
    passed, so a port in use creates no data directory."""
    if directory.is_dir():
        lock = lock_data_dir(directory)
        try:
            check()
        except BaseException:
            lock.release()
            raise
        return lock
    check()
    return lock_data_dir(directory, create=True)
