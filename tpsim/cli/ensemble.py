"""``tpsim ensemble``: Monte Carlo runs of scenarios against a counterfactual under the
uncertainty of their parameters (docs/uncertainty.md).

Files (in ``--out``, default ``outputs/ensemble/``), each written atomically after every run
has finished: ``ensemble.json``, ``quantiles.csv``, ``fan_<series>_<scenario>.png`` (and
``..._vs_<counterfactual>.png`` for the paired difference), ``hist_npv.png``,
``hist_bcr.png``, ``hist_payback.png``.
"""
from __future__ import annotations

import dataclasses
import re
import sys

import click
import numpy as np

from tpsim import __version__
from tpsim.models import runner
from tpsim.analysis import ensemble as en
from tpsim.errors import TpsimError
from tpsim.output import csv_text, json_text, atomic_write_text
from tpsim.present.wording import money
from tpsim.config.uncertainty import BLOCK, EPS, SAMPLERS
from tpsim.cli.options import load, out_dir


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--against", "counterfactual", required=True, type=click.Path(dir_okay=False),
              help="The counterfactual every SCENARIO is compared with (paired draws).")
@click.option("--runs", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Monte Carlo runs (each simulates every scenario and the counterfactual).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed: the same seed gives the same results on any engine and chunk size.")
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
@click.option("--optimism-bias", type=click.FloatRange(min=0.0),
              help="Uplift on costs, a fraction (default: each scenario's appraisal.optimism_bias).")
@click.option("--horizon", type=click.IntRange(min=1), help="Months to simulate (default: the scenarios').")
@click.option("--dt", type=float, help="Time step in months (default: the scenarios').")
@click.option("--method", type=click.Choice(["euler", "rk4"]), help="Integration method (default: the scenarios').")
@click.option("--charts/--no-charts", default=True, show_default=True, help="Write the PNG charts.")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default outputs/ensemble/).")
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
    cf = runner.with_time_settings(load(counterfactual), dt=dt, method=method, horizon=horizon)
    scs = [runner.with_time_settings(load(p), dt=dt, method=method, horizon=horizon)
           for p in scenarios]
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
    figures = _figures(job, summary, partial, scs, cf) if charts else {}
    for name, text in files.items():
        atomic_write_text(folder / name, text)
    from tpsim.present.charts import save_figure
    for stem, fig in figures.items():
        save_figure(fig, folder, stem, formats=("png",))
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


def _file(s) -> str | None:
    return str(s.path) if s.path is not None else None


def ensemble_document(job: en.EnsembleJob, summary: en.Summary, scenarios, counterfactual, *,
                      engine: str, chunk_runs: int, seconds: float,
                      optimism_bias: float | None) -> dict:
    """The content of ``ensemble.json``. Everything but ``run`` is independent of the engine
    and chunk size."""
    plan = job.plan
    factors = []
    for f_i, factor in enumerate(plan.factors):
        uses = {}
        for k, rows in enumerate(plan.assignments):
            for a in rows:
                if a.factor == f_i:
                    spec = a.dist.spec
                    uses[job.names[k]] = {"distribution": a.dist.describe(),
                                          "relative": a.relative,
                                          "source": spec.get("source")}
        factors.append({"factor": factor.label, "path": factor.path,
                        "shared": factor.scenario is None, "scenarios": uses})
    correlation = None if plan.correlation is None else plan.correlation.tolist()
    return {
        "tpsim_version": __version__,
        "counterfactual": {"scenario": counterfactual.name, "file": _file(counterfactual),
                           "scenario_hash": counterfactual.hash},
        "scenarios": [{"scenario": s.name, "file": _file(s), "scenario_hash": s.hash,
                       "appraisal": dataclasses.asdict(job.settings[k])}
                      for k, s in enumerate(scenarios, start=1)],
        "settings": {
            "runs": job.n_runs, "seed": job.seed, "sampler": job.sampler, "block_size": BLOCK,
            "horizon_months": job.n_months, "dt_months": job.models[0].dt,
            "method": job.models[0].method, "series": list(dict.fromkeys(s for s, _, _ in job.tracked)),
            "bins": job.bins, "metric_bins": job.metric_bins, "pilot_pad": en.PAD,
            "optimism_bias": optimism_bias, "percentiles": list(summary.percentiles),
            "price_year": counterfactual.data["price_year"],
        },
        "factors": factors,
        "correlation": {"factors": plan.labels, "matrix": correlation},
        "warnings": list(plan.warnings),
        "units": {"money": f"GBP, real terms at {counterfactual.data['price_year']} prices; npv "
                           "figures are present values (Green Book), fiscal (cashable savings "
                           "minus costs with optimism bias), all agencies and the pool",
                  "payback": "month (1 = the first simulated month; 0 = never a net outlay)"},
        "method": {
            "quantiles": "fixed-bin histograms with edges from a pilot (block 0) widened by "
                         f"{en.PAD:g} of its range on each side; each percentile is within "
                         "its error_bound of numpy.percentile (linear) of the same runs",
            "means": "exact (per-block sums added in block order)",
            "monte_carlo_error": "standard_error_of_mean = sd / sqrt(runs) (for random "
                                 "sampling; lhs and sobol are usually more precise)",
            "eps": EPS,
        },
        "results": summary.metrics,
        "quantiles_file": "quantiles.csv",
        "run": {"engine": engine, "chunk_runs": chunk_runs, "seconds": seconds,
                "runs_per_second": job.n_runs / seconds if seconds > 0 else None,
                "kernel_runs": job.n_runs * len(job.models)},
    }


def quantiles_csv(job: en.EnsembleJob, summary: en.Summary) -> str:
    """``series, scenario, month, mean, p2.5 ... p97.5, error_bound, bin_width``; the scenario
    column is ``<scenario> - <counterfactual>`` for the paired difference."""
    cols = ["series", "scenario", "month", "mean"] + [f"p{p:g}" for p in summary.percentiles] \
        + ["error_bound", "bin_width"]
    rows = []
    for t, (name, k, diff) in enumerate(job.tracked):
        who = job.names[k] + (f" - {job.names[0]}" if diff else "")
        for m in range(job.n_months):
            rows.append([name, who, m + 1, float(summary.means[t, m]),
                         *map(float, summary.quantiles[t, m]),
                         float(np.nanmax(summary.quantile_bounds[t, m])),
                         float(summary.bin_widths[t, m])])
    return csv_text(cols, rows)


def ensemble_text(document: dict) -> str:
    """A short plain-text summary for the terminal."""
    s = document["settings"]
    lines = [f"ensemble: {s['runs']:,} runs, seed {s['seed']}, {s['sampler']} sampling, "
             f"{len(document['factors'])} uncertain factors; against "
             f"{document['counterfactual']['scenario']}"]
    for name, r in document["results"].items():
        npv = r["npv"]
        p = npv["percentiles"]
        lines.append(f"  {name}: NPV median {money(p['p50'])} (90% range {money(p['p5'])} "
                     f"to {money(p['p95'])}); P(NPV > 0) = "
                     f"{r['probability_beats_counterfactual']:.3f}; payback within the "
                     f"Parliament {r['payback']['probability_within_parliament']:.3f}")
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _figures(job: en.EnsembleJob, summary: en.Summary, partial: en.Partial, scenarios,
             counterfactual) -> dict:
    from tpsim.present.charts import fan_chart, series_title, source_line

    source = source_line(scenarios, counterfactual,
                         note=f"{job.n_runs:,} runs, seed {job.seed}, {job.sampler} sampling")
    pct = list(summary.percentiles)
    i5, i25, i50, i75, i95 = (pct.index(p) for p in (5.0, 25.0, 50.0, 75.0, 95.0))
    months = np.arange(1, job.n_months + 1)
    start = counterfactual.data["time"]["start"]
    figures = {}
    cf_rows = {name: t for t, (name, k, diff) in enumerate(job.tracked) if k == 0}
    for t, (name, k, diff) in enumerate(job.tracked):
        if k == 0:
            continue
        q = summary.quantiles[t]
        bands = {"5th to 95th percentile": (q[:, i5], q[:, i95]),
                 "25th to 75th percentile": (q[:, i25], q[:, i75])}
        scale, fmt, ylabel = _units(name)
        words = series_title(name, scenarios[0] if scenarios else None)
        if diff:
            title = f"{words}: difference against the counterfactual"
            stem = f"fan_{_slug(name)}_{_slug(job.names[k])}_vs_{_slug(job.names[0])}"
            reference = None
        else:
            title = f"{words}: range of outcomes"
            stem = f"fan_{_slug(name)}_{_slug(job.names[k])}"
            reference = (f"{job.names[0]} (median)", summary.quantiles[cf_rows[name]][:, i50])
        figures[stem] = fan_chart(months, bands, q[:, i50], title=title, ylabel=ylabel,
                                  scale=scale, value_format=fmt, reference=reference,
                                  start=start, source=source,
                                  subtitle=(f"{job.names[k]} minus {job.names[0]}, paired runs; "
                                            if diff else f"{job.names[k]}; ")
                                  + f"percentiles over {job.n_runs:,} runs, each within its "
                                    f"stated error bound (quantiles.csv)")
    if len(job.models) > 1:
        figures.update(_histograms(job, summary, partial, source))
    return figures


def _units(name: str) -> tuple[float, str, str]:
    if name.startswith(("spend", "value", "budget", "overhead", "contribution", "capture",
                        "pool.spend", "pool.reinvested")):
        return 12.0 / 1e6, "pounds_m", "£m a year"
    if name.startswith(("reserves", "pool.balance")):
        return 1e-6, "pounds_m", "£m"
    return 1.0, "thousands", name.split(".")[0].replace("_", " ")


def _histograms(job: en.EnsembleJob, summary: en.Summary, partial: en.Partial, source: str):
    """NPV, BCR and payback distributions of every scenario, from the merged histograms."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from tpsim.present import style as st

    out = {}
    labels = job.metric_labels
    colours = st.TOL_BRIGHT
    for metric, xlabel, scale in (("npv", "Net present value, £m", 1e-6),
                                  ("bcr", "Benefit-cost ratio", 1.0)):
        with st.style_context():
            fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 3.2), layout="constrained")
            FigureCanvasAgg(fig)
            ax = fig.subplots()
            for s, k in enumerate(job.scenario_indices):
                i = labels.index(f"{metric}|{job.names[k]}")
                centres, density = _coarse(partial.metric_hist[i], job.edges.metric_low[i],
                                           job.edges.metric_width[i], summary.metrics[job.names[k]][metric])
                if centres is None:
                    continue
                ax.step(centres * scale, density, where="mid", color=colours[s % len(colours)],
                        linewidth=1.6, label=job.names[k])
                ax.fill_between(centres * scale, density, step="mid", alpha=0.15,
                                color=colours[s % len(colours)])
            ax.axvline(0.0 if metric == "npv" else 1.0, color=st.TEXT_COLOUR, linewidth=1.0,
                       linestyle=(0, (3, 2)))
            ax.set_xlabel(xlabel)
            ax.set_ylabel("Share of runs")
            ax.legend(loc="upper right", fontsize=7)
            frame(fig, f"Distribution of the {xlabel.split(',')[0].lower()} against "
                       f"{job.names[0]} ({job.n_runs:,} runs)", source)
        out[f"hist_{metric}"] = fig
    with st.style_context():
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 3.2), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        M = job.n_months
        width = 0.8 / max(1, len(job.models) - 1)
        for s, k in enumerate(job.scenario_indices):
            counts = partial.payback[s]
            x = np.append(np.arange(M + 1), M + 2) + (s - (len(job.models) - 2) / 2) * width
            ax.bar(x, counts / partial.n_runs, width=width, color=colours[s % len(colours)],
                   label=job.names[k])
        ticks = list(range(0, M + 1, 12 if M > 24 else 6)) + [M + 2]
        ax.set_xticks(ticks, [str(t) for t in ticks[:-1]] + ["never"])
        ax.set_xlabel("Payback month (0 = never a net outlay)")
        ax.set_ylabel("Share of runs")
        ax.legend(loc="upper center", fontsize=7)
        frame(fig, f"When the investment pays back ({job.n_runs:,} runs)", source)
    out["hist_payback"] = fig
    return out


def _coarse(counts: np.ndarray, low: float, width: float, stats: dict, target: int = 60):
    """Display bins (about ``target``) covering the 0.5th..99.5th percentile range."""
    total = counts.sum()
    if total == 0:
        return None, None
    regular = counts[1:-1]
    nb = regular.size
    cum = np.cumsum(regular)
    lo_i = int(np.searchsorted(cum, 0.005 * total))
    hi_i = int(np.searchsorted(cum, 0.995 * total)) + 1
    lo_i, hi_i = max(0, lo_i), min(nb, max(hi_i, lo_i + 1))
    step = max(1, (hi_i - lo_i) // target)
    edges = np.arange(lo_i, hi_i + step, step)
    edges = edges[edges <= nb]
    sums = np.add.reduceat(regular[lo_i:], edges[:-1] - lo_i)[: len(edges) - 1]
    centres = low + (edges[:-1] + step / 2.0) * width
    return centres, sums / total


def frame(fig, title: str, source: str) -> None:
    """Title at the top left and a wrapped source line at the foot, with the axes laid out in
    between (for the charts drawn here rather than in tpsim.present.charts)."""
    import textwrap
    from tpsim.present import style as st

    height = fig.get_figheight()
    lines = textwrap.wrap(source, 150) or [source]
    fig.text(0.005, 1 - 0.06 / height, title, ha="left", va="top", fontsize=10,
             fontweight="bold", color=st.TEXT_COLOUR)
    fig.text(0.005, 0.04 / height, "\n".join(lines), ha="left", va="bottom", fontsize=6,
             color=st.SOURCE_COLOUR)
    bottom = (0.1 + 0.11 * len(lines)) / height
    fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom - 0.34 / height))
