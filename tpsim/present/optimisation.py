"""The best mix of levers shown: ``optimisation.json``, the console summary (the best mix
beside today's) and the NPV-against-payback frontier chart. No simulation, no files."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tpsim.present.wording import money, payback, sig

__all__ = ["optimisation_document", "optimisation_text", "frontier_figure"]

_FIGURES = ("npsv", "fiscal_npv", "npv", "npv_parliament", "bcr", "payback_month",
            "pays_back_in_parliament")


def _figures(entry: Mapping) -> dict:
    out = {k: entry.get(k) for k in _FIGURES if k in entry}
    if entry.get("section_114"):
        out["section_114"] = entry["section_114"]
    return out


def optimisation_document(result) -> dict:
    """optimisation.json: settings, the levers (bounds, today's value, the best value), the
    objective for today's and the best mix, each mix's comparison figures, whether the best
    beats today's, the frontier and (with futures) the robust table and its pick."""
    o = result.optimum
    return {
        "settings": dict(result.settings),
        "levers": [{"path": lv.path, "kind": lv.kind, "low": lv.low, "high": lv.high,
                    "today": lv.today, "best": float(v),
                    "unit_cost": lv.unit_cost if lv.kind == "places" else None}
                   for lv, v in zip(result.levers, o.x)],
        "objective": {"name": result.settings.get("objective"), "today": o.today_value,
                      "best": o.value, "improvement": o.value - o.today_value,
                      "best_feasible": o.feasible, "today_feasible": o.today_feasible,
                      "beats_today": o.improves},
        "today": _figures(result.today),
        "best": _figures(result.best),
        "search": {"evaluations": o.evaluations, "generations": o.generations,
                   "message": o.message},
        "frontier": list(result.frontier),
        "robust": result.robust,
    }


def _objective_words(name: str, value: float) -> str:
    if name == "payback":
        return f"P(payback within the Parliament) {value:.3f}"
    return f"{name} {money(value)}"


def optimisation_text(document: Mapping) -> str:
    s, obj = document["settings"], document["objective"]
    lines = [f"optimise: {s['scenario']} against {s['counterfactual']}, objective "
             f"{obj['name']} ({s['futures']} futures besides the central case), "
             f"{document['search']['evaluations']:,} candidates in "
             f"{document['search']['generations']} generations"]
    for lv in document["levers"]:
        lines.append(f"  {lv['path']}: today {sig(lv['today'], 4)}, best {sig(lv['best'], 4)} "
                     f"(searched {sig(lv['low'], 4)} to {sig(lv['high'], 4)})")
    lines.append(f"  today's mix: {_objective_words(obj['name'], obj['today'])}; best mix: "
                 f"{_objective_words(obj['name'], obj['best'])}")
    for label, key in (("today", "today"), ("best", "best")):
        f = document[key]
        head = f.get("npsv")
        lines.append(f"  {label}: NPSV {money(head) if head is not None else 'n/a'}, fiscal NPV "
                     f"{money(f.get('fiscal_npv', f.get('npv')))}, "
                     f"{payback(f.get('payback_month'), f.get('pays_back_in_parliament'))}")
    if obj["beats_today"]:
        lines.append(f"  the best mix beats today's by {_objective_words(obj['name'], obj['improvement'])}")
    elif not obj["today_feasible"]:
        lines.append("  today's mix breaks the budget or section 114 constraint; the best "
                     "mix is the best that keeps them")
    else:
        lines.append("  no feasible mix within the bounds and budget beats today's mix")
    robust = document.get("robust") or {}
    if robust:
        lines.append(f"  robust choice by {robust['criterion']} over {robust['futures']} futures: "
                     f"{robust['pick']}")
    return "\n".join(lines)


def frontier_figure(result, title: str = ""):
    """NPV (central case) against payback month of every feasible candidate evaluated, the
    frontier (no candidate beats another on both) joined, today's and the best mix marked."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    evaluated = [e for e in result.evaluated if e[3]]
    fig = Figure(figsize=(6.8, 4.8))
    ax = fig.subplots()
    months = result.settings.get("horizon_months")
    horizon = months or max([e[2] for e in evaluated] + [1])
    def place(pb):
        return horizon + 1 if pb is None or pb < 0 else pb
    if evaluated:
        ax.scatter([place(e[2]) for e in evaluated], [e[1] / 1e6 for e in evaluated], s=4,
                   color="0.75", label="candidates evaluated")
    money = result.settings.get("frontier_figure", "npv")
    if result.frontier:
        xs = [place(f["payback_month"]) for f in result.frontier]
        ys = [f[money] / 1e6 for f in result.frontier]
        ax.plot(xs, ys, "-o", color="tab:blue", markersize=4, label="frontier")
    for entry, label, colour in ((result.today, "today's mix", "black"),
                                 (result.best, "best mix", "crimson")):
        ax.scatter([place(entry.get("payback_month"))], [entry.get(money, np.nan) / 1e6], s=60,
                   color=colour, marker="D", label=label, zorder=5)
    ax.set_xlabel(f"payback month (central case; {horizon + 1} = not within the horizon)")
    ax.set_ylabel(f"{'fiscal NPV' if money == 'npv' else money}, £m (central case)")
    ax.legend(loc="best")
    ax.set_title(title or "NPV against payback of the mixes searched", fontsize=10)
    return fig
