"""Parameter paths of a resolved scenario: which dotted paths are parameters, switches.

One definition shared by the scenario validator (overrides, ``changes``) and the
``uncertainty`` section's validator: a parameter is a numeric leaf (``float``) or a switch
(``bool``) of ``loops``, ``agencies``, ``cohorts``, ``services`` or ``pool``, except a cohort
state's ``utility`` and a service's ``transfer`` marking; switches (``loops.*``, ``pool.enabled``) are overridden as 0 or 1.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tpsim.errors import suggest as _suggest

__all__ = ["PARAMETER_SECTIONS", "parameter_paths", "is_switch", "unknown_parameter",
           "get_path", "set_path", "with_path"]

#: Sections whose numeric leaves (and switches) are addressable parameters.
PARAMETER_SECTIONS = ("loops", "agencies", "cohorts", "services", "pool")


def parameter_paths(data: Mapping) -> list[str]:
    """Numeric leaves (float) and switches (bool) of the parameter sections, in order."""
    paths: list[str] = []

    def walk(node: Mapping, path: str) -> None:
        for key, value in node.items():
            here = f"{path}.{key}"
            if isinstance(value, dict):
                walk(value, here)
            elif isinstance(value, (bool, float)) and not _is_utility(here) \
                    and not (section == "services" and key == "transfer"):  # a marking, not a parameter
                paths.append(here)

    for section in PARAMETER_SECTIONS:
        walk(data[section], section)
    return paths


def _is_utility(path: str) -> bool:
    parts = path.split(".")
    return len(parts) == 5 and parts[0] == "cohorts" and parts[2] == "states" \
        and parts[4] == "utility"


def is_switch(path: str) -> bool:
    """Whether a parameter path is a boolean switch (overridden as 0 or 1)."""
    return path.startswith("loops.") or path == "pool.enabled"


def unknown_parameter(path: str, paths: Sequence[str], data: Mapping) -> str:
    """Why ``path`` is not a parameter of ``data``: null, not a number, or no such path."""
    try:
        node = get_path(data, path)
    except (KeyError, TypeError):
        node = ...
    if node is None:
        return ("is null here (e.g. unlimited capacity), so it cannot be changed; give it a "
                "number in the scenario first")
    if node is not ...:
        return ("is not a parameter that can be changed (only numbers and switches in loops, "
                "agencies, cohorts, services and pool are)")
    return "not a parameter path" + _suggest(path, paths)


def get_path(data: Mapping, path: str) -> Any:
    """The value at a dotted key path of nested mappings (KeyError if absent)."""
    node: Any = data
    for part in path.split("."):
        node = node[part]
    return node


def set_path(data: dict, path: str, value: Any) -> None:
    """Set the value at a dotted key path of nested mappings (the parents must exist)."""
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value


def with_path(data: Mapping, path: str, value: Any) -> dict:
    """A copy of ``data`` with ``value`` at a dotted key path: only the mappings along the path
    are copied, so the rest is shared with ``data`` (which is left unchanged)."""
    head, _, rest = path.partition(".")
    out = dict(data)
    out[head] = with_path(data[head], rest, value) if rest else value
    return out
