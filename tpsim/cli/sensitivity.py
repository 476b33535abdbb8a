"""``tpsim sensitivity``: which uncertain parameters drive a scenario's NPV against its
counterfactual and its reactive spend in a given month (docs/uncertainty.md).

``--method oat`` writes ``sensitivity.json``, ``tornado.csv``, ``tornado_npv.png`` and
``tornado_reactive_spend.png``; ``--method sobol`` writes ``sensitivity.json``, ``sobol.csv``
and ``sobol_npv.png``, ``sobol_reactive_spend.png``. Files are written atomically after the
runs have finished (``--out``, default ``outputs/sensitivity/<scenario>/``).
"""
from __future__ import annotations

import warnings

import click

from tpsim.analysis import ensemble as en
from tpsim.analysis import sensitivity as sa
from tpsim.errors import TpsimError
from tpsim.output import OutputFolder
from tpsim.present.documents import sensitivity_files
from tpsim.present.text import sensitivity_text
from tpsim.cli.options import (MAX_SOBOL_N, FiniteFloat, against_option, dt_option,
                               horizon_option, load_timed, optimism_bias_option, out_dir,
                               out_option, scenario_argument, seed_option)
from tpsim.config.scenario import MAX_HORIZON


@click.command()
@scenario_argument
@against_option("The counterfactual the NPV is measured against (paired draws).")
@click.option("--method", type=click.Choice(["oat", "sobol"]), default="oat", show_default=True,
              help="oat: one-at-a-time swings (tornado); sobol: first-order and total indices.")
@click.option("--swing", type=FiniteFloat(0.0, 0.5, max_open=True), default=0.05,
              show_default=True, help="oat: each parameter from this quantile to 1 - swing.")
@click.option("--n", "n_base", type=click.IntRange(2, MAX_SOBOL_N), default=512, show_default=True,
              help="sobol: base sample, a power of two (runs = n x (factors + 2)).")
@seed_option()
@click.option("--month", type=click.IntRange(1, MAX_HORIZON), default=60, show_default=True,
              help="Month of the reactive-spend output.")
@optimism_bias_option("Uplift on costs (default: the scenario's appraisal.optimism_bias).")
@horizon_option()
@dt_option()
@out_option("outputs/sensitivity/<scenario>/")
def sensitivity(scenario: str, counterfactual: str, method: str, swing: float, n_base: int,
                seed: int, month: int, optimism_bias: float | None, horizon: int | None,
                dt: float | None, out: str | None) -> None:
    """Sensitivity of SCENARIO's NPV against the counterfactual, and of its reactive spend in
    --month, to each uncertain parameter: a tornado of one-at-a-time swings (oat) or Sobol
    first-order and total indices (sobol)."""
    if method == "sobol" and n_base & (n_base - 1):
        raise TpsimError(f"--n must be a power of two (got {n_base})")
    cf = load_timed(counterfactual, horizon=horizon, dt=dt)
    sc = load_timed(scenario, horizon=horizon, dt=dt)
    job = en.prepare([sc], cf, runs=1, seed=seed, series=("spend.kind.reactive",),
                     optimism_bias=optimism_bias)
    if month > job.n_months:
        raise TpsimError(f"--month {month} is beyond the horizon of {job.n_months} months")
    for warning in job.plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    d = job.plan.d
    if d == 0:
        raise TpsimError(f"{scenario}: no uncertainty section: nothing to analyse "
                         f"(see docs/uncertainty.md)")
    evaluate = sa.model_evaluator(job, month)
    if method == "oat":
        result = sa.one_at_a_time(evaluate, d, swing, sa.CENTRAL)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sa.sobol(evaluate, d, sa.OUTPUTS, n=n_base, seed=seed)
    document, files = sensitivity_files(job, sc, cf, method, result, month=month, swing=swing,
                                        n_base=n_base, scenario_file=scenario,
                                        counterfactual_file=counterfactual)
    from tpsim.present.charts import save_figure
    from tpsim.present.charts_uncertainty import sensitivity_figures

    figures = sensitivity_figures(job, sc, cf, method, result, month=month, swing=swing)
    folder = out_dir(out, f"sensitivity/{sc.name}")
    with OutputFolder(folder, "sensitivity") as written:
        written.write_files(files)
        for stem, fig in figures.items():
            save_figure(fig, written.folder(), stem, formats=("png",))
    click.echo(sensitivity_text(document))
    click.echo(f"wrote {', '.join(str(folder / n) for n in files)} and {len(figures)} charts")
