"""The journal's files: where it really is, who holds it, and modes that stay owner-only.

Nothing here follows a symbolic link the user did not point at, truncates a file it did not
make, or locks by a name another path could get around: the lock belongs to the journal's real
path, and a journal reached by several hard links is refused, so that whatever path or link
leads to a journal, one run at a time holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from bulkpatch.errors import JournalBusy, JournalError

_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
SQLITE_HEADER = b"SQLite format 3\x00"


def utcnow() -> str:
    """Now, as the journal writes moments: ISO 8601 UTC to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolve(path: Path, *, explicit: bool) -> Path:
    """The journal's real path. A default path that is a symbolic link is refused.

    A link the user named with --journal is theirs to follow; one found where bulkpatch put
    its default journal was made by someone else.
    """
    if path.is_symlink() and not explicit:
        raise JournalError(
            f"the journal path {path} is a symbolic link, which bulkpatch does not follow on "
            "its own; pass it as --journal to use it, or remove the link"
        )
    real = Path(os.path.realpath(path))
    if not real.parent.is_dir():
        raise JournalError(
            f"cannot create the journal {path}: the folder {real.parent} does not exist"
        )
    return real


def open_owner_only(path: Path) -> int:
    """Open (or create, 0600 from the first byte) a regular file with one link; its descriptor."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS, 0o600)
    except OSError as exc:
        raise JournalError(_refusal(path, exc)) from None
    info = os.fstat(descriptor)
    problem = _not_ours(info)
    if problem:
        os.close(descriptor)
        raise JournalError(f"{path} {problem}; bulkpatch will not use it as a journal file")
    if stat.S_IMODE(info.st_mode) != 0o600:
        os.fchmod(descriptor, 0o600)  # an existing file is made owner-only, as a new one is
    return descriptor


def make_owner_only(path: Path) -> None:
    """chmod 600 SQLite's -wal and -shm files, when they exist and are not links.

    By path, never by opening them: closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's own among them, and another process would then take the
    journal's shared memory for its own. (SQLite makes them with the journal's own mode, so
    this only matters for files an older run left.)
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) != 0o600:
        path.chmod(0o600)


def wal_holds_data(journal: Path) -> bool:
    """Whether the journal's write-ahead log holds pages not yet in the main file."""
    try:
        return Path(f"{journal}-wal").stat().st_size > 0
    except OSError:
        return False


def looks_like_sqlite(path: Path) -> bool:
    """Whether the file starts as every SQLite database does (read without changing anything).

    Opened without blocking, and only a regular file is read: a named pipe put in its place
    is no database, and must not hang the command waiting for a writer.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        return os.pread(descriptor, len(SQLITE_HEADER), 0) == SQLITE_HEADER
    finally:
        os.close(descriptor)


def not_a_file(path: Path) -> str | None:
    """What stands at ``path`` when no regular file does (through links), in words; else None.

    ``stat`` alone, nothing is opened: a named pipe is described, never read. A symbolic link
    is named with what it leads to (``a symbolic link to d, which is a folder``).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"a symbolic link to {path.readlink()}, which does not exist"
        return "nothing"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"a path that cannot be read ({exc.strerror})"
    what = file_kind(mode)
    if what is None:
        return None
    if path.is_symlink():
        return f"a symbolic link to {path.readlink()}, which is {what}"
    return what


def file_kind(mode: int) -> str | None:
    """A file's type in words (from its ``stat`` mode), None for a regular file."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    for test, words in kinds:
        if test(mode):
            return words
    return None if stat.S_ISREG(mode) else "not a regular file"


def cut_short(path: Path) -> str:
    """Why a database file is shorter than its own header says, or an empty string.

    SQLite reads a page cut off at the end of the file as zeros, and its quick check does not
    look at sizes: a journal that lost its last bytes would be read, wrongly, without this.
    With pages still in the write-ahead log the main file may be short on purpose (a checkpoint
    that a full disk cut): SQLite's own check then decides.
    """
    if wal_holds_data(path):
        return ""
    with path.open("rb") as handle:
        header = handle.read(100)
        size = os.fstat(handle.fileno()).st_size
    if len(header) < 100:
        return f"the file has {size} bytes, less than a database header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_is_current = header[24:28] == header[92:96]
    if page_size < 512 or size % page_size:
        return f"its size ({size} bytes) is not a whole number of {page_size}-byte pages"
    if header_is_current and size < pages * page_size:
        return f"it has {size // page_size} pages where its header counts {pages}"
    return ""


class JournalLock:
    """An exclusive ``flock`` on ``<real journal path>.lock``, with a note naming the holder.

    The kernel releases a flock when its process dies, even by SIGKILL, so a dead holder never
    blocks the next run; the note it leaves tells that run it did not end cleanly.
    """

    __slots__ = ("_descriptor", "path", "stale_holder")

    def __init__(self, descriptor: int, path: Path, stale_holder: str | None) -> None:
        self._descriptor: int | None = descriptor
        self.path = path
        #: Who held the lock last without releasing it (a run that was killed), if anyone.
        self.stale_holder = stale_holder

    def __repr__(self) -> str:
        return f"<JournalLock {self.path} held={self._descriptor is not None}>"

    @classmethod
    def take(cls, journal: Path) -> JournalLock:
        """Lock the journal at its real path ``journal``, or raise JournalBusy naming the holder."""
        path = Path(f"{journal}.lock")
        descriptor = open_owner_only(path)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _busy_with(descriptor)
            os.close(descriptor)
            raise JournalBusy(
                f"the journal {journal} is in use by {holder}; wait for it to end or stop "
                "it, then run the same command again"
            ) from None
        stale = _read_note(descriptor)
        os.ftruncate(descriptor, 0)
        note = f"pid {os.getpid()} on {socket.gethostname()} since {utcnow()}"
        os.pwrite(descriptor, note.encode(), 0)
        return cls(descriptor, path, stale)

    def release(self) -> None:
        """Clear the note and let go (the file stays: removing a flocked file races)."""
        if self._descriptor is None:
            return
        # A full or read-only disk must not keep the lock held: closing releases it anyway.
        with contextlib.suppress(OSError):
            os.ftruncate(self._descriptor, 0)
        os.close(self._descriptor)
        self._descriptor = None


def _busy_with(descriptor: int) -> str:
    """Who holds a lock this process could not take: a run (its note), or readers sharing it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_note(descriptor) or "another process"
    # Shared, so no run holds it: a note left there is a killed run's, not the holder's.
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    return "another process reading it (an undo, or status for a moment)"


@contextlib.contextmanager
def held_shared(journal: Path, busy: Callable[[str], str]) -> Iterator[None]:
    """Keep runs off the journal at its real path ``journal`` while the block reads it.

    A shared ``flock`` on the run's lock file: a run takes it exclusively and without waiting,
    so one starting meanwhile is refused (:class:`JournalBusy`, exit 3), and a run holding it
    now refuses this block (``JournalBusy(busy(holder))``). Readers share it with one another.
    Where no lock file is and none can be made (read-only media), no run can hold the journal
    either, and the block goes on without one.
    """
    descriptor = _open_to_share(Path(f"{journal}.lock"))
    if descriptor is None:
        yield
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalBusy(busy(_read_note(descriptor) or "another process")) from None
        yield
    finally:
        os.close(descriptor)  # releases the shared lock


def _open_to_share(path: Path) -> int | None:
    """The lock file to share: opened read-only, or made (0600, as a run makes it) if missing."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        try:
            descriptor = os.open(path, _OPEN_FLAGS, 0o600)
        except FileNotFoundError:
            return None  # the journal's folder went away: no run can lock it there either
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return None
            raise JournalError(_refusal(path, exc)) from None
    except OSError as exc:
        raise JournalError(_refusal(path, exc)) from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise JournalError(
            f"{path} is not a regular file; bulkpatch will not use it as a lock file"
        )
    return descriptor


def holder(journal: Path) -> str | None:
    """Who holds the journal right now, if a run does (read-only: takes no lock, makes no file)."""
    path = Path(f"{journal}.lock")
    try:  # O_NONBLOCK: a named pipe in the lock file's place must not hang status
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None  # no run locks anything but a regular file
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_note(descriptor) or "another process"
        except OSError:
            return None
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _read_note(descriptor: int) -> str | None:
    return os.pread(descriptor, 4096, 0).decode("utf-8", "replace").strip() or None


def _not_ours(info: os.stat_result) -> str:
    """Why a file is not one bulkpatch may write to and truncate, or an empty string."""
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_nlink > 1:
        return (
            f"has {info.st_nlink} hard links (another name leads to the same file, and a lock "
            "by name could be got around); use a single path"
        )
    if info.st_uid != os.geteuid():
        return "belongs to another user"
    return ""


def _refusal(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return (
            f"{path} is a symbolic link, which bulkpatch does not follow for its own files; "
            "remove it"
        )
    return f"cannot open {path}: {exc.strerror}"
