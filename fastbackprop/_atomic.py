"""Atomic file writes: a temporary file beside the target, renamed onto it."""

from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None):
    """Yield a stream to a temporary file in ``path``'s directory; when the
    block ends without an error, flush it to disk and rename it onto
    ``path``, so readers see the old file or the new one, never a part.

    The file gets the permissions of any new file (0o666 less the umask),
    where ``tempfile.mkstemp`` would give 0o600 and leave a saved model
    unreadable to the user's other accounts and services.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temp, flags, 0o666)
            break
        except FileExistsError:  # a name already taken: draw another
            continue
    try:
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
