"""Helpers shared by the sub-commands."""
from __future__ import annotations

from pathlib import Path

import click

from tpsim.config.scenario import Scenario, load_scenario


def out_dir(out: str | None, default: str) -> Path:
    """The output folder: ``--out`` if given, else ``outputs/<default>``."""
    return Path(out) if out else Path("outputs") / default


def load(path: str) -> Scenario:
    return load_scenario(path)


scenario_argument = click.argument("scenario", type=click.Path(dir_okay=False))
out_option = click.option("--out", type=click.Path(file_okay=False),
                          help="Output folder (default under outputs/).")
