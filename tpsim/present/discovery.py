"""Scenario discovery shown: ``discovery.json``, the box in words and its three charts
(the coverage/density trade-off curve, the box's limits against the sampled ranges, and the
runs over the two most restricted inputs). No simulation, no files (``tpsim.output`` writes)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tpsim.analysis.discovery import Discovery
from tpsim.present.wording import sig

__all__ = ["limit_words", "box_words", "discovery_document", "discovery_text",
           "discovery_figures"]


def _value(v: float, relative: bool) -> str:
    return f"{sig(v, 3)}x the scenario's value" if relative else sig(v, 3)


def limit_words(label: str, low: float, high: float, sample_low: float, sample_high: float,
                relative: bool = False) -> str:
    """``services.falls_prevention.effect at least 0.27`` / ``at most ...`` / ``between``."""
    lower, upper = low > sample_low, high < sample_high
    if lower and upper:
        return f"{label} between {_value(low, relative)} and {_value(high, relative)}"
    if lower:
        return f"{label} at least {_value(low, relative)}"
    if upper:
        return f"{label} at most {_value(high, relative)}"
    return f"{label} anywhere in its range"


def box_words(d: Discovery) -> list[str]:
    r = d.result
    return [limit_words(d.labels[j], d.box.low[j], d.box.high[j], r.sample_low[j],
                        r.sample_high[j], d.relative[j]) for j in d.restricted]


def discovery_document(d: Discovery, settings: Mapping) -> dict:
    """discovery.json: the settings (scenario, counterfactual, condition, runs, seed, ...),
    the runs of interest, the trajectory, the chosen box (pasted) with each restriction in
    words, its range, the sampled range and quasi-p-value, and the CART leaves."""
    r = d.result
    coverage, density = r.curve()
    restricted = []
    for j in d.restricted:
        restricted.append({
            "input": d.labels[j], "relative": d.relative[j],
            "low": float(d.box.low[j]), "high": float(d.box.high[j]),
            "sampled_low": float(r.sample_low[j]), "sampled_high": float(r.sample_high[j]),
            "words": limit_words(d.labels[j], d.box.low[j], d.box.high[j], r.sample_low[j],
                                 r.sample_high[j], d.relative[j]),
            "quasi_p_value": d.p_values.get(j)})
    return {
        "settings": dict(settings),
        "runs": r.n, "runs_of_interest": r.n_interest,
        "share_of_interest": r.n_interest / r.n if r.n else 0.0,
        "prim": {**r.settings,
                 "trajectory": [{"box": i, "coverage": float(c), "density": float(dn),
                                 "mass": float(b.mass),
                                 "restricted": len([j for j in range(b.low.size)
                                                    if b.low[j] > r.sample_low[j]
                                                    or b.high[j] < r.sample_high[j]])}
                                for i, (b, c, dn) in enumerate(zip(r.boxes, coverage, density))],
                 "chosen": d.chosen,
                 "box": {"coverage": d.box.coverage, "density": d.box.density,
                         "mass": d.box.mass, "runs": d.box.n,
                         "runs_of_interest": d.box.n_interest, "restrictions": restricted}},
        "cart": d.cart,
    }


def discovery_text(document: Mapping) -> str:
    """The console summary: the condition, its share of runs and the chosen box in words."""
    s, prim = document["settings"], document["prim"]
    box = prim["box"]
    lines = [f"discovery: {s.get('scenario')} against {s.get('counterfactual')}, "
             f"{document['runs']:,} runs: \"{s.get('where')}\" in "
             f"{document['share_of_interest']:.1%} of them"]
    if document["runs_of_interest"] in (0, document["runs"]):
        lines.append("  no box: every run or no run meets the condition")
        return "\n".join(lines)
    lines.append(f"  box {prim['chosen']} of {len(prim['trajectory']) - 1} on the peeling "
                 f"trajectory: coverage {box['coverage']:.2f}, density {box['density']:.2f} "
                 f"({box['runs']:,} runs)")
    for r in box["restrictions"]:
        lines.append(f"    {r['words']} (quasi-p {r['quasi_p_value']:.2g})")
    if not box["restrictions"]:
        lines.append("    no input is restricted")
    return "\n".join(lines)


def discovery_figures(d: Discovery, x: np.ndarray, y: np.ndarray,
                      title: str = "", max_points: int = 20000) -> dict:
    """``{stem: Figure}``: ``discovery_tradeoff`` (coverage against density along the
    trajectory, the chosen box marked), ``discovery_box`` (each restricted input's box limits
    within its sampled range, scaled 0-1) and ``discovery_scatter`` (runs over the two most
    restricted inputs, at most ``max_points`` of them, with the box)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    r = d.result
    figures = {}
    coverage, density = r.curve()
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.subplots()
    sc = ax.scatter(coverage, density, c=[b.mass for b in r.boxes], cmap="viridis", s=18)
    fig.colorbar(sc, ax=ax, label="share of all runs in the box")
    ax.scatter([coverage[d.chosen]], [density[d.chosen]], s=120, facecolors="none",
               edgecolors="crimson", linewidths=1.5, label=f"chosen box {d.chosen}")
    ax.scatter([d.box.coverage], [d.box.density], marker="x", color="crimson",
               label="chosen box after pasting")
    ax.set_xlabel("coverage (share of runs of interest in the box)")
    ax.set_ylabel("density (share of the box's runs of interest)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    ax.set_title(title or "PRIM peeling trajectory")
    figures["discovery_tradeoff"] = fig

    restricted = d.restricted
    fig = Figure(figsize=(9.6, 0.45 * max(len(restricted), 1) + 1.6))
    ax = fig.subplots()
    for row, j in enumerate(restricted):
        span = r.sample_high[j] - r.sample_low[j] or 1.0
        lo = (d.box.low[j] - r.sample_low[j]) / span
        hi = (d.box.high[j] - r.sample_low[j]) / span
        ax.barh(row, 1.0, color="0.9", edgecolor="0.6")
        ax.barh(row, hi - lo, left=lo, color="tab:blue")
        ax.text(1.03, row, f"box {sig(d.box.low[j], 3)} to {sig(d.box.high[j], 3)} "
                f"(sampled {sig(r.sample_low[j], 3)} to {sig(r.sample_high[j], 3)})",
                va="center", fontsize=7)
    ax.set_yticks(range(len(restricted)), [d.labels[j] for j in restricted], fontsize=8)
    ax.set_xlim(0, 2.0)
    ax.set_xticks([0, 0.5, 1.0], ["sampled low", "", "sampled high"])
    ax.invert_yaxis()
    ax.set_title(f"Box limits within the sampled ranges\n(coverage {d.box.coverage:.2f}, "
                 f"density {d.box.density:.2f})", fontsize=10)
    fig.tight_layout()
    figures["discovery_box"] = fig

    if len(restricted) >= 1 and x.shape[1] >= 2:
        a = restricted[0]
        b = restricted[1] if len(restricted) > 1 else next(j for j in range(x.shape[1]) if j != a)
        step = max(1, x.shape[0] // max_points)
        xs, ys = x[::step], np.asarray(y)[::step]
        fig = Figure(figsize=(6.4, 4.8))
        ax = fig.subplots()
        ax.scatter(xs[~ys, a], xs[~ys, b], s=3, color="0.7", label="other runs")
        ax.scatter(xs[ys, a], xs[ys, b], s=3, color="tab:blue", label="runs of interest")
        from matplotlib.patches import Rectangle
        ax.add_patch(Rectangle((d.box.low[a], d.box.low[b]), d.box.high[a] - d.box.low[a],
                               d.box.high[b] - d.box.low[b], fill=False, edgecolor="crimson",
                               linewidth=1.5, label="box"))
        ax.set_xlabel(d.labels[a])
        ax.set_ylabel(d.labels[b])
        ax.legend(loc="best", markerscale=4)
        ax.set_title("Runs over the two most restricted inputs", fontsize=10)
        figures["discovery_scatter"] = fig
    return figures
