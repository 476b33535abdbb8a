"""``tpsim report``: the business-case report of scenarios against a counterfactual.

Writes into the output folder (default ``outputs/report/``):

* ``report.html``: one self-contained page (charts embedded), see :mod:`tpsim.present.report`;
* ``charts/<chart>.png`` (for documents) and ``charts/<chart>.svg`` (for print);
* the files of ``tpsim compare`` (``comparison.json``, ``comparison.csv``, ``attribution.csv``,
  each run's ``<scenario>/timeseries.csv``), from the same comparison the report shows and
  the same builder as ``tpsim compare`` (:mod:`tpsim.present.documents`), so they are
  exactly what ``tpsim compare`` gives.

The report and charts are computed and rendered in memory before anything is written; a user
error (a bad scenario, places that cannot be compared) stops with exit status 2 and no file.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Sequence

import click

from tpsim.analysis.comparison import Comparison, compare_scenarios
from tpsim.output import OutputFolder
from tpsim.present import charts
from tpsim.present.documents import comparison_document, comparison_files, run_folders
from tpsim.present.report import Uncertainty, make_charts, render_html, uncertainty_section
from tpsim.present.text import comparison_text, report_summary_text
from tpsim.cli.options import (MAX_RUNS, against_option, check_finite_outcomes, load_timed,
                               optimism_bias_option, out_dir, out_option, scenarios_argument,
                               seed_option, time_options)


def render_outputs(comparison: Comparison, command: str | None = None,
                   uncertainty: Uncertainty | None = None) -> dict[Path, bytes]:
    """The report and every chart (relative path -> bytes), rendered in memory."""
    files: dict[Path, bytes] = {}
    chart_list = make_charts(comparison, uncertainty.charts if uncertainty else ())
    png = {}
    for chart in chart_list:
        png[chart.stem] = charts.figure_bytes(chart.figure, "png")
        files[Path("charts") / f"{chart.stem}.png"] = png[chart.stem]
        files[Path("charts") / f"{chart.stem}.svg"] = charts.figure_bytes(chart.figure, "svg")
    html = render_html(comparison, chart_list, png, command=command, uncertainty=uncertainty)
    files[Path("report.html")] = html.encode("utf-8")
    return files


def command_line() -> str:
    """The command as typed (recorded in the report's settings)."""
    return "tpsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def produce_report(scenarios: Sequence[str], counterfactual: str, context: Sequence[str],
                   folder: Path, horizon: int | None = None,
                   optimism_bias: float | None = None, method: str | None = None,
                   dt: float | None = None, uncertainty_runs: int = 0, seed: int = 0,
                   brief: bool = False) -> Path:
    """Load, compare, render and write a report and the files of ``tpsim compare`` (shared
    by ``report`` and ``demo``): one comparison feeds both. Prints the comparison's tables, or
    with ``brief`` a few lines of summary (the ranking), and last the report's path."""
    from tpsim.analysis.sensitivity import comparison_uncertainty

    def prepare(path: str):
        return load_timed(path, horizon=horizon, dt=dt, method=method)

    cf = prepare(counterfactual)
    scs = [prepare(p) for p in scenarios]
    ctx_scenarios = [prepare(p) for p in context]
    run_folders(scs, cf)
    comparison = compare_scenarios(scs, cf, optimism_bias, ctx_scenarios)
    uncertainty = None
    if uncertainty_runs:
        click.echo(f"uncertainty: {uncertainty_runs:,} Monte Carlo runs and a sensitivity "
                   "analysis ...", err=True)
        result = comparison_uncertainty(scs, cf, uncertainty_runs, seed, optimism_bias)
        if result.summary is not None:
            check_finite_outcomes(result.summary, "uncertainty runs (--uncertainty)")
        uncertainty = uncertainty_section(comparison, result)
    files = render_outputs(comparison, command_line(), uncertainty)
    document = comparison_document(comparison)
    data = comparison_files(comparison, document)
    with OutputFolder(folder, "report") as written:
        written.write_files({**data, **files})
    n_charts = sum(1 for p in files if p.parts[0] == "charts" and p.suffix == ".png")
    if brief:
        click.echo(report_summary_text(comparison, document, uncertainty))
    else:
        click.echo(comparison_text(document))
    click.echo(f"wrote {len(data)} comparison files (comparison.json, comparison.csv, "
               f"attribution.csv, cashflow.csv, each run's timeseries.csv) and {n_charts} charts "
               f"(PNG and SVG, in {folder / 'charts'})")
    click.echo(f"report: {folder / 'report.html'}")
    return folder / "report.html"


@click.command()
@scenarios_argument
@against_option()
@click.option("--context", "context", multiple=True, type=click.Path(dir_okay=False),
              help="A scenario drawn on the charts over time for context only, not appraised "
                   "(repeatable), e.g. the baseline.")
@time_options()
@optimism_bias_option()
@click.option("--uncertainty", "uncertainty_runs", type=click.IntRange(0, MAX_RUNS), default=0,
              help="Monte Carlo runs for the uncertainty section (fan charts, NPV range, tornado) "
                   "under the scenarios' uncertainty sections (default 0: none).")
@seed_option("Seed of the uncertainty runs.")
@out_option("outputs/report/")
def report(scenarios: tuple[str, ...], counterfactual: str, context: tuple[str, ...],
           horizon: int | None, optimism_bias: float | None, method: str | None,
           dt: float | None, uncertainty_runs: int, seed: int, out: str | None) -> None:
    """Write the business-case report of each SCENARIO against the counterfactual: report.html
    (one self-contained page), every chart as PNG and SVG in charts/, and the files of
    `tpsim compare`."""
    produce_report(scenarios, counterfactual, context, out_dir(out, "report"),
                   horizon=horizon, optimism_bias=optimism_bias, method=method, dt=dt,
                   uncertainty_runs=uncertainty_runs, seed=seed)
