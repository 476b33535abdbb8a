"""The charts of a Bayesian calibration and of a learning update (PNG files):

* ``marginals.png``: each parameter's posterior histogram, its prior density and the
  posterior 90% interval;
* ``pairs.png``: every pair of parameters' joint draws (the correlations the data induce);
* ``predictive_<series>.png``: the posterior predictive band of each matched series over the
  horizon (the model's 90% band, and the wider band a new observation would fall in) with the
  observed points;
* ``learnt.png`` (``tpsim learn``): each parameter's 90% interval before and after the new
  months.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tpsim.present.charts_calibration import write_series_panel
from tpsim.present.wording import sig

__all__ = ["write_bayes_charts", "write_learning_chart", "short_names"]


def short_names(paths) -> dict[str, str]:
    """Each dotted path's shortest ending of at least two parts that no other path shares
    (``crisis.escalation``; ``ae_older.utilisation.crisis`` beside
    ``emergency_admissions_older.utilisation.crisis``), for small panels."""
    paths = list(paths)
    out = {}
    for path in paths:
        parts = path.split(".")
        for k in range(min(2, len(parts)), len(parts) + 1):
            tail = ".".join(parts[-k:])
            if sum(p == tail or p.endswith("." + tail) for p in paths) == 1:
                break
        out[path] = tail
    return out


def write_bayes_charts(folder: Path, fit, scenario, data_path: str) -> list[Path]:
    """The marginals, pairs and predictive charts of a :class:`~tpsim.analysis.learning.BayesFit`."""
    source = _calibration_source(scenario, data_path)
    written = _write_marginals(folder, fit, source)
    if len(fit.posterior.names) >= 2:
        written += _write_pairs(folder, fit.posterior)
    written += _write_predictive(folder, fit, source)
    return written


def _calibration_source(scenario, data_path: str) -> str:
    """The source line of a calibration chart: the scenario and the observed data file."""
    from tpsim.present.charts import source_line
    return source_line([scenario], note=f"observed: {data_path}")


def _write_marginals(folder: Path, fit, source: str) -> list[Path]:
    """``marginals.png``: each parameter's weighted posterior histogram (in its own units),
    its prior density (dashed) and the posterior 90% interval."""
    from tpsim.present import style
    from tpsim.present.charts import save_figure

    plt = style.plt
    post = fit.posterior
    names = list(post.names)
    short = short_names(names)
    p = len(names)
    cols = min(3, p)
    rows = int(np.ceil(p / cols))
    with style.style_context():
        fig, axes = plt.subplots(rows, cols, figsize=(style.A4_TEXT_WIDTH_IN, 2.2 * rows + 0.6),
                                 squeeze=False)
        q = post.quantile([0.05, 0.95])
        for j, name in enumerate(names):
            ax = axes[j // cols][j % cols]
            x = post.draws[:, j]
            ax.hist(x, bins=40, weights=post.normalised_weights, density=True,
                    color=style.OKABE_ITO["blue"], alpha=0.6, label="posterior")
            grid = np.linspace(min(x.min(), q[0, j]), max(x.max(), q[1, j]), 200)
            density = _prior_density(fit.priors[j], grid)
            if density is not None:
                ax.plot(grid, density, color=style.COUNTERFACTUAL_COLOUR, linestyle="--",
                        linewidth=1.0, label="prior")
            ax.axvline(q[0, j], color=style.OKABE_ITO["vermillion"], linewidth=0.8)
            ax.axvline(q[1, j], color=style.OKABE_ITO["vermillion"], linewidth=0.8,
                       label="90% interval")
            ax.set_title(short[name], fontsize=8, loc="left")
            ax.set_yticks([])
            ax.tick_params(axis="x", labelsize=6.5)
        for j in range(p, rows * cols):
            axes[j // cols][j % cols].axis("off")
        axes[0][0].legend(fontsize=6.5, loc="upper left", framealpha=0.85)
        fig.suptitle("Posterior of each parameter (histogram) against its prior (dashed)",
                     x=0.01, ha="left", fontsize=9)
        fig.text(0.01, 0.005, source, fontsize=6, color=style.SOURCE_COLOUR, va="bottom")
        fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    written = save_figure(fig, folder, "marginals", formats=("png",))
    plt.close(fig)
    return written


def _prior_density(prior, grid: np.ndarray) -> np.ndarray | None:
    """The prior's density on ``grid`` (per unit of the parameter), normalised over its bounds;
    None where it cannot be drawn (not finite, zero, or no mass within the bounds)."""
    density = np.exp(prior.logpdf(grid))
    if not (np.all(np.isfinite(density)) and density.max() > 0):
        return None
    full = np.linspace(prior.lower, prior.upper, 2001)
    mass = np.trapezoid(np.exp(prior.logpdf(full)), full)
    return density / mass if mass > 0 else None


def _write_pairs(folder: Path, post) -> list[Path]:
    """``pairs.png``: every pair of parameters' joint draws (up to 1,500, resampled by weight
    with a fixed seed) with their correlation, and each parameter's histogram on the diagonal."""
    from tpsim.analysis.bayes import resample_indices
    from tpsim.present import style
    from tpsim.present.charts import save_figure

    plt = style.plt
    names = list(post.names)
    short = short_names(names)
    p = len(names)
    show = resample_indices(post.normalised_weights, min(post.n, 1500), np.random.default_rng(0))
    with style.style_context():
        size = min(style.A4_TEXT_WIDTH_IN, 1.3 * p)
        fig, axes = plt.subplots(p, p, figsize=(size, size), squeeze=False)
        for i in range(p):
            for j in range(p):
                ax = axes[i][j]
                ax.set_xticks([])
                ax.set_yticks([])
                if i == j:
                    ax.hist(post.draws[show, j], bins=30, color=style.OKABE_ITO["blue"],
                            alpha=0.6)
                elif i > j:
                    ax.plot(post.draws[show, j], post.draws[show, i], ".", markersize=1.0,
                            color=style.OKABE_ITO["blue"], alpha=0.4)
                    r = np.corrcoef(post.draws[show, j], post.draws[show, i])[0, 1]
                    ax.text(0.02, 0.98, f"r {r:+.2f}", transform=ax.transAxes, fontsize=5.5,
                            va="top")
                else:
                    ax.axis("off")
                if i == p - 1:
                    ax.set_xlabel(short[names[j]], fontsize=5.5)
                if j == 0:
                    ax.set_ylabel(short[names[i]], fontsize=5.5)
        fig.suptitle("Joint posterior draws: pairs of parameters", x=0.01, ha="left",
                     fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.96))
    written = save_figure(fig, folder, "pairs", formats=("png",))
    plt.close(fig)
    return written


def _write_predictive(folder: Path, fit, source: str) -> list[Path]:
    """``predictive_<series>.png`` for each matched series: the model's 90% band, the wider
    band a new observation would fall in, the posterior median and the observed points."""
    from tpsim.present import style

    pred = fit.predictive
    months = pred.months
    written: list[Path] = []
    for t in fit.problem.targets:
        model = pred.quantiles(t.name, (0.05, 0.5, 0.95))
        noisy = pred.quantiles(t.name, (0.05, 0.95), noisy=True)
        cover = pred.coverage(0.9)[t.name]

        def draw(ax, model=model, noisy=noisy):
            ax.fill_between(months, noisy[0], noisy[1], color=style.OKABE_ITO["sky_blue"],
                            alpha=0.25, linewidth=0, label="90%: a new observation")
            ax.fill_between(months, model[0], model[2], color=style.OKABE_ITO["blue"],
                            alpha=0.35, linewidth=0, label="90%: the model")
            ax.plot(months, model[1], color=style.OKABE_ITO["blue"], linewidth=1.5,
                    label="posterior median")

        written += write_series_panel(
            folder, f"predictive_{t.name}", f"{t.name}: posterior predictive",
            f"{sig(100 * cover, 3)}% of the observations lie in the 90% band of a new "
            f"observation", source, pred.labels, t.months, t.observed, draw, height=3.4)
    return written



def write_learning_chart(folder: Path, learning, scenario) -> list[Path]:
    """``learnt.png``: each parameter's posterior median and 90% interval before and after
    the new months, scaled by the interval before (so parameters in £ and in rates share an
    axis)."""
    from tpsim.present import style
    from tpsim.present.charts import save_figure, source_line

    plt = style.plt
    moves = learning.moves
    names = list(moves)
    with style.style_context():
        fig, ax = plt.subplots(figsize=(style.A4_TEXT_WIDTH_IN, 0.45 * len(names) + 1.4))
        for i, name in enumerate(names):
            b, a = moves[name]["before"], moves[name]["after"]
            centre = b["median"]
            half = (b["interval_90"][1] - b["interval_90"][0]) / 2 or 1.0
            y = len(names) - 1 - i
            for (lo, hi), med, dy, colour, label in (
                    (b["interval_90"], b["median"], 0.12, style.COUNTERFACTUAL_COLOUR, "before"),
                    (a["interval_90"], a["median"], -0.12, style.OKABE_ITO["blue"], "after")):
                ax.plot([(lo - centre) / half, (hi - centre) / half], [y + dy, y + dy],
                        color=colour, linewidth=2.2, label=label if i == 0 else None)
                ax.plot([(med - centre) / half], [y + dy], "o", color=colour, markersize=3.5)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([short_names(names)[n] for n in reversed(names)], fontsize=7)
        ax.axvline(0, color=style.GRID_COLOUR, linewidth=0.8)
        ax.set_xlabel("shift from the median before, in half-widths of the 90% interval before")
        ax.set_title("What the new months changed: 90% intervals before and after", loc="left")
        ax.legend(fontsize=7, loc="best")
        fig.text(0.01, 0.005, source_line([scenario]), fontsize=6, color=style.SOURCE_COLOUR,
                 va="bottom")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    written = save_figure(fig, folder, "learnt", formats=("png",))
    plt.close(fig)
    return written
