"""Crash-safe file writes for the CA directory and issued files.

Every file is written to a hidden temporary in the destination directory, flushed
to disk, then renamed into place, so a reader (or a process killed half way) sees
either the old file, the whole new one, or nothing. Files holding private keys are
created with mode 0600 from the first byte: a key never exists on disk with looser
permissions, even for an instant.
"""

from __future__ import annotations

import errno
import os
import pathlib
import secrets
import stat
import warnings

from cryptography import x509

from tlskit.ca.errors import CAError, CAWarning

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
TEMP_SUFFIX = ".tmp"
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}


def temp_path_for(path: pathlib.Path) -> pathlib.Path:
    """A unique hidden sibling of ``path`` (same directory, so rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def fsync_directory(directory: pathlib.Path) -> None:
    # The rename itself lives in the directory entry; without this a power loss can
    # forget it even though the file data was synced.
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temp(path: pathlib.Path, data: bytes, *, mode: int) -> pathlib.Path:
    """Write ``data`` to a fresh temporary next to ``path`` and fsync it; return its path."""
    tmp = temp_path_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except OSError as exc:
        raise CAError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        # A full disk (ENOSPC), a quota (EDQUOT) or an I/O error: one line, nothing left behind.
        _unlink_quietly(tmp)
        raise CAError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def publish(tmp: pathlib.Path, path: pathlib.Path, *, overwrite: bool) -> None:
    """Move a written temporary into place; without ``overwrite`` an existing file wins."""
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the name exists, so two writers can never clobber each other.
            _link_or_replace(tmp, path)
            _unlink_quietly(tmp)
    except FileExistsError:
        _unlink_quietly(tmp)
        raise CAError(f"{path} already exists (use --force to replace it)") from None
    except OSError as exc:
        _unlink_quietly(tmp)
        raise CAError(f"cannot write {path}: {exc.strerror or exc}") from None
    fsync_directory(path.parent)


def _link_or_replace(tmp: pathlib.Path, path: pathlib.Path) -> None:
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # A filesystem without hard links (some FUSE, vfat, SMB mounts): check then
        # rename; only the race with a concurrent writer of the same name is lost.
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.replace(tmp, path)


def atomic_write(path: pathlib.Path, data: bytes, *, private: bool = False, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``private`` files are 0600 from creation."""
    path = pathlib.Path(path)
    tmp = write_temp(path, data, mode=PRIVATE_MODE if private else PUBLIC_MODE)
    publish(tmp, path, overwrite=overwrite)


def _unlink_quietly(path: pathlib.Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_file(path: pathlib.Path, what: str) -> bytes:
    """Read a file, turning every OS error into a one-line :class:`CAError`."""
    try:
        return pathlib.Path(path).read_bytes()
    except FileNotFoundError:
        raise CAError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise CAError(f"{what} is a directory, not a file: {path}") from None
    except OSError as exc:
        raise CAError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def loose_permissions(path: pathlib.Path) -> bool:
    """True when a key file is readable or writable by group or others."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(stat.S_IMODE(mode) & 0o077)


def warn_if_loose(path: pathlib.Path) -> None:
    if loose_permissions(path):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        warnings.warn(
            f"private key {path} has loose permissions {mode:04o}; run: chmod 600 {path}",
            CAWarning,
            stacklevel=3,
        )


def load_certificate_file(path: pathlib.Path, what: str) -> x509.Certificate:
    data = read_file(path, what)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CAError(f"{what} {path} is not a PEM certificate (run: tlskit ca check)") from None


def refuse_unless_crl(path: pathlib.Path) -> None:
    """An existing ``path`` may be replaced only if it holds CRLs (older ones of ours)."""
    if not os.path.lexists(path):
        return
    if path.is_dir():
        raise CAError(f"{path} is a directory")
    if not path.is_symlink():
        try:
            x509.load_pem_x509_crl(read_file(path, "CRL"))
            return
        except ValueError:
            pass
    raise CAError(f"{path} already exists and is not a CRL (use --force to replace it)")
