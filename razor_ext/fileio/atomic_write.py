"""Atomic file writes: a reader sees the old file or the new one, never a half-written one."""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``path``; when the block ends without error, rename it over ``path``.

    For writers that want a file name (``torch.save``, ``torch.onnx.export``, ``np.save``): readers
    see the old file or the new one, never half of one. On an error the temp file is removed and
    ``path`` is untouched. An existing file keeps its permission bits.

    Example:
        >>> import pathlib, tempfile, torch
        >>> p = pathlib.Path(tempfile.mkdtemp()) / 'weights.pt'
        >>> with atomic_path(p) as tmp:
        ...     torch.save({'w': torch.ones(2)}, tmp)
        >>> torch.load(p)['w'].tolist()
        [1.0, 1.0]
    """
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.{secrets.token_hex(6)}.tmp')
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f'atomic_path: nothing was written to the temp file for {path}')
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`).

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / 'blob.bin'
        >>> atomic_write_bytes(p, b'abc')
        >>> p.read_bytes()
        b'abc'
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable; not every platform can fsync a directory."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


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
    _fsync_dir(path.parent)
