"""The charts of an ensemble (fan charts of tracked series, distributions of NPV, BCR and
payback) and of a Sobol sensitivity analysis, as matplotlib Figures (no file is written
here). Money on the axes in £m; months 1 = the first simulated month."""
from __future__ import annotations

import re
import textwrap

import numpy as np


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def ensemble_figures(job, summary, partial, scenarios, counterfactual) -> dict:
    from tpsim.present.charts import fan_chart, series_title, source_line

    source = source_line(scenarios, counterfactual,
                         note=f"{job.n_runs:,} runs, seed {job.seed}, {job.sampler} sampling")
    pct = list(summary.percentiles)
    i5, i25, i50, i75, i95 = (pct.index(p) for p in (5.0, 25.0, 50.0, 75.0, 95.0))
    months = np.arange(1, job.n_months + 1)
    start = counterfactual.time.start
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


def _histograms(job, summary, partial, source: str):
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


def sobol_figure(labels, r, title: str, scenario: str, source: str, runs: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from tpsim.present import style as st

    order = np.argsort(-np.nan_to_num(r["total_order"]), kind="stable")[::-1]
    with st.style_context():
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 1.4 + 0.28 * len(labels)), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        y = np.arange(len(order))
        first, total = r["first_order"][order], r["total_order"][order]
        t_err = np.abs(np.vstack([total - r["total_order_ci"][0][order],
                                  r["total_order_ci"][1][order] - total]))
        ax.barh(y + 0.2, total, height=0.38, color=st.OKABE_ITO["blue"], label="Total index (ST)",
                xerr=np.nan_to_num(t_err), error_kw={"linewidth": 0.8})
        ax.barh(y - 0.2, first, height=0.38, color=st.OKABE_ITO["orange"],
                label="First-order index (S1)")
        ax.set_yticks(y, [labels[k] for k in order], fontsize=7)
        ax.set_xlim(0, max(1.0, float(np.nanmax(total)) * 1.05) if np.isfinite(total).any() else 1.0)
        ax.set_xlabel("Share of output variance")
        ax.legend(loc="lower right", fontsize=7)
        ax.set_title(textwrap.fill(f"{title}; {runs:,} runs; whiskers: 95% bootstrap interval "
                                   f"of ST", 100), fontsize=7.5, loc="left", fontweight="normal")
        frame(fig, f"Sobol indices: {scenario}", source)
    return fig


def sensitivity_figures(job, scenario, counterfactual, method: str, result: dict, *, month: int,
                        swing: float) -> dict:
    """The charts of ``tpsim sensitivity``: a tornado per output (``method`` "oat") or the
    Sobol indices per output ("sobol"); outputs in £m (reactive spend as £m a year)."""
    from tpsim.analysis.sensitivity import OUTPUTS
    from tpsim.present.charts import source_line, tornado_chart
    from tpsim.present.wording import SENSITIVITY_OUTPUTS

    sc = scenario
    labels = job.plan.labels
    source = source_line([sc], counterfactual)
    figures = {}
    for name in OUTPUTS:
        title, xlabel, scale = SENSITIVITY_OUTPUTS[name]
        if method == "oat":
            low, high = result["low"][name], result["high"][name]
            figures[f"tornado_{name}"] = tornado_chart(
                labels, low * scale / 1e-6, high * scale / 1e-6, result["base"][name] * scale / 1e-6,
                title=f"What {sc.name}'s {'NPV' if name == 'npv' else 'reactive spend'} is most "
                      f"sensitive to", xlabel=xlabel.format(month=month),
                low_label=f"Parameter at its {swing * 100:g}th percentile",
                high_label=f"Parameter at its {100 - swing * 100:g}th percentile",
                subtitle=title.format(month=month) + "; every other parameter at its median",
                source=source)
        else:
            figures[f"sobol_{name}"] = sobol_figure(labels, result[name], title.format(month=month),
                                                    sc.name, source, result["runs"])
    return figures
