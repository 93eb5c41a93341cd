"""A store-wide file lock that names its holder.

The lock is an ``fcntl.flock`` on a file that is never deleted: unlinking a lock
file while another process waits on it lets two processes each hold a "lock" on
a different inode. The holder writes who it is (pid, host, start time) into the
file, so a run that cannot get the lock can say who has it.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import socket
import time
from types import TracebackType

from certctl.clock import Clock, SystemClock
from certctl.errors import LockHeldError, StoreError

#: How often a waiting run retries the lock.
POLL_INTERVAL = 0.05


class FileLock:
    """An exclusive, non-reentrant lock held for one run, used as a context manager.

    Args:
        path: the lock file; created 0600 when missing, never deleted.
        description: the store, for messages (``dir:/etc/tls``).
        timeout: how long to wait for another holder; zero tries once.
        clock: where the start time written for other runs comes from.
    """

    def __init__(
        self,
        path: str,
        description: str,
        timeout: dt.timedelta,
        clock: Clock | None = None,
    ) -> None:
        self.path = path
        self.description = description
        self.timeout = timeout
        self._clock = clock or SystemClock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, waiting up to the timeout.

        Raises:
            LockHeldError: another run held it for the whole timeout.
            StoreError: the lock file could not be opened.
        """
        if self._fd is not None:
            raise RuntimeError(f"the lock on {self.description} is already held by this object")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(
                f"Could not open the lock file {self.path} of {self.description}: "
                f"{exc.strerror or exc}",
                hint="Check that the folder exists and that certctl's user can write to it",
            ) from exc
        deadline = time.monotonic() + max(self.timeout.total_seconds(), 0.0)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                        raise StoreError(
                            f"Could not lock {self.path} of {self.description}: "
                            f"{exc.strerror or exc}",
                            hint="Check that the filesystem supports file locks (flock)",
                        ) from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._held_error(fd)
                time.sleep(min(POLL_INTERVAL, remaining))
            self._write_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Let the lock go; harmless when not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Clear the holder first so a stale name is never shown for a free lock.
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _write_holder(self, fd: int) -> None:
        holder = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "since": self._clock.now().isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        except OSError:
            pass  # the holder note is a courtesy; the flock is what matters

    def _held_error(self, fd: int) -> LockHeldError:
        waited = self.timeout.total_seconds()
        hint = (
            "Wait for that run to finish, or raise --lock-timeout to wait for it"
            if waited <= 0
            else "Wait for that run to finish, or raise --lock-timeout to wait longer"
        )
        who = describe_holder(read_holder(fd))
        after = f" after waiting {_format_seconds(waited)}" if waited > 0 else ""
        return LockHeldError(
            f"Another certctl run{who} holds the lock on {self.description}{after}",
            hint=hint,
        )


def read_holder(fd: int) -> dict[str, object]:
    """Return the holder note from an open lock file, or an empty dict."""
    try:
        raw = os.pread(fd, 4096, 0)
        value = json.loads(raw.decode()) if raw else {}
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def describe_holder(holder: dict[str, object]) -> str:
    """Render a holder note as `` (pid 1234 on host, since …)``, or ``""`` if unknown."""
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return ""
    text = f"pid {pid}"
    hostname = holder.get("hostname")
    if isinstance(hostname, str) and hostname:
        text += f" on {hostname}"
    since = holder.get("since")
    if isinstance(since, str) and since:
        text += f", since {since}"
    return f" ({text})"


def _format_seconds(seconds: float) -> str:
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.1f}s"
