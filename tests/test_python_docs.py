"""Every ```python block of docs/python.md and README.md runs (from the repository root), so the page
cannot go stale; the first goes from ``import tpsim`` to a Dataset and an NPV in under ten
lines."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "python.md"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


BLOCKS = python_blocks(DOC)
README_BLOCKS = python_blocks(ROOT / "README.md")


def test_the_first_block_is_short():
    lines = [line for line in BLOCKS[0].splitlines() if line.strip()]
    assert lines[0] == "import tpsim" and len(lines) < 10
    assert "to_xarray()" in BLOCKS[0] and ".npv" in BLOCKS[0]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exec(compile(BLOCKS[index], f"{DOC}:block{index + 1}", "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip()  # every block shows something


@pytest.mark.parametrize("index", range(len(README_BLOCKS)))
def test_readme_block_runs(index, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = compile(README_BLOCKS[index], f"README.md:block{index + 1}", "exec")
    exec(code, {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip()
