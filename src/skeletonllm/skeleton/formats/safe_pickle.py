"""Reading pickles (and pickled ``.npy`` files) without running code from the file.

A pickle can name any importable callable and call it (``os.system`` is the classic
example), so ``pickle.load`` and ``np.load(..., allow_pickle=True)`` on a downloaded
file run whatever its author chose. Skeleton data only ever needs containers, numbers,
strings and numpy arrays, so :class:`SafeUnpickler` resolves exactly those globals and
refuses everything else *before* anything is called.
"""
from __future__ import annotations

import builtins
import codecs
import collections
import io
import pickle
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError

try:  # numpy >= 2 moved the internals to numpy._core; pickles name either path.
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

_NUMPY_GLOBALS = {
    "_reconstruct": _multiarray._reconstruct,  # ndarray.__reduce__
    "scalar": _multiarray.scalar,  # numpy scalar.__reduce__
    "_frombuffer": _numeric._frombuffer,  # protocol-5 arrays
}
_BUILTINS = {name: getattr(builtins, name)
             for name in ("dict", "list", "tuple", "set", "frozenset", "bytearray", "complex", "slice")}


def _allowed(module: str, name: str):
    if module in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric"):
        return _NUMPY_GLOBALS.get(name)
    if module == "numpy":
        return {"ndarray": np.ndarray, "dtype": np.dtype}.get(name)
    if module in ("builtins", "__builtin__"):
        return _BUILTINS.get(name)
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "_codecs" and name == "encode":  # bytes in protocol <= 2 pickles
        return codecs.encode
    return None


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that only reconstructs numpy arrays/scalars and builtin containers."""

    def __init__(self, file, path: str = "<pickle>"):
        # latin1 lets Python 2 pickles of numpy arrays load (numpy's own advice).
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str):
        obj = _allowed(module, name)
        if obj is None:
            raise SkeletonFormatError(
                self._path, f"refusing to unpickle '{module}.{name}': only numpy arrays, numbers, strings and "
                "containers are allowed in skeleton files (the pickle would run code)")
        return obj


def load_pickle_bytes(data: bytes, path: str | Path = "<pickle>"):
    """Unpickle ``data`` safely; every failure becomes a :class:`SkeletonFormatError`."""
    try:
        return SafeUnpickler(io.BytesIO(data), str(path)).load()
    except SkeletonFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, UnicodeDecodeError) as exc:
        kind = "truncated" if isinstance(exc, EOFError) or "truncated" in str(exc) else "corrupt"
        raise SkeletonFormatError(path, f"{kind} pickle data ({type(exc).__name__}: {exc})") from None


def load_npy(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` file; object arrays (pickled payloads) go through :class:`SafeUnpickler`."""
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        except (ValueError, OSError, SyntaxError) as exc:
            raise SkeletonFormatError(path, f"not a valid .npy file ({exc})") from None
        if dtype.hasobject:
            obj = load_pickle_bytes(fh.read(), path)
            return obj if isinstance(obj, np.ndarray) else np.asarray(obj, dtype=object)
        count = int(np.prod(shape)) if shape else 1
        raw = fh.read()
    need = count * dtype.itemsize
    if len(raw) < need:
        raise SkeletonFormatError(path, f"truncated .npy: header says {shape} {dtype} ({need} bytes), "
                                  f"file has {len(raw)} data bytes")
    arr = np.frombuffer(raw, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def npy_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """``(shape, dtype)`` of a ``.npy`` file from its header only, or None if it is not one."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = reader(fh)
            return tuple(shape), dtype
    except (ValueError, OSError, SyntaxError):
        return None
