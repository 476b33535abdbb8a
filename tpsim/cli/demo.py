"""``tpsim demo``: the main job in one command. Compares the shipped scenarios (whole-place
pooled prevention and Pilots Plus against the siloed squeeze, with the baseline drawn for
context), runs the uncertainty analysis (``--runs``, default 1,000 Monte Carlo runs; 0 for
none) and writes the business-case report, its charts and the comparison files (default
``outputs/demo/``). It prints the options ranked by NPSV and, last, the report's path.

The scenarios are the package's own (:mod:`tpsim.config.shipped`), so the demo works from any
folder; ``--scenarios DIR`` takes the same files from a folder of edited copies
(``tpsim scenarios copy DIR``).
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from tpsim.config.shipped import shipped_folder
from tpsim.errors import TpsimError
from tpsim.cli.options import out_dir, out_option, runs_option, seed_option
from tpsim.cli.report import produce_report

#: The options of the demo. The pooled option is the file with an uncertainty section (the
#: same scenario as pooled_prevention.yaml plus distributions); its section applies to Pilots
#: Plus and the counterfactual too, with shared (paired) draws.
SCENARIOS = ("pooled_prevention_uncertain.yaml", "pilots_plus.yaml")
COUNTERFACTUAL = "siloed_squeeze.yaml"
CONTEXT = ("baseline.yaml",)
DEFAULT_RUNS = 1000


def scenario_folder(folder: str | None = None) -> Path:
    """The folder the demo reads: ``folder`` if given, else the shipped scenarios. A
    TpsimError names the first file it lacks."""
    chosen = Path(folder) if folder else shipped_folder()
    for name in SCENARIOS + (COUNTERFACTUAL,) + CONTEXT:
        if not (chosen / name).is_file():
            raise TpsimError(f"the demo needs {name} here (tpsim scenarios copy DIR writes the "
                             "shipped files)", file=str(chosen))
    return chosen


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is below it (shorter in the report)."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) \
            else str(path)
    except ValueError:
        return str(path)


@click.command()
@runs_option(default=DEFAULT_RUNS, minimum=0,
             help="Monte Carlo runs of the uncertainty analysis (0: none).")
@seed_option("Seed of the uncertainty runs.")
@click.option("--scenarios", "folder", type=click.Path(file_okay=False, exists=True),
              help="Folder of the scenario files (default: the shipped ones).")
@out_option("outputs/demo/")
def demo(runs: int, seed: int, folder: str | None, out: str | None) -> None:
    """Compare the shipped scenarios, with an uncertainty analysis; write the business-case
    report (report.html), its charts (PNG and SVG) and the comparison files (default
    outputs/demo/), and print the options ranked by NPSV."""
    source = scenario_folder(folder)
    produce_report([_shown(source / s) for s in SCENARIOS], _shown(source / COUNTERFACTUAL),
                   [_shown(source / s) for s in CONTEXT], out_dir(out, "demo"),
                   uncertainty_runs=runs, seed=seed, brief=True)
