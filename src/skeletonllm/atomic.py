"""Atomic writes: a reader never sees a half-written file or checkpoint directory.

Files are written to a temporary sibling, flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX and Windows). Directories are built in a temporary
sibling and renamed into place; an interrupted write leaves only a ``.tmp-*`` directory
that no loader treats as valid.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

TMP_PREFIX = ".tmp-"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default_mode(directory: bool = False) -> int:
    """The permissions a plain ``open()`` / ``mkdir()`` would give (mkstemp/mkdtemp use 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    ``fsync=False`` skips flushing to disk: still atomic for other processes and after the
    writer is killed, but a power cut may leave an empty or damaged file. Only for files whose
    readers detect damage and recompute them (e.g. per-file results of a resumable run).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        os.fchmod(fd, _default_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8", fsync: bool = True) -> None:
    atomic_write_bytes(path, text.encode(encoding), fsync=fsync)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``path`` in one rename.

    If the block raises, the temporary directory is removed and ``path`` is untouched.
    With ``overwrite`` an existing ``path`` is swapped out (renamed aside, then deleted).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent))
    os.chmod(tmp, _default_mode(directory=True))
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} exists")
            old = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + path.name + ".old.", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
