"""The charts of ``tpsim calibrate``: per matched series, the observed points against the
simulation before and after calibration, with the fit statistics (written as PNG files)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tpsim.config.localdata import month_label
from tpsim.present.wording import fixed, sig


def _chart_name(series: str) -> str:
    """The file stem of a series' chart (the series name, e.g. ``activity.ae_older``)."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in series)


def write_series_panel(folder: Path, series: str, title: str, subtitle: str, source: str,
                       labels, observed_months: np.ndarray, observed: np.ndarray,
                       draw_simulated, height: float = 3.6) -> list[Path]:
    """One PNG ``<series>.png`` (stem from :func:`_chart_name`) of a matched series over the
    whole horizon: what ``draw_simulated(ax)`` draws (the simulation: lines or bands), the
    observed points on top, month labels (``labels[m - 1]`` for model month ``m``) on the x
    axis, ``title`` with ``subtitle`` (the fit's figures) above and tpsim's source line at
    the foot. The fitted-against-observed panel of both the least-squares and the Bayesian
    calibration."""
    from tpsim.present import style
    from tpsim.present.charts import save_figure

    plt = style.plt
    n_months = len(labels)
    with style.style_context():
        fig, ax = plt.subplots(figsize=(style.A4_TEXT_WIDTH_IN, height))
        draw_simulated(ax)
        ax.plot(observed_months, observed, "o", color=style.OKABE_ITO["vermillion"],
                markersize=3.0, label="observed (local data)")
        step = 12 if n_months > 24 else 3
        ticks = np.arange(1, n_months + 1, step)
        ax.set_xticks(ticks)
        ax.set_xticklabels([labels[int(m) - 1] for m in ticks], rotation=45, ha="right")
        ax.yaxis.set_major_formatter(style.thousands_formatter())
        ax.set_title(title, loc="left", pad=16)
        ax.text(0.0, 1.015, subtitle, transform=ax.transAxes, fontsize=7.5,
                color=style.TEXT_COLOUR, va="bottom")
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
        fig.text(0.01, 0.005, source, fontsize=6, color=style.SOURCE_COLOUR, va="bottom")
        fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    written = save_figure(fig, folder, _chart_name(series), formats=("png",))
    plt.close(fig)
    return written


def write_fit_charts(folder: Path, result, scenario, data_path: str) -> list[Path]:
    """One PNG per matched series: observed points, the simulation before calibration (dashed)
    and after (solid) over the whole horizon, the fitted months shaded, fit statistics in the
    subtitle, and tpsim's source line at the foot."""
    from tpsim.present import style
    from tpsim.present.charts import source_line

    start = scenario.time.start
    source = source_line([scenario], note=f"observed: {data_path}")
    written = []
    for target in result.problem.targets:
        traj = result.trajectories[target.name]
        months = np.arange(1, traj.shape[1] + 1)
        stats = result.series[target.name]["fitted"]

        def draw(ax, target=target, traj=traj, months=months):
            first, last = int(target.months.min()), int(target.months.max())
            ax.axvspan(first - 0.5, last + 0.5, color=style.GRID_COLOUR, alpha=0.35,
                       linewidth=0, label="months fitted")
            ax.plot(months, traj[0], color=style.COUNTERFACTUAL_COLOUR, linestyle="--",
                    linewidth=1.1, label="simulated, before calibration")
            ax.plot(months, traj[1], color=style.OKABE_ITO["blue"], linewidth=1.8,
                    label="simulated, calibrated")

        subtitle = (f"calibrated fit: MAPE {sig(stats['mape_percent'], 3)}%, RMSE "
                    f"{sig(stats['rmse'], 4)}, R\u00b2 {fixed(stats['r_squared'], 3)}; "
                    f"Theil U^M {fixed(stats['theil_UM'], 2)}, U^S "
                    f"{fixed(stats['theil_US'], 2)}, U^C {fixed(stats['theil_UC'], 2)}")
        labels = [month_label(start, int(m)) for m in months]
        written += write_series_panel(folder, target.name,
                                      f"{target.name}: observed and simulated", subtitle,
                                      source, labels, target.months, target.observed, draw)
    return written
