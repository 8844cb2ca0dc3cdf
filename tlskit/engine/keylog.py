"""The NSS key log file named by ``keylog_file=``: how the engine opens and appends to it.

The file holds traffic secrets (anyone who can read it can decrypt the captured
connections), so a missing file is created with mode 0600, and an existing file keeps
the mode its owner gave it (never widened). ``tlskit.io`` uses the same helpers for
SSLKEYLOGFILE.
"""

from __future__ import annotations

import os
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
#: mode of a key log file the engine creates (before the umask, which can only narrow it)
KEYLOG_FILE_MODE = 0o600


def open_keylog(path: PathLike) -> int:
    """A file descriptor appending to ``path`` (created 0600 if missing). Raises OSError."""
    return os.open(path, _FLAGS, KEYLOG_FILE_MODE)


def check_keylog_file(path: PathLike) -> None:
    """Open ``path`` for appending (creating it 0600) and close it: raises OSError if it cannot be."""
    os.close(open_keylog(path))


def append_keylog(path: PathLike, text: str) -> None:
    """Append ``text`` (whole lines) with one write on an O_APPEND descriptor, so that
    lines logged by concurrent connections never interleave mid-line.

    The file is opened per batch of lines (two batches per handshake), not kept open:
    nothing is left unflushed if the process dies, and a connection holds no descriptor.
    """
    data = text.encode("ascii")
    fd = open_keylog(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
