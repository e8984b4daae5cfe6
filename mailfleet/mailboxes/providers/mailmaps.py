"""Files that Postfix and Dovecot read, rewritten safely while several workers write at once.

- `locked(path)`: an exclusive `flock` on a lock file; every read-modify-write of the mail files
  happens under it, so two workers (threads or processes on this host) never lose each other's
  changes. flock locks belong to an open file, so threads of one process exclude each other too.
- `replace_file(path, text)`: write a temporary file in the same directory, fsync it, rename it
  over the old one, fsync the directory. Readers see the old file or the new one, never half of
  one, and a crash leaves one of them on disk.
- `run_with_tty(args)`: Postfix's commands print fatal errors only to a terminal, so a failed
  `postfix reload` run with plain pipes says nothing; with a pseudo-terminal it says why.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

READ_CHUNK = 4096


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (created if missing) for the block."""
    # Group-writable: workers running as different users of one group can share it.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        # Closing the descriptor releases the lock, also when the block raised.
        os.close(fd)


def read_lines(path: Path) -> list[str]:
    """The file's lines without line ends; a missing file reads as empty."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def replace_file(path: Path, text: str, *, new_mode: int, strictly_newer: bool = False) -> None:
    """Atomically make `text` the content of `path`.

    An existing file's mode and owner carry over to the new one (a passwd-file readable only by
    Dovecot's group stays so); a new file gets `new_mode` and the directory's group.

    `strictly_newer` gives the new file a modification time at least one whole second after the
    old one's. Dovecot re-reads a passwd-file only when its mtime (in whole seconds) or size
    differs from what it read last; two same-sized versions written in one second (a password
    changed to another of the same length) would otherwise look unchanged to it for good.
    """
    directory = path.parent
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if old is not None:
                os.fchmod(handle.fileno(), old.st_mode & 0o7777)
                _chown(handle.fileno(), old.st_uid, old.st_gid)
            else:
                os.fchmod(handle.fileno(), new_mode)
                _chown(handle.fileno(), -1, os.stat(directory).st_gid)
            os.fsync(handle.fileno())
        if strictly_newer and old is not None:
            # Runs ahead of the clock only while writes come faster than one a second.
            now = time.time()
            os.utime(temporary, (now, max(now, int(old.st_mtime) + 1)))
        os.replace(temporary, path)
    except BaseException:
        # The temporary file is ours alone; a failure must not leave it next to the real one.
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _chown(fd: int, uid: int, gid: int) -> None:
    """Give the file this owner and group, or as much of it as this process may.

    A worker that is not root can still keep the group (the one Dovecot reads the file as) when
    it belongs to it; failing that the file stays its own, which beats failing the write.
    """
    with suppress(PermissionError):
        os.fchown(fd, uid, gid)
        return
    with suppress(PermissionError):
        os.fchown(fd, -1, gid)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_with_tty(args: Sequence[str], timeout: float) -> tuple[int, str]:
    """Run `args` with stdout and stderr on a pseudo-terminal; return exit code and output.

    Raises subprocess.TimeoutExpired (after killing it) when it runs longer than `timeout`.
    """
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary
        )
    except BaseException:
        os.close(primary)
        raise
    finally:
        os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        # Read while it runs (a full terminal buffer would block it); daemons it starts may keep
        # the terminal open after it exits, so its exit, not end of file, ends the loop.
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise subprocess.TimeoutExpired(list(args), timeout)
            _read_available(primary, chunks, wait=0.05)
        _read_available(primary, chunks, wait=0.0)
    finally:
        os.close(primary)
    output = b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
    return process.returncode, output.strip()


def _read_available(fd: int, chunks: list[bytes], *, wait: float) -> None:
    while select.select([fd], [], [], wait)[0]:
        try:
            data = os.read(fd, READ_CHUNK)
        except OSError:
            # EIO: nobody holds the terminal's other end any more.
            return
        if not data:
            return
        chunks.append(data)
        wait = 0.0
