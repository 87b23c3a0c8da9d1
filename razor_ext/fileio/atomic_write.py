"""Atomic file writes: a reader sees the old file or the new one, never a half-written one."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    The data goes to a temp file in the same folder (same filesystem, so ``os.replace`` is an
    atomic rename), is fsynced, then renamed over ``path``; on any failure the temp file is
    removed and ``path`` is untouched. The text is written as UTF-8; an existing file keeps
    its permission bits.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / 'notes.txt'
        >>> atomic_write_text(p, 'hello\\n')
        >>> p.read_text()
        'hello\\n'
    """
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.{secrets.token_hex(6)}.tmp')
    # os.open with 0o666 applies the umask like a normal open (tempfile would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)  # keep the permissions of the old file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every platform can fsync a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
