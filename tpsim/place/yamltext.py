"""The text of a place's scenario file: the full resolved scenario as YAML, every number with a
comment saying where it came from (the profile, derived, solved, or the template's default with
the template's own comment), so the file stands alone and reads back to the same scenario.

Numbers are written with Python's shortest round-trip form, so reading the file gives exactly
the values built (tests/test_place.py reads it back).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from tpsim.config.scenario import Scenario

__all__ = ["scenario_yaml", "template_comment"]

_TOP_ORDER = ("name", "title", "description", "price_year", "sources", "time", "loops",
              "agencies", "cohorts", "services", "pool", "appraisal", "changes", "uncertainty")
_LINE_CACHE: dict[str, list[str]] = {}


def display_path(path) -> str:
    """A path as the user would write it: relative to the working directory when inside it."""
    import os

    text = os.fspath(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return rel if not rel.startswith("..") else text


def _lines(file: str) -> list[str]:
    if file not in _LINE_CACHE:
        try:
            _LINE_CACHE[file] = Path(file).read_text(encoding="utf-8").splitlines()
        except OSError:
            _LINE_CACHE[file] = []
    return _LINE_CACHE[file]


def template_comment(scenario: Scenario, path: str) -> str | None:
    """The comment written after ``path``'s value in the file that set it, if any."""
    loc = scenario.locations.get(path)
    if loc is None:
        return None
    lines = _lines(loc[0])
    if not 0 < loc[1] <= len(lines):
        return None
    line = lines[loc[1] - 1]
    quoted, i = None, 0
    while i < len(line):  # the first '#' outside quotes starts the comment
        ch = line[i]
        if quoted:
            if ch == quoted:
                quoted = None
        elif ch in "'\"":
            quoted = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[i + 1:].strip() or None
        i += 1
    return None


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if text not in ("inf", "-inf", "nan") else "null"
    return json.dumps(str(value), ensure_ascii=False)


def _key(key: str) -> str:
    text = str(key)
    if text.replace("_", "a").replace("-", "a").replace(".", "a").isalnum() and not text[0].isdigit():
        return text
    return json.dumps(text)


class _Writer:
    def __init__(self, comment) -> None:
        self.out: list[str] = []
        self.comment = comment

    def line(self, indent: int, text: str, path: str | None = None) -> None:
        note = self.comment(path) if path is not None else None
        body = "  " * indent + text
        if note:
            body = f"{body.ljust(40)} # {note}"
        self.out.append(body)

    def node(self, indent: int, key: str, value, path: str) -> None:
        if isinstance(value, Mapping):
            if not value:
                self.line(indent, f"{_key(key)}: {{}}", path)
                return
            self.line(indent, f"{_key(key)}:", path)
            for k, v in value.items():
                self.node(indent + 1, k, v, f"{path}.{k}")
        elif isinstance(value, (list, tuple)):
            if not value:
                self.line(indent, f"{_key(key)}: []", path)
            elif all(not isinstance(v, (Mapping, list, tuple)) for v in value):
                self.line(indent, f"{_key(key)}: [{', '.join(_scalar(v) for v in value)}]", path)
            else:
                self.line(indent, f"{_key(key)}:", path)
                for j, item in enumerate(value):
                    self.item(indent + 1, item, f"{path}.{j}")
        else:
            self.line(indent, f"{_key(key)}: {_scalar(value)}", path)

    def item(self, indent: int, value, path: str) -> None:
        if isinstance(value, Mapping) and value:
            first = True
            for k, v in value.items():
                if first:
                    start = len(self.out)
                    self.node(indent + 1, k, v, f"{path}.{k}")
                    self.out[start] = "  " * indent + "- " + self.out[start].lstrip()
                    first = False
                else:
                    self.node(indent + 1, k, v, f"{path}.{k}")
        else:
            self.line(indent, f"- {_scalar(value)}", path)


def scenario_yaml(scenario: Scenario, origin: Mapping[str, str], template: Scenario,
                  header: list[str]) -> str:
    """The YAML text of ``scenario`` with ``header`` comment lines on top; a value's comment is
    ``origin[path]`` when given, else ``default (template file): <the template's comment>``."""
    where = display_path(template.path) if template.path is not None else template.name
    data = scenario.as_dict()

    def comment(path: str | None) -> str | None:
        if path is None:
            return None
        if path in origin:
            return origin[path]
        node = _leaf(data, path)
        if isinstance(node, (Mapping, list, tuple)) or isinstance(node, str):
            return None
        own = template_comment(template, path)
        return f"default ({where}): {own}" if own else f"default ({where})"

    w = _Writer(comment)
    out = [f"# {h}" if h else "#" for h in header]
    for key in _TOP_ORDER:
        if key in data:
            w.node(0, key, data[key], key)
    return "\n".join(out + w.out) + "\n"


def _leaf(data, path: str):
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
