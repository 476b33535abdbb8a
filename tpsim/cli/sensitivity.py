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
import numpy as np

from tpsim import __version__
from tpsim.analysis import ensemble as en
from tpsim.analysis import sensitivity as sa
from tpsim.errors import TpsimError
from tpsim.output import csv_text, json_text, atomic_write_text
from tpsim.present.wording import money
from tpsim.cli.options import (against_option, dt_option, horizon_option, load_timed,
                               optimism_bias_option, out_dir, out_option, scenario_argument,
                               seed_option)

_OUTPUT_TEXT = {
    "npv": ("Net present value against the counterfactual (fiscal, £)", "Net present value, £m",
            1e-6),
    "reactive_spend": ("Reactive spend of the scenario in month {month} (£ in the month)",
                       "Reactive spend in month {month}, £m a year", 12e-6),
}


@click.command()
@scenario_argument
@against_option("The counterfactual the NPV is measured against (paired draws).")
@click.option("--method", type=click.Choice(["oat", "sobol"]), default="oat", show_default=True,
              help="oat: one-at-a-time swings (tornado); sobol: first-order and total indices.")
@click.option("--swing", type=click.FloatRange(0.0, 0.5, max_open=True), default=0.05,
              show_default=True, help="oat: each parameter from this quantile to 1 - swing.")
@click.option("--n", "n_base", type=click.IntRange(min=2), default=512, show_default=True,
              help="sobol: base sample, a power of two (runs = n x (factors + 2)).")
@seed_option()
@click.option("--month", type=click.IntRange(min=1), default=60, show_default=True,
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
    labels = job.plan.labels
    document = {
        "tpsim_version": __version__,
        "scenario": {"scenario": sc.name, "file": scenario, "scenario_hash": sc.hash},
        "counterfactual": {"scenario": cf.name, "file": counterfactual, "scenario_hash": cf.hash},
        "method": method,
        "outputs": {k: v[0].format(month=month) for k, v in _OUTPUT_TEXT.items()},
        "factors": [{"factor": f.label, "distribution": _describe(job, j)}
                    for j, f in enumerate(job.plan.factors)],
    }
    files: dict[str, str] = {}
    figures = {}
    from tpsim.present.charts import source_line, tornado_chart
    from tpsim.present.charts_uncertainty import sobol_figure
    source = source_line([sc], cf)
    if method == "oat":
        result = sa.one_at_a_time(evaluate, d, swing)
        document["swing"] = swing
        document["runs"] = 1 + 2 * d
        document["central"] = result["base"]
        rows = []
        document["swings"] = {}
        for name in sa.OUTPUTS:
            low, high = result["low"][name], result["high"][name]
            order = np.argsort(-np.abs(high - low), kind="stable")
            document["swings"][name] = [
                {"factor": labels[j], "low_value": _value(job, j, swing),
                 "high_value": _value(job, j, 1 - swing), "output_at_low": float(low[j]),
                 "output_at_high": float(high[j]), "swing": float(abs(high[j] - low[j]))}
                for j in order]
            for j in order:
                rows.append([name, labels[j], _value(job, j, swing), _value(job, j, 1 - swing),
                             float(result["base"][name]), float(low[j]), float(high[j]),
                             float(abs(high[j] - low[j]))])
            title, xlabel, scale = _OUTPUT_TEXT[name]
            figures[f"tornado_{name}"] = tornado_chart(
                labels, low * scale / 1e-6, high * scale / 1e-6, result["base"][name] * scale / 1e-6,
                title=f"What {sc.name}'s {'NPV' if name == 'npv' else 'reactive spend'} is most "
                      f"sensitive to", xlabel=xlabel.format(month=month),
                low_label=f"Parameter at its {swing * 100:g}th percentile",
                high_label=f"Parameter at its {100 - swing * 100:g}th percentile",
                subtitle=title.format(month=month) + "; every other parameter at its median",
                source=source)
        files["tornado.csv"] = csv_text(["output", "factor", "low_value", "high_value", "central",
                                         "output_at_low", "output_at_high", "swing"], rows)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sa.sobol(evaluate, d, sa.OUTPUTS, n=n_base, seed=seed)
        document["n"] = n_base
        document["runs"] = result["runs"]
        document["indices"] = {}
        rows = []
        for name in sa.OUTPUTS:
            r = result[name]
            entries = []
            for j in range(d):
                entry = {"factor": labels[j], "first_order": float(r["first_order"][j]),
                         "total_order": float(r["total_order"][j]),
                         "first_order_ci95": [float(r["first_order_ci"][0][j]), float(r["first_order_ci"][1][j])],
                         "total_order_ci95": [float(r["total_order_ci"][0][j]), float(r["total_order_ci"][1][j])]}
                entries.append(entry)
                rows.append([name, labels[j], entry["first_order"], entry["total_order"],
                             *entry["first_order_ci95"], *entry["total_order_ci95"]])
            document["indices"][name] = sorted(entries, key=lambda e: -np.nan_to_num(e["total_order"]))
            figures[f"sobol_{name}"] = sobol_figure(labels, r, _OUTPUT_TEXT[name][0].format(month=month),
                                                     sc.name, source, result["runs"])
        files["sobol.csv"] = csv_text(["output", "factor", "first_order", "total_order",
                                       "first_order_ci_low", "first_order_ci_high",
                                       "total_order_ci_low", "total_order_ci_high"], rows)
    files["sensitivity.json"] = json_text(document)
    folder = out_dir(out, f"sensitivity/{sc.name}")
    for name, text in files.items():
        atomic_write_text(folder / name, text)
    from tpsim.present.charts import save_figure
    for stem, fig in figures.items():
        save_figure(fig, folder, stem, formats=("png",))
    click.echo(_text(document))
    click.echo(f"wrote {', '.join(str(folder / n) for n in files)} and {len(figures)} charts")


def _describe(job: en.EnsembleJob, j: int) -> str:
    for a in job.plan.assignments[1]:
        if a.factor == j:
            return a.dist.describe() + (" (relative)" if a.relative else "")
    return ""


def _value(job: en.EnsembleJob, j: int, u: float) -> float | None:
    """The scenario's parameter value (or multiplier, for a relative draw) at quantile u."""
    for a in job.plan.assignments[1]:
        if a.factor == j:
            return float(a.dist.ppf(np.array([u]))[0])
    return None


def _text(document: dict) -> str:
    lines = [f"sensitivity ({document['method']}): {document['scenario']['scenario']} against "
             f"{document['counterfactual']['scenario']}, {document['runs']} runs"]
    if document["method"] == "oat":
        for e in document["swings"]["npv"][:5]:
            lines.append(f"  NPV swing {money(e['swing'])}: {e['factor']}")
    else:
        for e in document["indices"]["npv"][:5]:
            lines.append(f"  NPV: S1 {e['first_order']:.3f}, ST {e['total_order']:.3f}: {e['factor']}")
    return "\n".join(lines)
