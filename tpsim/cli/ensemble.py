"""``tpsim ensemble``: Monte Carlo runs of scenarios against a counterfactual under the
uncertainty of their parameters (docs/uncertainty.md).

Files (in ``--out``, default ``outputs/ensemble/``), each written atomically after every run
has finished: ``ensemble.json``, ``quantiles.csv``, ``fan_<series>_<scenario>.png`` (and
``..._vs_<counterfactual>.png`` for the paired difference), ``hist_npv.png``,
``hist_bcr.png``, ``hist_payback.png``.
"""
from __future__ import annotations

import sys

import click

from tpsim.analysis import ensemble as en
from tpsim.errors import TpsimError
from tpsim.output import OutputFolder, json_text
from tpsim.present.documents import ensemble_document, quantiles_csv
from tpsim.present.text import ensemble_text
from tpsim.analysis.sampling import BLOCK, SAMPLERS
from tpsim.cli.options import (against_option, load_timed, optimism_bias_option, out_dir,
                               out_option, scenarios_argument, seed_option, time_options)


@click.command()
@scenarios_argument
@against_option("The counterfactual every SCENARIO is compared with (paired draws).")
@click.option("--runs", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Monte Carlo runs (each simulates every scenario and the counterfactual).")
@seed_option("Seed: the same seed gives the same results on any engine and chunk size.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="random", show_default=True,
              help="Points of the unit hypercube (scipy.stats.qmc); lhs and sobol stratify "
                   f"within blocks of {BLOCK} runs.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Where chunks run: this process, or a Dask cluster.")
@click.option("--scheduler", help="Dask scheduler address (default: DASK_SCHEDULER_ADDRESS, "
                                  "else a LocalCluster).")
@click.option("--workers", type=click.IntRange(min=1),
              help="LocalCluster worker processes (default: the number of cores).")
@click.option("--chunk-size", "chunk_runs", type=click.IntRange(min=1), default=4 * BLOCK,
              show_default=True, help=f"Runs per task (rounded up to whole blocks of {BLOCK}).")
@click.option("--series", "series", multiple=True,
              help="Series whose monthly percentiles are tracked (repeatable; default: "
                   + ", ".join(en.DEFAULT_SERIES) + ").")
@click.option("--bins", type=click.IntRange(min=10), default=en.DEFAULT_BINS, show_default=True,
              help="Histogram bins per series and month (percentile error <= half a bin).")
@optimism_bias_option()
@time_options()
@click.option("--charts/--no-charts", default=True, show_default=True, help="Write the PNG charts.")
@out_option("outputs/ensemble/")
def ensemble(scenarios: tuple[str, ...], counterfactual: str, runs: int, seed: int, sampler: str,
             engine: str, scheduler: str | None, workers: int | None, chunk_runs: int,
             series: tuple[str, ...], bins: int, optimism_bias: float | None,
             horizon: int | None, dt: float | None, method: str | None, charts: bool,
             out: str | None) -> None:
    """Run an ensemble of each SCENARIO against the counterfactual under the uncertainty
    section of the first scenario that declares one (docs/uncertainty.md): percentiles of
    monthly series, distributions of NPV, BCR and payback, and the probability each scenario
    beats the counterfactual."""
    if scheduler and engine != "dask":
        raise TpsimError("--scheduler needs --engine dask")
    cf = load_timed(counterfactual, horizon=horizon, dt=dt, method=method)
    scs = [load_timed(p, horizon=horizon, dt=dt, method=method) for p in scenarios]
    job = en.prepare(scs, cf, runs=runs, seed=seed, sampler=sampler,
                     series=series or en.DEFAULT_SERIES, bins=bins, optimism_bias=optimism_bias)
    for warning in job.plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    if job.plan.d == 0:
        click.echo("warning: no scenario declares an uncertainty section: every run is the same",
                   err=True)

    click.echo(f"pilot: {min(runs, BLOCK)} runs for the histogram ranges ...", err=True)
    (partial, seconds) = en.timed(_run, job, engine, chunk_runs, scheduler, workers)
    summary = en.summarise(job, partial)

    document = ensemble_document(job, summary, scs, cf, engine=engine, chunk_runs=chunk_runs,
                                 seconds=seconds, optimism_bias=optimism_bias)
    files = {"ensemble.json": json_text(document), "quantiles.csv": quantiles_csv(job, summary)}
    folder = out_dir(out, "ensemble")
    from tpsim.present.charts import save_figure
    from tpsim.present.charts_uncertainty import ensemble_figures

    figures = ensemble_figures(job, summary, partial, scs, cf) if charts else {}
    with OutputFolder(folder, "ensemble") as written:
        written.write_files(files)
        for stem, fig in figures.items():
            save_figure(fig, written.folder(), stem, formats=("png",))
    click.echo(ensemble_text(document))
    click.echo(f"wrote {folder / 'ensemble.json'}, {folder / 'quantiles.csv'} and "
               f"{len(figures)} charts in {seconds:.1f} s ({runs / seconds:,.0f} runs/s)")


def _run(job: en.EnsembleJob, engine: str, chunk_runs: int, scheduler: str | None,
         workers: int | None) -> en.Partial:
    job.edges = en.pilot_edges(job)
    with click.progressbar(length=job.n_runs, label=f"{job.n_runs:,} runs ({engine})",
                           file=sys.stderr, show_eta=True, show_percent=True) as bar:
        options = {"scheduler": scheduler, "workers": workers} if engine == "dask" else {}
        return en.run_ensemble(job, engine, chunk_runs, progress=bar.update, **options)


# ---------------------------------------------------------------------------------------------
# Outputs (no I/O)
# ---------------------------------------------------------------------------------------------
