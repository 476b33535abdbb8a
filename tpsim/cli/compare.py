"""``tpsim compare``: appraise scenarios against a counterfactual (Green Book), per agency.

Everything is computed before anything is written: a user error (exit status 2) leaves no file.
Files: ``comparison.json``, ``comparison.csv``, ``attribution.csv``, ``cashflow.csv`` and each run's
``<scenario>/timeseries.csv`` (the counterfactual's too), built by
:func:`tpsim.present.documents.comparison_files`; docs/appraisal.md documents them.
"""
from __future__ import annotations

from pathlib import Path

import click

from tpsim.analysis.appraisal import RECOMMENDED_OPTIMISM_BIAS
from tpsim.analysis.comparison import Comparison, compare_scenarios
from tpsim.output import OutputFolder
from tpsim.present.documents import comparison_document, comparison_files, run_folders
from tpsim.present.text import comparison_text
from tpsim.cli.options import (against_option, dt_option, horizon_option, load_timed,
                               method_option, optimism_bias_option, out_dir, out_option,
                               scenarios_argument)


@click.command()
@scenarios_argument
@against_option()
@horizon_option("Months to simulate and appraise (default: the scenarios' horizon).")
@optimism_bias_option("Uplift on costs, a fraction (default: each scenario's "
                      f"appraisal.optimism_bias; recommended {RECOMMENDED_OPTIMISM_BIAS:g}).")
@method_option()
@dt_option()
@out_option("outputs/compare/")
def compare(scenarios: tuple[str, ...], counterfactual: str, horizon: int | None,
            optimism_bias: float | None, method: str | None, dt: float | None,
            out: str | None) -> None:
    """Appraise each SCENARIO against the counterfactual (Green Book): NPSV (the headline),
    economic and fiscal NPV, BCR and payback, costs and savings per agency, outcomes, who pays /
    who gains, switching values and break-even; write comparison.json, comparison.csv,
    attribution.csv, cashflow.csv and every run's timeseries.csv."""
    cf = load_timed(counterfactual, horizon=horizon, dt=dt, method=method)
    scs = [load_timed(p, horizon=horizon, dt=dt, method=method) for p in scenarios]
    run_folders(scs, cf)  # two different scenarios of one name: refused before simulating
    comparison = compare_scenarios(scs, cf, optimism_bias)
    with OutputFolder(out_dir(out, "compare"), "compare") as written:
        write_comparison(comparison, written)


def distribution_text(name: str, block: dict) -> str:
    """The lines of ``tpsim compare`` for a scenario with deprivation bands: NPSV and QALYs by
    band, then the weighted NPSV beside the unweighted one (docs/appraisal.md)."""
    lines = [f"{name}: by deprivation band (q1 most deprived; weight (median income / band "
             f"income)^{block['elasticity']:g})"]
    for q, b in block["bands"].items():
        lines.append(f"  {q}: NPSV GBP {b['npsv'] / 1e6:,.2f}m, QALYs gained "
                     f"{b['outcomes']['qalys_gained_horizon']:,.1f}, weight {b['weight']:.3f}")
    lines.append(f"  place-wide (optimism bias, overheads, pool): GBP "
                 f"{block['place_wide'] / 1e6:,.2f}m")
    lines.append(f"  NPSV GBP {block['npsv'] / 1e6:,.2f}m; distributionally weighted NPSV GBP "
                 f"{block['weighted_npsv'] / 1e6:,.2f}m (supplementary)")
    return "\n".join(lines)


def write_comparison(comparison: Comparison, written: OutputFolder) -> dict[Path, str]:
    """Write the files of ``tpsim compare`` into ``written`` and print the comparison's table
    (shared with ``tpsim report``, which writes the same files)."""
    document = comparison_document(comparison)
    files = comparison_files(comparison, document)
    written.write_files(files)
    click.echo(comparison_text(document))
    for name, entry in document["scenarios"].items():
        if "distribution" in entry:
            click.echo(distribution_text(name, entry["distribution"]))
    folder = written.final()
    n_series = sum(1 for p in files if p.name == "timeseries.csv")
    click.echo(f"wrote {folder / 'comparison.json'}, {folder / 'comparison.csv'}, "
               f"{folder / 'attribution.csv'}, {folder / 'cashflow.csv'} and {n_series} "
               f"timeseries.csv files")
    return files
