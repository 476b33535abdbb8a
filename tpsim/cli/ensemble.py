"""``tpsim ensemble``: Monte Carlo runs of scenarios against a counterfactual under the
uncertainty of their parameters (docs/uncertainty.md).

Files (in ``--out``, default ``outputs/ensemble/``), each written atomically after every run
has finished: ``ensemble.json``, ``quantiles.csv``, ``fan_<series>_<scenario>.png`` (and
``..._vs_<counterfactual>.png`` for the paired difference), ``hist_npv.png``,
``hist_bcr.png``, ``hist_payback.png``; with ``--save-runs FILE``, FILE (a gzip CSV of every
run's inputs and outcomes, written as the runs go, :mod:`tpsim.analysis.runs`).
"""
from __future__ import annotations

import sys

import click

from tpsim.analysis import ensemble as en
from tpsim.errors import TpsimError
from tpsim.output import OutputFolder, json_text
from tpsim.present.documents import ensemble_document, quantiles_csv
from tpsim.present.text import ensemble_text
from tpsim.analysis.runs import RunsCsvWriter, reserve_series, shared_councils
from tpsim.analysis.sampling import BLOCK, SAMPLERS
from tpsim.cli.options import (MAX_BINS, MAX_RUNS, against_option, check_ensemble_memory,
                               check_finite_outcomes,
                               load_timed, optimism_bias_option, out_dir, out_option,
                               runs_option, scenarios_argument, seed_option, time_options,
                               workers_option)


@click.command()
@scenarios_argument
@against_option("The counterfactual every SCENARIO is compared with (paired draws).")
@runs_option()
@seed_option("Seed: the same seed gives the same results on any engine and chunk size.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="random", show_default=True,
              help="Points of the unit hypercube (scipy.stats.qmc); lhs and sobol stratify "
                   f"within blocks of {BLOCK} runs.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Where chunks run: this process, or a Dask cluster.")
@click.option("--scheduler", help="Dask scheduler address (default: DASK_SCHEDULER_ADDRESS, "
                                  "else a LocalCluster).")
@workers_option("LocalCluster worker processes (default: the number of cores).")
@click.option("--chunk-size", "chunk_runs", type=click.IntRange(1, MAX_RUNS), default=4 * BLOCK,
              show_default=True, help=f"Runs per task (rounded up to whole blocks of {BLOCK}).")
@click.option("--series", "series", multiple=True,
              help="Series whose monthly percentiles are tracked (repeatable; default: "
                   + ", ".join(en.DEFAULT_SERIES) + ").")
@click.option("--bins", type=click.IntRange(10, MAX_BINS), default=en.DEFAULT_BINS, show_default=True,
              help="Histogram bins per series and month (percentile error <= half a bin).")
@optimism_bias_option()
@time_options()
@click.option("--charts/--no-charts", default=True, show_default=True, help="Write the PNG charts.")
@click.option("--save-runs", "save_runs", metavar="FILE",
              help="Also write every run's sampled inputs and outcomes (NPV, BCR, payback, "
                   "section 114 months) as a gzip CSV, FILE inside --out (e.g. runs.csv.gz); "
                   "local engine only.")
@out_option("outputs/ensemble/")
def ensemble(scenarios: tuple[str, ...], counterfactual: str, runs: int, seed: int, sampler: str,
             engine: str, scheduler: str | None, workers: int | None, chunk_runs: int,
             series: tuple[str, ...], bins: int, optimism_bias: float | None,
             horizon: int | None, dt: float | None, method: str | None, charts: bool,
             save_runs: str | None, out: str | None) -> None:
    """Run an ensemble of each SCENARIO against the counterfactual under the uncertainty
    section of the first scenario that declares one (docs/uncertainty.md): percentiles of
    monthly series, distributions of NPV, BCR and payback, and the probability each scenario
    beats the counterfactual."""
    if scheduler and engine != "dask":
        raise TpsimError("--scheduler needs --engine dask")
    if save_runs is not None:
        if engine != "local":
            raise TpsimError("--save-runs needs --engine local (the runs are written in order)")
    cf = load_timed(counterfactual, horizon=horizon, dt=dt, method=method)
    scs = [load_timed(p, horizon=horizon, dt=dt, method=method) for p in scenarios]
    councils = shared_councils(scs, cf) if save_runs is not None else ()
    tracked = tuple(dict.fromkeys((*(series or en.DEFAULT_SERIES), *reserve_series(councils))))
    job = en.prepare(scs, cf, runs=runs, seed=seed, sampler=sampler,
                     series=tracked, bins=bins, optimism_bias=optimism_bias)
    check_ensemble_memory(job, chunk_runs, workers if engine == "dask" else None)
    for warning in job.plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    if job.plan.d == 0:
        click.echo("warning: no scenario declares an uncertainty section: every run is the same",
                   err=True)

    folder = out_dir(out, "ensemble")
    with OutputFolder(folder, "ensemble") as written:
        writer = None
        if save_runs is not None:
            writer = RunsCsvWriter(_inside(written, "--save-runs", save_runs), job, councils)
        click.echo(f"pilot: {min(runs, BLOCK)} runs for the histogram ranges ...", err=True)
        try:
            (partial, seconds) = en.timed(_run, job, engine, chunk_runs, scheduler, workers,
                                          writer)
        finally:
            if writer is not None:
                writer.close()
        summary = en.summarise(job, partial)
        check_finite_outcomes(summary)
        _write(written, job, summary, partial, scs, cf, engine, chunk_runs, seconds,
               optimism_bias, charts)
    click.echo(ensemble_text(ensemble_document(job, summary, scs, cf, engine=engine,
                                               chunk_runs=chunk_runs, seconds=seconds,
                                               optimism_bias=optimism_bias)))
    extra = f" and {save_runs} ({writer.rows:,} rows)" if writer is not None else ""
    click.echo(f"wrote {folder / 'ensemble.json'}, {folder / 'quantiles.csv'}{extra} in "
               f"{seconds:.1f} s ({runs / seconds:,.0f} runs/s)")


def _inside(written: OutputFolder, option: str, relative: str):
    """Where a file named on the command line goes in the output folder; a path that would
    leave it is refused (exit 2 naming the option, nothing written)."""
    try:
        return written.path(relative)
    except TpsimError as exc:
        raise TpsimError(f"{option}: {exc.message}") from None


def _write(written, job, summary, partial, scs, cf, engine, chunk_runs, seconds, optimism_bias,
           charts) -> None:

    document = ensemble_document(job, summary, scs, cf, engine=engine, chunk_runs=chunk_runs,
                                 seconds=seconds, optimism_bias=optimism_bias)
    written.write_files({"ensemble.json": json_text(document),
                         "quantiles.csv": quantiles_csv(job, summary)})
    if charts:
        from tpsim.present.charts import save_figure
        from tpsim.present.charts_uncertainty import ensemble_figures

        for stem, fig in ensemble_figures(job, summary, partial, scs, cf).items():
            save_figure(fig, written.folder(), stem, formats=("png",))


def _run(job: en.EnsembleJob, engine: str, chunk_runs: int, scheduler: str | None,
         workers: int | None, observe=None) -> en.Partial:
    job.edges = en.pilot_edges(job)
    with click.progressbar(length=job.n_runs, label=f"{job.n_runs:,} runs ({engine})",
                           file=sys.stderr, show_eta=True, show_percent=True) as bar:
        options = {"scheduler": scheduler, "workers": workers} if engine == "dask" else {}
        return en.run_ensemble(job, engine, chunk_runs, progress=bar.update, observe=observe,
                               **options)


# ---------------------------------------------------------------------------------------------
# Outputs (no I/O)
# ---------------------------------------------------------------------------------------------
