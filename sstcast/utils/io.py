"""File helpers used by every stage: atomic writes, SHA-256, JSON, "is this a URL".

Every output sstcast writes goes through :func:`atomic_path` (write to a hidden temporary
beside the target, then rename), so a killed process never leaves a half-written file at the
name a user or a later stage reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sstcast.errors import SstcastError

HASH_BLOCK = 4 * 2**20


def is_url(path: str | os.PathLike[str]) -> bool:
    """True for fsspec URLs such as ``s3://bucket/x.zarr`` or ``file:///tmp/x``."""
    return "://" in str(path)


def sha256_file(path: str | os.PathLike[str], block_size: int = HASH_BLOCK) -> str:
    """Hex SHA-256 of a local file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A hidden temporary name beside ``path`` for this process: ``.<name>.tmp-<pid>``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to ``path``, on error removed.

    Works for files and folders (the temporary is whatever the caller makes at it)::

        with atomic_path("out.nc") as tmp:
            ds.to_netcdf(tmp)
    """
    path = Path(path)
    tmp = temp_path(path)
    _remove(tmp)
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink() and tmp.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (values JSON lacks become strings)."""
    return write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: str | os.PathLike[str], what: str = "file") -> Any:
    """Read a JSON file; a one-line :class:`SstcastError` when missing or broken."""
    path = Path(path)
    if not path.exists():
        raise SstcastError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SstcastError(f"{path}: not valid JSON ({getattr(err, 'msg', err)})") from None


@contextlib.contextmanager
def exclusive_lock(lock_file: str | os.PathLike[str], busy: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (the OS drops it if the process dies); when
    another process holds it, raise :class:`SstcastError` with the message ``busy`` at once."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SstcastError(busy) from None
    try:
        yield
    finally:
        lock.release()
