"""The scenarios shipped with tpsim: package data (``tpsim/scenarios/``, the repository's
``scenarios/`` folder), found with :mod:`importlib.resources` so ``tpsim demo`` and
``tpsim scenarios`` work from any folder after ``pip install``.

:func:`shipped_folder` is the folder, :func:`shipped_scenarios` lists the files with their
names and titles (read from each file's top-level keys without resolving ``extends``), and
:func:`copy_plan` says which files a copy to another folder writes (the files themselves are
written by the command, through :mod:`tpsim.output`).
"""
from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

from tpsim.errors import TpsimError

#: The files a copy of the shipped scenarios contains, besides every ``*.yaml``: the README and
#: the place profiles of ``tpsim place`` (``places/``) and the GDP-deflator series (``data/``).
EXTRA_FILES = ("README.md",)
EXTRA_FOLDERS = ("places", "data")

_TOP_KEY = re.compile(r"^(name|title|extends):\s*(.*?)\s*(#.*)?$")


@dataclass(frozen=True)
class ShippedScenario:
    """One shipped scenario file: its file name, ``name``, ``title`` and ``extends`` (the
    parent file, or None for a root scenario)."""

    file: str
    name: str
    title: str
    extends: str | None


def shipped_folder() -> Path:
    """The folder of the shipped scenario files (inside the installed package)."""
    # resolved: in a checkout the link tpsim/scenarios is the repository's scenarios/ folder
    folder = Path(str(importlib.resources.files("tpsim") / "scenarios")).resolve()
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        raise TpsimError("the shipped scenarios are missing from the installed package; "
                         "reinstall tpsim", file=str(folder))
    return folder


def shipped_file(name: str) -> Path:
    """The path of one shipped scenario file (``"pilots_plus.yaml"``)."""
    path = shipped_folder() / name
    if not path.is_file():
        raise TpsimError("not a shipped scenario (tpsim scenarios lists them)", file=name)
    return path


def _top_keys(path: Path) -> dict[str, str]:
    """``name``, ``title`` and ``extends`` from a scenario file's top-level lines (plain
    scalars, as the shipped files write them), without reading the whole file as a scenario."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _TOP_KEY.match(line)
        if match and match.group(1) not in out:
            out[match.group(1)] = match.group(2).strip("'\"")
    return out


def shipped_scenarios() -> list[ShippedScenario]:
    """Every shipped scenario, root scenarios first, then in file-name order."""
    out = []
    for path in sorted(shipped_folder().glob("*.yaml")):
        keys = _top_keys(path)
        if "name" not in keys:  # not a scenario (the evidence library, evidence.yaml)
            continue
        out.append(ShippedScenario(path.name, keys.get("name", path.stem),
                                   keys.get("title", ""), keys.get("extends") or None))
    depth = {s.file: 0 for s in out if s.extends is None}
    for _ in range(len(out)):
        for s in out:
            if s.extends in depth and s.file not in depth:
                depth[s.file] = depth[s.extends] + 1
    return sorted(out, key=lambda s: (depth.get(s.file, len(out)), s.file))


def copy_plan(target: str | Path, force: bool = False) -> dict[Path, bytes]:
    """The files a copy of the shipped scenarios writes into ``target`` (path -> bytes):
    every YAML file (the scenarios and the evidence library), the README and ``places/``.
    Refuses (a TpsimError naming the file) to overwrite a file that is there already unless
    ``force``."""
    folder = shipped_folder()
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise TpsimError("is a file, not a folder", file=str(target))
    files = {}
    extra = [p for d in EXTRA_FOLDERS if (folder / d).is_dir() for p in sorted((folder / d).iterdir())]
    for path in sorted(folder.glob("*.yaml")) + [folder / n for n in EXTRA_FILES] + extra:
        if not path.is_file():
            continue
        dest = target / path.relative_to(folder)
        if dest.exists() and not force:
            raise TpsimError("exists already; copy into an empty folder or use --force to "
                             "overwrite", file=str(dest))
        files[dest] = path.read_bytes()
    return files
