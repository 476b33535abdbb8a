"""The shipped scenarios are package data: ``tpsim scenarios`` lists them, ``tpsim scenarios
copy DIR`` copies them out (and refuses to overwrite), and the wheel carries them."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tpsim.cli import main
from tpsim.config.scenario import load_scenario
from tpsim.config.shipped import shipped_folder, shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_folder_holds_the_repository_scenarios():
    folder = shipped_folder()
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "scenarios").glob("*.yaml"))
    items = {s.file: s for s in shipped_scenarios()}
    assert items["baseline.yaml"].extends is None
    assert items["pilots_plus.yaml"].extends == "siloed_squeeze.yaml"
    assert items["pilots_plus.yaml"].name == "pilots_plus"
    assert list(items)[0] == "baseline.yaml"  # the root first, then its children


def test_scenarios_lists_every_file_with_its_title(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # from any folder
    result = CliRunner().invoke(main, ["scenarios"])
    assert result.exit_code == 0, result.output
    for s in shipped_scenarios():
        assert s.file in result.output and s.title in result.output
    assert CliRunner().invoke(main, ["scenarios", "list"]).output == result.output


def test_scenarios_copy_writes_loadable_files_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mine"
    result = CliRunner().invoke(main, ["scenarios", "copy", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "README.md").is_file() and (target / "places" / "baseline.yaml").is_file()
    assert (target / "evidence.yaml").is_file()
    for s in shipped_scenarios():
        copied = target / s.file
        assert copied.read_bytes() == (shipped_folder() / s.file).read_bytes()
    # a copied child still finds its parent, and loads as the shipped one does
    assert load_scenario(target / "pilots_plus.yaml").hash == \
        load_scenario(shipped_folder() / "pilots_plus.yaml").hash
    (target / "pilots_plus.yaml").write_text("edited")
    result = CliRunner().invoke(main, ["scenarios", "copy", str(target)])
    assert result.exit_code == 2 and "exists already" in result.output
    assert (target / "pilots_plus.yaml").read_text() == "edited"  # nothing overwritten
    result = CliRunner().invoke(main, ["scenarios", "copy", str(target), "--force"])
    assert result.exit_code == 0 and (target / "pilots_plus.yaml").read_text() != "edited"


def test_the_wheel_carries_the_scenarios(tmp_path):
    # a copy of the source (the link tpsim/scenarios -> ../scenarios kept as a link), so the
    # build leaves nothing in the checkout; pip builds it with the setuptools pyproject asks for
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tpsim", src / "tpsim", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "scenarios", src / "scenarios", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path / "dist"), str(src)], cwd=src, capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("tpsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in (ROOT / "scenarios").glob("*.yaml"):
        assert f"tpsim/scenarios/{p.name}" in names
    assert "tpsim/scenarios/README.md" in names
    for p in (ROOT / "scenarios" / "places").iterdir():
        assert f"tpsim/scenarios/places/{p.name}" in names
