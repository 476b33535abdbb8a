"""The charts of ``tpsim des``: the individual-level (DES) model against the aggregate model,
panel by panel, and the waiting times of capacity-limited services (pyplot Figures; spend
in £m per month, waiting in months)."""
from __future__ import annotations

import math

from tpsim.output import atomic_write_with


def _panels(results) -> list[str]:
    """At most 16 panels: total and reactive spend, the four agencies that spend most, the
    highest need state and escalations of each cohort, activity and queue of capacity-limited
    services."""
    spend = {a: results.mean(f"spend.agency.{a}").sum() for a in results.spend.agencies}
    names = ["spend.total", "spend.kind.reactive"]
    names += [f"spend.agency.{a}" for a in sorted(spend, key=lambda a: -spend[a])[:4]]
    for c in results.spend.cohorts:
        top = [s for cc, s in results.spend.pop_labels if cc == c][-1]
        names += [f"population.{c}.{top}", f"escalations.{c}"]
    for r in results.spend.queued_names:
        names += [f"activity.{r}", f"waiting.{r}"]
    return [n for n in names if n in results.series][:16]


def comparison_chart(results, aggregate, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = _panels(results)
    ncols = 4
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows), squeeze=False)
    months = results.months
    for ax, name in zip(axes.flat, names):
        money = name.startswith("spend.")
        scale = 1e6 if money else 1.0
        low, high = results.confidence_interval(name)
        mean = results.mean(name)
        if results.replications > 1:
            ax.fill_between(months, low / scale, high / scale, color="tab:blue", alpha=0.25,
                            linewidth=0, label="DES 95% CI of mean")
        ax.plot(months, mean / scale, color="tab:blue", lw=1.2, label="DES mean")
        ax.plot(months, aggregate[name][0] / scale, color="black", lw=1.0, ls="--",
                label="aggregate")
        ax.set_title(name, fontsize=8)
        ax.set_ylabel("£m per month" if money else "people or events", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("month", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def waiting_chart(results, rows: list[list]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    services = results.spend.queued_names
    fig, axes = plt.subplots(len(services), 1, figsize=(8, 3 * len(services)), squeeze=False)
    for ax, name in zip(axes[:, 0], services):
        sub = [r for r in rows if r[0] == name]
        months = [r[1] for r in sub]
        for col, label in ((3, "mean"), (4, "median"), (5, "90th percentile"),
                           (6, "95th percentile")):
            ax.plot(months, [r[col] for r in sub], label=label, lw=1.1)
        ax.set_title(f"{name}: waiting time of served requests", fontsize=9)
        ax.set_ylabel("months")
        ax.set_xlabel("month")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def save_figure(fig, path) -> None:
    """Write a pyplot figure as a PNG (100 dpi) atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=100))
    finally:
        plt.close(fig)
