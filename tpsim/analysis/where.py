"""The ``--where`` condition of scenario discovery: a tiny grammar, parsed without ``eval``.

    condition := clause ("or" clause)*
    clause    := comparison ("and" comparison)*
    comparison:= NAME OP NUMBER        OP: > >= < <= == !=

``and`` binds tighter than ``or``; there are no parentheses, calls, attributes or any other
Python. NAME is an outcome column of the per-run table (``npv``, ``payback``, ...), NUMBER a
finite decimal (``1e6``, ``-2.5``; a ``_`` thousands separator is not accepted). Anything else
raises :class:`tpsim.errors.TpsimError` with ``key="where"``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tpsim.errors import TpsimError

__all__ = ["Comparison", "Where", "parse_where", "MAX_LENGTH"]

#: Longest condition accepted (characters).
MAX_LENGTH = 500

_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
        "==": np.equal, "!=": np.not_equal}
_TOKEN = re.compile(r"\s*(?:(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                    r"|(?P<op>>=|<=|==|!=|>|<)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*))")


@dataclass(frozen=True)
class Comparison:
    """``name op value``."""

    name: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Where:
    """A disjunction of conjunctions of :class:`Comparison`; ``text`` as the user wrote it."""

    text: str
    clauses: tuple[tuple[Comparison, ...], ...]

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(c.name for clause in self.clauses for c in clause))

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean per run; a NaN value (undefined, e.g. a BCR without costs) fails every
        comparison but ``!=``."""
        out = None
        for clause in self.clauses:
            part = None
            for c in clause:
                x = np.asarray(columns[c.name], dtype=float)
                with np.errstate(invalid="ignore"):
                    hit = _OPS[c.op](x, c.value)
                part = hit if part is None else part & hit
            out = part if out is None else out | part
        return np.asarray(out, dtype=bool)


def _fail(text: str, why: str) -> TpsimError:
    return TpsimError(f"cannot read the condition {text!r}: {why}; write e.g. "
                      f"\"npv > 0 and payback <= 60\"", key="where")


def parse_where(text: str, names: Sequence[str]) -> Where:
    """Parse ``text`` against the known column ``names``; never evaluates Python."""
    if not isinstance(text, str) or not text.strip():
        raise _fail(str(text), "it is empty")
    if len(text) > MAX_LENGTH:
        raise _fail(text[:40] + "...", f"it is longer than {MAX_LENGTH} characters")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            raise _fail(text, f"{bad!r} is not allowed (only names, numbers, comparisons, "
                              f"and, or)")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    known = list(names)
    clauses: list[tuple[Comparison, ...]] = []
    current: list[Comparison] = []
    i = 0
    while True:
        if i + 3 > len(tokens):
            raise _fail(text, "a comparison must be NAME OP NUMBER")
        (k1, name), (k2, op), (k3, number) = tokens[i:i + 3]
        if k1 != "name" or name in ("and", "or"):
            raise _fail(text, f"expected an outcome name, found {name!r}")
        if name not in known:
            raise _fail(text, f"unknown outcome {name!r} (known: {', '.join(known)})")
        if k2 != "op":
            raise _fail(text, f"expected one of {' '.join(_OPS)} after {name}, found {op!r}")
        if k3 != "number":
            raise _fail(text, f"expected a number after {name} {op}, found {number!r}")
        value = float(number)
        if not math.isfinite(value):
            raise _fail(text, f"{number} is not a finite number")
        current.append(Comparison(name, op, value))
        i += 3
        if i == len(tokens):
            clauses.append(tuple(current))
            break
        kind, word = tokens[i]
        if kind != "name" or word not in ("and", "or"):
            raise _fail(text, f"expected and/or after {current[-1]}, found {word!r}")
        if word == "or":
            clauses.append(tuple(current))
            current = []
        i += 1
    return Where(text.strip(), tuple(clauses))
