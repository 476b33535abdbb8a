"""``tpsim demo``: the main job in one command. Compares the shipped scenarios (pooled
prevention and Pilots Plus against the siloed squeeze, with the baseline drawn for context) and
writes the business-case report, its charts and the comparison files (default
``outputs/demo/``).

The shipped scenarios are found in ``./scenarios/`` when run from the repository root, else
next to the installed package (``<repository>/scenarios/``).
"""
from __future__ import annotations

from pathlib import Path

import click

from tpsim.errors import TpsimError
from tpsim.cli.options import out_dir, out_option
from tpsim.cli.report import produce_report

SCENARIOS = ("pooled_prevention.yaml", "pilots_plus.yaml")
COUNTERFACTUAL = "siloed_squeeze.yaml"
CONTEXT = ("baseline.yaml",)


def scenario_folder() -> Path:
    """The folder of the shipped scenarios: ./scenarios if it has them, else the repository's."""
    needed = SCENARIOS + (COUNTERFACTUAL,) + CONTEXT
    candidates = [Path.cwd() / "scenarios", Path(__file__).resolve().parents[2] / "scenarios"]
    for folder in candidates:
        if all((folder / name).is_file() for name in needed):
            return folder
    tried = " and ".join(str(c) for c in candidates)
    raise TpsimError(f"the shipped scenarios ({', '.join(needed)}) were not found; tried {tried}; "
                     "run tpsim demo from the repository root")


@click.command()
@out_option("outputs/demo/")
def demo(out: str | None) -> None:
    """Compare the shipped scenarios; write the business-case report (report.html), its
    charts (PNG and SVG) and the comparison files (default outputs/demo/)."""
    folder = scenario_folder()
    try:
        shown = folder.relative_to(Path.cwd())
    except ValueError:
        shown = folder
    target = out_dir(out, "demo")
    html = produce_report([str(shown / s) for s in SCENARIOS], str(shown / COUNTERFACTUAL),
                          [str(shown / s) for s in CONTEXT], target)
    click.echo(f"open {html} in a browser: the whole report is in that one file")
