"""Error types users can catch.

Every loader raises :class:`SkeletonFormatError` for a bad file: it names the file, the
line or record where the problem was found, and what was expected, so a user with ten
thousand files can find and fix the one that is broken.
"""
from __future__ import annotations

import os


class SkeletonLLMError(Exception):
    """Base class of the errors skeletonllm raises on purpose."""


class SkeletonFormatError(SkeletonLLMError, ValueError):
    """A skeleton file (or in-memory array) is malformed.

    Attributes:
        path: the file that was being read (or a description such as ``"<array>"``).
        location: where in it, e.g. ``"line 12"``, ``"record 3"``, ``"frame 40, body 1"``;
            ``None`` when the problem concerns the whole file.
        problem: what was found and what was expected.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str, location: str | None = None):
        self.path = str(path) if path is not None else "<memory>"
        self.location = location
        self.problem = problem
        where = f"{self.path}, {location}" if location else self.path
        super().__init__(f"{where}: {problem}")


class ConfigError(SkeletonLLMError, ValueError):
    """A configuration file or option is invalid; the message names the key."""

    def __init__(self, source: str | os.PathLike | None, key: str, problem: str):
        self.source = str(source) if source is not None else "<config>"
        self.key = key
        self.problem = problem
        super().__init__(f"{self.source}: key '{key}': {problem}")
