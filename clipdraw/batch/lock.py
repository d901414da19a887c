"""One batch at a time per output folder: a second run on the same ``--out`` waits its turn.

The lock is an OS file lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a small
file in the folder, so it is released by the kernel when its holder exits, even after
``kill -9``: there is never a stale lock to clean up. The file also names its holder (pid and
host) for the waiting run's message. A run that waits resumes from the manifest when its turn
comes, so it draws only what the first run left undone.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["LOCK_NAME", "FolderBusy", "FolderLock"]

#: The lock file's name inside the output folder.
LOCK_NAME = ".clipdraw-batch.lock"

# The lock covers byte 0 only; the holder's name is written after it, where a waiting process
# can read it (Windows forbids reading locked bytes).
_HOLDER_OFFSET = 1

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class FolderBusy(RuntimeError):
    """Another run holds the folder and the caller chose not to wait (long enough)."""


def _try_lock(handle: int) -> bool:
    """Take the lock without blocking; whether it was taken."""
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return False
        return True
    os.lseek(handle, 0, os.SEEK_SET)  # pragma: no cover - Windows
    try:  # pragma: no cover - Windows
        msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover - Windows
        return False
    return True  # pragma: no cover - Windows


def _unlock(handle: int) -> None:
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        return
    os.lseek(handle, 0, os.SEEK_SET)  # pragma: no cover - Windows
    msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)  # pragma: no cover - Windows


class FolderLock:
    """Exclusive lock on a batch output folder; a context manager.

    Args:
        folder: the output folder (created if missing).
        timeout: seconds to wait for another run to finish; ``None`` waits as long as it
            takes, ``0`` not at all.
        on_wait: called once, with the holder's description (``"pid 123 on host"``), when the
            folder is busy and this run starts waiting.
        poll: seconds between attempts while waiting.

    Raises:
        FolderBusy: on entry, when the folder is still busy after ``timeout`` seconds.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with FolderLock(folder):
        ...     with FolderLock(folder, timeout=0):  # doctest: +ELLIPSIS
        ...         pass
        Traceback (most recent call last):
        ...
        clipdraw.batch.lock.FolderBusy: another clipdraw batch (pid ...) is drawing into ...
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
        poll: float = 0.5,
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.timeout = timeout
        self.on_wait = on_wait
        self.poll = poll
        self._handle: int | None = None

    def holder(self) -> str:
        """Who holds (or last held) the lock, as ``"pid N on HOST"``; ``"unknown"`` if unsaid."""
        try:
            with self.path.open("rb") as file:
                file.seek(_HOLDER_OFFSET)
                text = file.read(200).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        return text or "unknown"

    def acquire(self) -> None:
        """Take the lock, waiting per ``timeout``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        try:
            deadline = None if self.timeout is None else time.monotonic() + self.timeout
            told = False
            while not _try_lock(handle):
                if deadline is not None and time.monotonic() >= deadline:
                    raise FolderBusy(
                        f"another clipdraw batch ({self.holder()}) is drawing into "
                        f"{self.folder}; wait for it or choose another --out"
                    )
                if not told and self.on_wait is not None:
                    self.on_wait(self.holder())
                    told = True
                time.sleep(self.poll)
            self._write_holder(handle)
        except BaseException:
            os.close(handle)
            raise
        self._handle = handle

    @staticmethod
    def _write_holder(handle: int) -> None:
        """Say who holds the lock; best effort (a full disk must not stop the run here)."""
        holder = f"pid {os.getpid()} on {socket.gethostname()}".encode()
        try:
            os.ftruncate(handle, _HOLDER_OFFSET)
            os.lseek(handle, _HOLDER_OFFSET, os.SEEK_SET)
            os.write(handle, holder)
        except OSError:
            pass

    def release(self) -> None:
        """Let the next run in (the file stays: removing it would race with waiters)."""
        if self._handle is None:
            return
        try:
            _unlock(self._handle)
        finally:
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
