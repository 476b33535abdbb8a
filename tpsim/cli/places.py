"""``tpsim places compare``: appraise one option against a counterfactual in every place of a
places table, all places and both arms in one batched kernel call (docs/place-profile.md).

Writes ``places.csv`` (one row per place: the appraisal's headline figures, fiscal NPV by
agency, payback, section 114 months, outcomes; with ``--uncertainty`` the ensemble's
percentiles), ``places_ranked.png``, ``places_vs_deprivation.png`` and
``places_vs_population.png``; with ``--write-scenarios`` each place's two scenarios, so that
``tpsim compare`` can be run on any one place alone. Nothing is written on an error.
"""
from __future__ import annotations

import click

from tpsim.cli.options import (against_option, derive_budgets_option, file_path,
                               optimism_bias_option, out_dir, out_option,
                               reference_profile_option, runs_option, seed_option)


@click.group()
def places() -> None:
    """Compare a scenario across many places in one run (see docs/place-profile.md)."""


@places.command("compare")
@click.argument("table", type=file_path)
@click.option("--scenario", "scenario", required=True, type=file_path,
              help="The option appraised in every place.")
@against_option("The counterfactual, whose structure every place takes.")
@reference_profile_option("The counterfactual's")
@optimism_bias_option()
@runs_option("--uncertainty", default=0, minimum=0, dest="runs",
             help="Ensemble runs per place (0: none), through the ensemble engine.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Where the ensembles run (as tpsim ensemble).")
@seed_option("Seed of the ensembles.")
@click.option("--attribution", is_flag=True,
              help="Also run who-pays / who-gains removal runs for every place.")
@derive_budgets_option("the table's")
@click.option("--write-scenarios", is_flag=True,
              help="Also write each place's option and counterfactual under scenarios/.")
@out_option("outputs/places/")
def compare(table: str, scenario: str, counterfactual: str, reference: str | None,
            optimism_bias: float | None, runs: int, engine: str, seed: int, attribution: bool,
            derive_budgets: bool, write_scenarios: bool, out: str | None) -> None:
    """Appraise --scenario against --against in every place of TABLE (a places CSV)."""
    from tpsim.output import atomic_write_text
    from tpsim.place.api import places_compare, places_files

    result = places_compare(table, scenario, counterfactual, reference=reference,
                            optimism_bias=optimism_bias, uncertainty=runs, seed=seed,
                            engine=engine, attribution=attribution,
                            keep_budgets=not derive_budgets)
    folder = out_dir(out, "places")
    files = places_files(result, write_scenarios=write_scenarios)
    from tpsim.present.charts import save_figure
    from tpsim.present.charts_places import places_figures

    figures = places_figures(result.rows, result.scenario.name, result.counterfactual.name,
                             result.uncertainty_runs)
    for relative, text in files.items():
        atomic_write_text(folder / relative, text)
    for stem, fig in figures.items():
        save_figure(fig, folder, stem, formats=("png",))
    key = "npsv" if result.rows and "npsv" in result.rows[0] else "npv"
    best = max(result.rows, key=lambda r: r[key])
    worst = min(result.rows, key=lambda r: r[key])
    click.echo(f"{len(result.rows)} places x 2 arms: {result.runs} runs in "
               f"{result.kernel_calls} kernel call(s)"
               + (f", {runs:,} ensemble runs per place on {engine}" if runs else ""))
    click.echo(f"{key.upper()} of {result.scenario.name}: best {best['label']} "
               f"GBP {best[key] / 1e6:,.1f}m, worst {worst['label']} GBP {worst[key] / 1e6:,.1f}m")
    click.echo(f"wrote {folder / 'places.csv'} and {len(figures)} charts in {folder}")
