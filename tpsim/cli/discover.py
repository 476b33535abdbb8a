"""``tpsim discover``: scenario discovery (PRIM and a CART tree) over an ensemble of SCENARIO
against the counterfactual: which sampled futures make a condition true (docs/discovery.md).

Files (in ``--out``, default ``outputs/discover/``), written atomically: ``discovery.json``,
``discovery_tradeoff.png``, ``discovery_box.png``, ``discovery_scatter.png``; with
``--save-runs FILE``, FILE (a gzip CSV of every run's inputs, outcomes and ``of_interest``).
"""
from __future__ import annotations

import gzip
import io
import sys

import click

from tpsim.analysis.sampling import BLOCK, SAMPLERS
from tpsim.cli.options import (MAX_RUNS, FiniteFloat, against_option, optimism_bias_option,
                               out_dir, out_option, runs_option, scenario_argument,
                               seed_option, time_options)
from tpsim.errors import TpsimError


@click.command()
@scenario_argument
@against_option("The counterfactual SCENARIO is compared with (paired draws).")
@runs_option(default=4 * BLOCK,
             help="Monte Carlo runs (the ensemble's runs for the same seed and sampler).")
@click.option("--where", "where", default="npv > 0", show_default=True,
              help="The condition of interest: NAME OP NUMBER joined by and/or, over npsv, "
                   "economic_npv, npv (fiscal), npv_parliament, bcr, payback (month), "
                   "fiscal_npv.<agency>, section_114 (month), section_114.<council>.")
@click.option("--within", type=click.Choice(["horizon", "parliament"]), default="horizon",
              show_default=True, help="Money figures in --where over the horizon or over the "
                                      "Parliament (npv then means npv_parliament).")
@seed_option("Seed: the same seed gives the same runs as tpsim ensemble.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="random", show_default=True,
              help="Points of the unit hypercube (scipy.stats.qmc).")
@click.option("--box", "box", type=click.IntRange(-MAX_RUNS, MAX_RUNS), default=None,
              help="The box on the peeling trajectory to report (0 = every run; negative "
                   "counts from the end; default: the largest coverage x density among boxes "
                   "at least --density dense).")
@click.option("--density", "threshold", type=FiniteFloat(min=0.0, max=1.0), default=0.8,
              show_default=True, help="Density the default choice of box looks for.")
@click.option("--peel-alpha", type=FiniteFloat(min=0.001, max=0.5), default=0.05,
              show_default=True, help="Share of a box's runs cut off by one peel.")
@click.option("--mass-min", type=FiniteFloat(min=0.001, max=1.0), default=0.05,
              show_default=True, help="Peeling stops at boxes holding this share of all runs.")
@click.option("--cart-depth", type=click.IntRange(min=1, max=8), default=3, show_default=True,
              help="Depth of the CART tree (the second view).")
@click.option("--save-runs", "save_runs", metavar="FILE",
              help="Also write every run's inputs, outcomes and of_interest as a gzip CSV, "
                   "FILE inside --out.")
@optimism_bias_option()
@time_options()
@click.option("--charts/--no-charts", default=True, show_default=True, help="Write the PNG charts.")
@out_option("outputs/discover/")
def discover(scenario: str, counterfactual: str, runs: int, where: str, within: str, seed: int,
             sampler: str, box: int | None, threshold: float, peel_alpha: float,
             mass_min: float, cart_depth: int, save_runs: str | None,
             optimism_bias: float | None, horizon: int | None, dt: float | None,
             method: str | None, charts: bool, out: str | None) -> None:
    """Find the futures in which SCENARIO meets a condition against the counterfactual:
    PRIM boxes (coverage/density trade-off, restrictions in words with quasi-p-values) and a
    CART tree, over an ensemble under SCENARIO's uncertainty section."""
    from tpsim.api import discover as run_discovery
    from tpsim.output import OutputFolder, json_text
    from tpsim.present.discovery import discovery_figures, discovery_text

    try:
        with click.progressbar(length=runs, label=f"{runs:,} runs", file=sys.stderr,
                               show_eta=True) as bar:
            result = run_discovery(scenario, counterfactual, where=where, runs=runs, seed=seed,
                                   sampler=sampler, within=within, box=box,
                                   threshold=threshold, peel_alpha=peel_alpha,
                                   mass_min=mass_min, cart_depth=cart_depth,
                                   optimism_bias=optimism_bias, horizon=horizon, dt=dt,
                                   method=method, progress=bar.update)
    except TpsimError as exc:
        if exc.key in ("where", "box", "within"):
            raise TpsimError(f"--{exc.key}: {exc.message}") from None
        raise
    document = result.to_dict()
    folder = out_dir(out, "discover")
    with OutputFolder(folder, "discover") as written:
        if save_runs is not None:
            try:
                path = written.path(save_runs)
            except TpsimError as exc:
                raise TpsimError(f"--save-runs: {exc.message}") from None
            _write_runs(path, result)
        written.write_text("discovery.json", json_text(document))
        if charts and 0 < result.discovery.result.n_interest < result.discovery.result.n:
            from tpsim.present.charts import save_figure

            title = f"{result.settings['scenario']}: {result.settings['where']}"
            for stem, fig in discovery_figures(result.discovery, result.x, result.interest,
                                               title).items():
                save_figure(fig, written.folder(), stem, formats=("png",))
    click.echo(discovery_text(document))
    click.echo(f"wrote {folder / 'discovery.json'}")


def _write_runs(path, result) -> None:
    """The runs as a gzip CSV, written in slices of rows (an empty cell: inf or NaN)."""
    import numpy as np

    names = list(result.outcomes)
    header = ["run", *result.discovery.labels, *names, "of_interest"]
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as text:
        text.write(",".join(header) + "\n")
        step = 65536
        for s0 in range(0, result.x.shape[0], step):
            rows = np.column_stack([result.x[s0:s0 + step]]
                                   + [result.outcomes[m][s0:s0 + step] for m in names])
            flags = result.interest[s0:s0 + step]
            text.write("".join(
                f"{s0 + i}," + ",".join(repr(float(v)) if np.isfinite(v) else "" for v in row)
                + f",{int(flags[i])}\n" for i, row in enumerate(rows)))
