"""Atomic file writes: a temporary file beside the target, renamed onto it."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None, durable: bool = True):
    """Yield a stream to a temporary file in ``path``'s directory; when the
    block ends without an error, rename it onto ``path``, so readers see
    the old file or the new one, never a part. With ``durable``, the data
    reaches the disk (fsync) before the rename.

    A new file gets the permissions of any new file (0o666 less the umask),
    where ``tempfile.mkstemp`` would give 0o600 and leave a saved model
    unreadable to the user's other accounts and services; a replaced file
    keeps its own, and a read-only one is refused (``PermissionError``) as
    an ``open`` would. A symbolic link is written through: its target is
    replaced, the link stays. A stream target (see :func:`is_stream`) is
    written directly, appending, as nothing can replace it. The rename
    needs write permission on the directory. Errors name ``path`` as given.
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a text path; got {path!r}")
    check_target(path)
    if is_stream(path):
        # append: "w" on /dev/stdout redirected to a file would empty it
        with open(path, mode.replace("w", "a"), encoding=encoding) as stream:
            yield stream
        return
    given = path
    if os.path.islink(path):
        path = os.path.realpath(path)
        try:
            check_target(path)
        except OSError as error:
            raise _about(error, given) from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, "Permission denied", given)
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    # a short stem: the full name plus a suffix could pass the name limit
    stem = os.path.basename(path)[:40]
    while True:
        temp = os.path.join(directory, f".{stem}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temp, flags, 0o666)
            break
        except FileExistsError:  # a name already taken: draw another
            continue
        except OSError as error:  # no permission, read-only disk: say so of path
            raise _about(error, given) from None
    try:
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(temp, os.stat(path).st_mode & 0o7777)
            yield stream
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        try:
            os.replace(temp, path)
        except OSError as error:
            raise _about(error, given) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def is_stream(path: str) -> bool:
    """Whether ``path`` is a stream to write into rather than a file to
    replace: an existing target that is not a regular file (a device, a
    FIFO, a terminal), or a link into ``/proc`` such as ``/dev/stdout``,
    which reaches whatever the process's descriptor is, a pipe or a file
    opened for appending."""
    if os.path.islink(path) and os.readlink(path).startswith("/proc/"):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # nothing there yet (or a dangling link): a new file
        return False


def check_target(path: str) -> None:
    """Refuse a path that cannot become a file, naming it: the errors the
    temporary file would meet later name the temporary file instead."""
    if not path:
        raise ValueError("path must not be empty")
    if path.endswith(("/", os.sep)):
        raise IsADirectoryError(errno.EISDIR, "Not a file path", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    # the directory as written, not normalised: "missing/../m.npz" has no
    # directory to open it in, though abspath would make it "./m.npz"
    if not os.path.isdir(os.path.dirname(path) or os.curdir):
        raise FileNotFoundError(errno.ENOENT, "No such directory for the file", path)


def check_writable(path: str) -> None:
    """:func:`check_target`, and for a file (not a stream) write permission
    on its directory, which the rename needs: the checks a command runs on
    an output path before any work."""
    check_target(path)
    directory = os.path.dirname(path) or os.curdir
    if not is_stream(path) and not os.access(directory, os.W_OK):
        raise PermissionError(errno.EACCES, "Cannot write in the file's directory", path)


def _about(error: OSError, path: str) -> OSError:
    """The same kind of error, about ``path`` instead of the temporary file."""
    return type(error)(error.errno, error.strerror, path)
