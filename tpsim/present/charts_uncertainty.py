"""The charts of an ensemble (fan charts of tracked series, distributions of NPV, BCR and
payback) and of a Sobol sensitivity analysis, as matplotlib Figures (no file is written
here). Money on the axes in £m; months 1 = the first simulated month."""
from __future__ import annotations

import re

import numpy as np


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def ensemble_figures(job, summary, partial, scenarios, counterfactual) -> dict:
    from tpsim.present.charts import fan_chart, series_title, source_line
    from tpsim.present.labels import scenario_label

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
            reference = (f"{scenario_label(job.names[0])} (median)",
                         summary.quantiles[cf_rows[name]][:, i50])
        figures[stem] = fan_chart(months, bands, q[:, i50], title=title, ylabel=ylabel,
                                  scale=scale, value_format=fmt, reference=reference,
                                  start=start, source=source,
                                  subtitle=(f"{scenario_label(job.names[k])} minus "
                                            f"{scenario_label(job.names[0])}, paired runs; "
                                            if diff else f"{scenario_label(job.names[k])}; ")
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
    """NPV, BCR and payback distributions of every scenario, from the merged histograms. The
    NPV and BCR axes cover the 0.5th to 99.5th percentiles of the runs; the subtitle gives the
    full range and the share of runs outside the axis."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from tpsim.present import style as st
    from tpsim.present.labels import scenario_label

    out = {}
    labels = job.metric_labels
    colours = st.TOL_BRIGHT
    cf_words = scenario_label(job.names[0])
    for metric, xlabel, scale in (("npv", "Fiscal net present value, £m", 1e-6),
                                  ("bcr", "Benefit-cost ratio", 1.0)):
        ranges = []
        with st.style_context():
            fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 3.2), dpi=st.PNG_DPI, layout="constrained")
            FigureCanvasAgg(fig)
            ax = fig.subplots()
            for s, k in enumerate(job.scenario_indices):
                i = labels.index(f"{metric}|{job.names[k]}")
                stats = summary.metrics[job.names[k]][metric]
                centres, density = _coarse(partial.metric_hist[i], job.edges.metric_low[i],
                                           job.edges.metric_width[i], stats)
                if centres is None:
                    continue
                ax.step(centres * scale, density, where="mid", color=colours[s % len(colours)],
                        linewidth=1.6, label=scenario_label(job.names[k]))
                ax.fill_between(centres * scale, density, step="mid", alpha=0.15,
                                color=colours[s % len(colours)])
                fmt = st.pounds_m if metric == "npv" else (lambda v: f"{v:.2f}")
                if stats.get("min") is not None and stats.get("max") is not None:
                    ranges.append(f"{scenario_label(job.names[k])} {fmt(stats['min'] * scale)} "
                                  f"to {fmt(stats['max'] * scale)}")
            ax.axvline(0.0 if metric == "npv" else 1.0, color=st.TEXT_COLOUR, linewidth=1.0,
                       linestyle=(0, (3, 2)))
            ax.set_xlabel(xlabel)
            ax.set_ylabel("Share of runs per bar")
            if metric == "npv":
                ax.xaxis.set_major_formatter(st.pounds_m_formatter())
            ax.legend(loc="best", fontsize=7)
            subtitle = ("The axis shows the 0.5th to 99.5th percentile of the runs (1% of runs "
                        "lie outside it); every run's range: " + "; ".join(ranges) + "."
                        if ranges else None)
            frame(fig, f"{xlabel.split(',')[0]} over {job.n_runs:,} runs, against {cf_words}",
                  source, subtitle)
        out[f"hist_{metric}"] = fig
    with st.style_context():
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 3.2), dpi=st.PNG_DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        M = job.n_months
        step = 12 if M > 24 else 6
        never = M + step  # "never" one tick step past the horizon, so the labels do not collide
        n_opt = max(1, len(job.models) - 1)
        width = 0.8 / n_opt
        wide = 0.7 * step / n_opt  # the "never" bars, one tick step wide in all
        for s, k in enumerate(job.scenario_indices):
            counts = partial.payback[s] / partial.n_runs
            offset = s - (n_opt - 1) / 2
            colour = colours[s % len(colours)]
            ax.bar(np.arange(M + 1) + offset * width, counts[:M + 1], width=width, color=colour,
                   label=scenario_label(job.names[k]))
            ax.bar([never + offset * wide], counts[M + 1:], width=wide, color=colour)
        ticks = list(range(0, M + 1, step))
        ax.set_xticks(ticks + [never], [str(t) for t in ticks] + [f"after {M}"])
        ax.axvline(M + step / 2, color="#999999", linewidth=0.8, linestyle=(0, (2, 2)))
        ax.set_xlim(-step / 2, never + step / 2)
        ax.set_xlabel(f"Payback month (0 = never a net outlay; after {M} = not within the horizon)")
        ax.set_ylabel("Share of runs")
        ax.legend(loc="upper center", fontsize=7)
        frame(fig, f"When the investment pays back ({job.n_runs:,} runs)", source)
    out["hist_payback"] = fig
    return out


def _coarse(counts: np.ndarray, low: float, width: float, stats: dict, target: int = 60):
    """Display bins (about ``target``) covering the 0.5th..99.5th percentile range: centres and
    the share of all runs in each display bin. Runs outside the range are left out (not piled
    into the end bins); a last bin narrower than the others is scaled to the common width."""
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
    starts = np.arange(lo_i, hi_i, step)
    sums = np.add.reduceat(regular[lo_i:hi_i], starts - lo_i)
    widths = np.minimum(starts + step, hi_i) - starts
    centres = low + (starts + widths / 2.0) * width
    return centres, sums * (step / widths) / total


def frame(fig, title: str, source: str, subtitle: str | None = None) -> None:
    """Title (and subtitle) at the top left and the source line at the foot, with the axes laid
    out in between, by the same framing as every other chart
    (:func:`tpsim.present.charts._finish`)."""
    from tpsim.present.charts import _finish

    _finish(fig, title, source, subtitle)


def sobol_figure(labels, r, title: str, scenario: str, source: str, runs: int):
    """Sobol indices of one output: total (ST, with its 95% bootstrap interval) and first-order
    (S1) per factor, largest total at the top. ``labels`` are the factors in words; the axis
    runs to a little past the largest interval, not to a fixed 1."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from tpsim.present import style as st

    order = np.argsort(-np.nan_to_num(r["total_order"]), kind="stable")[::-1]
    with st.style_context():
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 1.5 + 0.3 * len(labels)), dpi=st.PNG_DPI,
                     layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        y = np.arange(len(order))
        first, total = r["first_order"][order], r["total_order"][order]
        upper = np.asarray(r["total_order_ci"][1], dtype=float)[order]
        t_err = np.abs(np.vstack([total - r["total_order_ci"][0][order], upper - total]))
        ax.barh(y + 0.2, total, height=0.38, color=st.OKABE_ITO["blue"], label="Total index (ST)",
                xerr=np.nan_to_num(t_err), error_kw={"linewidth": 0.8})
        ax.barh(y - 0.2, first, height=0.38, color=st.OKABE_ITO["orange"],
                label="First-order index (S1)")
        ax.set_yticks(y, [labels[k] for k in order], fontsize=7)
        finite = np.concatenate([total[np.isfinite(total)], upper[np.isfinite(upper)]])
        top = float(finite.max()) if finite.size else 1.0
        ax.set_xlim(min(0.0, float(np.nanmin(first)) if np.isfinite(first).any() else 0.0),
                    min(1.05, max(0.05, top * 1.15)))
        ax.set_xlabel("Share of the output's variance")
        ax.legend(loc="lower right", fontsize=7)
        frame(fig, f"Sobol indices: {scenario}", source,
              f"{title}; {runs:,} runs; whiskers: 95% bootstrap interval of ST. A factor's ST is "
              "its share of the variance including its interactions; S1 without them.")
    return fig


def sensitivity_figures(job, scenario, counterfactual, method: str, result: dict, *, month: int,
                        swing: float) -> dict:
    """The charts of ``tpsim sensitivity``: a tornado per output (``method`` "oat") or the
    Sobol indices per output ("sobol"); outputs in £m (reactive spend as £m a year)."""
    from tpsim.analysis.sensitivity import OUTPUTS
    from tpsim.present.charts import source_line, tornado_chart
    from tpsim.present.wording import SENSITIVITY_OUTPUTS

    from tpsim.present.labels import parameter_label, scenario_label

    sc = scenario
    labels = [parameter_label(sc, lab) for lab in job.plan.labels]
    words = scenario_label(sc)
    source = source_line([sc], counterfactual)
    figures = {}
    for name in OUTPUTS:
        title, xlabel, scale = SENSITIVITY_OUTPUTS[name]
        if method == "oat":
            low, high = result["low"][name], result["high"][name]
            figures[f"tornado_{name}"] = tornado_chart(
                labels, low * scale / 1e-6, high * scale / 1e-6, result["base"][name] * scale / 1e-6,
                title=f"What the {'fiscal NPV' if name == 'npv' else 'reactive spend'} of {words} "
                      "is most sensitive to", xlabel=xlabel.format(month=month),
                low_label=f"Parameter at its {swing * 100:g}th percentile",
                high_label=f"Parameter at its {100 - swing * 100:g}th percentile",
                subtitle=title.format(month=month) + "; every other parameter at its median",
                source=source)
        else:
            figures[f"sobol_{name}"] = sobol_figure(labels, result[name], title.format(month=month),
                                                    words, source, result["runs"])
    return figures
