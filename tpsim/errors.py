"""User-facing errors.

Every error a user can cause (a bad scenario file, a broken data file) is a :class:`TpsimError`
whose text is one sentence naming where the problem is::

    scenarios/bad.yaml:14: services.falls.efect: unknown key (did you mean 'effect'?)

The command-line layer prints ``str(err)`` and shows a traceback only with ``--debug``.
"""

from __future__ import annotations

import difflib
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TpsimError", "ScenarioError", "DataError", "describe", "suggest"]


class TpsimError(Exception):
    """A user-facing error: one clear sentence naming file, key path and line.

    Parameters
    ----------
    message:
        What is wrong, e.g. ``"must be >= 0 (got -1)"``.
    file:
        The file the problem is in (``str`` or path-like), or None.
    key:
        The dotted key path, e.g. ``"services.falls_prevention.effect"``, or None.
    line:
        The 1-based line number in ``file``, or None.

    ``str(err)`` is ``"file:line: key: message"``, leaving out the parts that are None.
    """

    def __init__(
        self,
        message: str,
        file: str | os.PathLike[str] | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = os.fspath(file) if file is not None else None
        self.key = key
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    def __reduce__(self):
        # Keep the structured fields when errors cross process boundaries (dask, multiprocessing).
        return (type(self), (self.message, self.file, self.key, self.line))


class ScenarioError(TpsimError):
    """A scenario file (or a programmatic scenario or override) is invalid."""


class DataError(TpsimError):
    """A data file (for example local calibration data) is missing, unreadable or malformed."""


def suggest(word: Any, options: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for a near miss, the list of options when short, or ''."""
    options = [str(o) for o in options]
    match = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if match:
        return f" (did you mean '{match[0]}'?)"
    if 0 < len(options) <= 12:
        return f" (expected one of: {', '.join(options)})"
    return ""


def describe(value: Any) -> str:
    """What a YAML or CSV value is, for messages: "the text 'abc'", "a list", ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, numbers.Number):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"
