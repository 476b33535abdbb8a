"""The one YAML reader of tpsim, the one key-location helper and the one number check.

Every YAML file tpsim reads (scenario files with their ``uncertainty`` sections, calibration
configs) goes through :func:`read_yaml` / :func:`parse_yaml`:

* safe: PyYAML's safe constructor only (libyaml's ``CSafeLoader`` where PyYAML was built with
  it, ~10x faster to parse, else the pure-Python ``SafeLoader``); no Python objects;
* numbers as YAML 1.2 reads them: PyYAML follows YAML 1.1, where an exponent needs a decimal
  point and a signed exponent (``9.0e+6``), so ``1e6``, ``1.0e6`` and ``4e3`` would be text;
  an implicit resolver makes every ``[-+]digits[.digits]e[-+]digits`` a float;
* line tracking: each dotted key path (``services.falls.effect``, list items by index,
  ``changes.0.month``) maps to the 1-based line of its key (of the item, for list items);
* a key given twice in one mapping is an error naming both lines;
* merge keys (``<<: *base``) work as in PyYAML: a key written in the mapping overrides the
  merged one;
* alias expansion is bounded: a document whose aliases would expand to more than
  :data:`MAX_NODES` nodes (a "billion laughs" alias bomb) is refused with one sentence, before
  anything is constructed.

:func:`locate` finds the line of a key path (or its nearest recorded ancestor) and
:func:`check_number` turns a YAML value into a finite float within a range, or raises the
caller's one-sentence error naming file, line and key path.
"""
from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tpsim.errors import TpsimError
from tpsim.errors import describe as _describe

__all__ = ["Location", "YamlDocument", "MAX_NODES", "MAX_MAGNITUDE", "Bound", "read_yaml", "parse_yaml",
           "file_problem", "locate", "check_number", "number_hint", "join"]

#: A key's location: (file as shown to the user, 1-based line).
Location = tuple[str, int]

#: Most nodes a document may expand to, counting every alias expansion. The shipped scenarios
#: have a few hundred; an alias bomb of 9 levels x 9 aliases has 9^9.
MAX_NODES = 200_000

#: Largest magnitude of a number in a scenario or its uncertainty section (money, people,
#: rates, times): a thousand times the largest public budget in £ a month, and small enough
#: that products of a few such numbers over 1,200 months stay far from the float range
#: (1.8e308), so no output overflows.
MAX_MAGNITUDE = 1e12

#: Builds the caller's error: ``error(key path, message)``.
ErrorFactory = Callable[[str, str], TpsimError]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader plus YAML 1.2 floats (``1e6``, ``1.0e6``, ``-1.5E+3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+"
               r"|[-+]?\.[0-9][0-9_]*[eE][-+]?[0-9]+)$"),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data (None for an empty file) and each key path's location."""

    file: str
    data: Any
    locations: dict[str, Location] = field(default_factory=dict)


def read_yaml(path: str | os.PathLike[str], display: str | None = None,
              error: type[TpsimError] = TpsimError) -> YamlDocument:
    """Read and parse the YAML file at ``path``; problems raise ``error`` naming ``display``
    (default: the path as given) and, for a syntax error, the line."""
    path = Path(path)
    display = os.fspath(path) if display is None else display
    problem = file_problem(path)
    if problem:
        raise error(problem, file=display)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error("cannot read the file: it is not UTF-8 text", file=display) from None
    except OSError as exc:
        raise error(f"cannot read the file ({exc.strerror})", file=display) from None
    return parse_yaml(text, display, error)


def file_problem(path: str | os.PathLike[str], what: str = "file") -> str | None:
    """Why ``path`` cannot be read as a ``what`` (missing, a folder, a device or pipe), or None.

    Checked with ``stat`` before opening, so a FIFO is refused instead of blocking the read.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{what} not found"
    except OSError as exc:
        return f"cannot read the {what} ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return f"is a folder, not a {what}"
    if not stat.S_ISREG(mode):
        return f"is not a regular file (a device, pipe or socket), so it cannot be a {what}"
    return None


def parse_yaml(text: str, display: str, error: type[TpsimError] = TpsimError) -> YamlDocument:
    """Parse YAML text (see the module docstring); ``display`` names it in errors."""
    try:
        loader = _Loader(text)  # parsed once: the nodes give lines, then the data
        try:
            root = loader.get_single_node()
            locations: dict[str, Location] = {}
            if root is not None:
                # lines first: constructing the data flattens merge keys (<<) in place
                _Recorder(display, locations, error).walk(root, "")
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"invalid YAML: {problem}", file=display,
                    line=mark.line + 1 if mark is not None else None) from None
    return YamlDocument(display, data, locations)


class _Recorder:
    """Walks a composed node tree recording key path -> location, rejecting duplicate keys and
    counting nodes (an alias counts as a full copy of what it names)."""

    def __init__(self, file: str, out: dict[str, Location], error: type[TpsimError]) -> None:
        self.file, self.out, self.error = file, out, error
        self.count = 0
        self.active: set[int] = set()

    def bump(self, node: yaml.Node) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.error(f"refused: its aliases expand to more than {MAX_NODES:,} nodes "
                             f"(an alias bomb?)", file=self.file)

    def tally(self, node: yaml.Node) -> None:
        """Count the nodes under ``node`` without recording locations."""
        self.bump(node)
        if id(node) in self.active:
            return
        self.active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                self.tally(key_node)
                self.tally(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self.tally(item)
        self.active.discard(id(node))

    def walk(self, node: yaml.Node, path: str) -> None:
        self.bump(node)
        if id(node) in self.active:  # a recursive alias
            return
        self.active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                        key_node, yaml.ScalarNode):
                    self.tally(value_node)  # counted, not located: the merged keys are not here
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                child = join(path, key)
                if key in seen:
                    raise self.error(f"duplicate key (first set on line {seen[key]})",
                                     file=self.file, key=child, line=line)
                seen[key] = line
                self.out[child] = (self.file, line)
                self.walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = join(path, str(index))
                self.out[child] = (self.file, item.start_mark.line + 1)
                self.walk(item, child)
        self.active.discard(id(node))


def locate(locations: Mapping[str, Location], path: str) -> Location | None:
    """The location of key ``path`` or of its nearest recorded ancestor, else None."""
    probe = path
    while probe:
        if probe in locations:
            return locations[probe]
        probe = probe.rpartition(".")[0]
    return None


@dataclass(frozen=True)
class Bound:
    """An interval of allowed values; None for an open end."""

    low: float | None = None
    low_closed: bool = True
    high: float | None = None
    high_closed: bool = True

    def __contains__(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (x == self.low and not self.low_closed)):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not self.high_closed)):
            return False
        return True

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "[" if self.low_closed else "(", "]" if self.high_closed else ")"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>=' if self.low_closed else '>'} {self.low:g}"
        if self.high is not None:
            return f"{'<=' if self.high_closed else '<'} {self.high:g}"
        return "a finite number"


def check_number(value: Any, path: str, error: ErrorFactory, bound: Bound | None = None,
                 whole: bool = False, magnitude: float | None = None) -> float:
    """``value`` as a finite float (within ``bound``; a whole number if ``whole``; at most
    ``magnitude`` in absolute value when given).

    Booleans, text (even text that looks like a number, with a hint to drop the quotes) and
    null are refused; the error is ``error(path, message)``, one sentence.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(path, f"expected a number, got {_describe(value)}{number_hint(value)}")
    try:
        x = float(value)
    except OverflowError:  # an integer of hundreds of digits
        digits = len(str(abs(int(value))))
        raise error(path, f"is too large: a {digits}-digit integer does not fit in a "
                          f"floating-point number (at most about 1.8e308)") from None
    if not math.isfinite(x):
        raise error(path, f"must be a finite number (got {x})")
    if magnitude is not None and abs(x) > magnitude:
        raise error(path, f"is too large: numbers here are at most {magnitude:g} in magnitude "
                          f"(got {x:g})")
    if whole and x != int(x):
        raise error(path, f"expected a whole number, got {x:g}")
    if bound is not None and x not in bound:
        raise error(path, f"must be {bound.describe()} (got {x:g})")
    return x


def plain_number(value: Any, bound: Bound | None = None,
                 magnitude: float | None = None) -> bool:
    """Whether :func:`check_number` would return ``value`` unchanged: a finite float within
    ``bound`` and ``magnitude``. A fast path for validators that read thousands of numbers
    (the scenario validator, once per time-keyed change on every explorer update): it needs
    no key path and no abstract-base-class checks."""
    return (type(value) is float and math.isfinite(value)
            and (magnitude is None or -magnitude <= value <= magnitude)
            and (bound is None or value in bound))


def number_hint(value: Any) -> str:
    """`` (write the number without quotes)`` for text that reads as a number, else ''."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (write the number without quotes)"
    return ""


def join(path: str, key: str) -> str:
    """``path.key``, or ``key`` at the top."""
    return f"{path}.{key}" if path else key
