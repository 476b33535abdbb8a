"""One scenario, end to end in memory: settings -> compile -> simulate -> labelled results.

Used by ``tpsim run`` and by every command that needs trajectories (compare, report, ...).
"""
from __future__ import annotations

import copy

from tpsim import __version__
from tpsim.models.structure import compile_scenario
from tpsim.models.results import Results, build_results
from tpsim.config.scenario import Scenario, scenario_from_dict
from tpsim.models.simulate import simulate


def with_time_settings(scenario: Scenario, dt: float | None = None, method: str | None = None,
                       horizon: int | None = None) -> Scenario:
    """The scenario with its ``time`` settings replaced where given, re-validated
    (so a ``dt`` too large for the fastest rate is reported against ``time.dt``)."""
    if dt is None and method is None and horizon is None:
        return scenario
    data = copy.deepcopy(scenario.data)
    if dt is not None:
        data["time"]["dt"] = float(dt)
    if method is not None:
        data["time"]["method"] = method
    if horizon is not None:
        data["time"]["horizon"] = int(horizon)
    source = str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"
    changed = scenario_from_dict(data, source=source)
    return Scenario(scenario.name, scenario.path, changed.data, scenario.locations)


def discount_rates(scenario: Scenario) -> dict[str, float]:
    ap = scenario.data["appraisal"]
    return {"discount_rate": ap["discount_rate"], "health_discount_rate": ap["health_discount_rate"]}


def run(scenario: Scenario, overrides: dict[str, float] | None = None) -> Results:
    """Simulate one scenario (optionally with parameters overridden by dotted path)."""
    if overrides:
        scenario = scenario.with_overrides(overrides)
    model = compile_scenario(scenario)
    raw = simulate(model, record=True, **discount_rates(scenario))
    return build_results(model, raw)


def settings(scenario: Scenario) -> dict:
    t = scenario.data["time"]
    return {"start": t["start"], "horizon_months": t["horizon"], "dt_months": t["dt"],
            "method": t["method"], "price_year": scenario.data["price_year"],
            "loops": dict(scenario.data["loops"]), "pool_enabled": scenario.data["pool"]["enabled"]}


def summary(scenario: Scenario, results: Results, run_index: int = 0) -> dict:
    """The content of ``summary.json`` for one run."""
    totals = results.totals(run_index)
    return {
        "scenario": scenario.name,
        "title": scenario.data.get("title") or "",
        "scenario_hash": scenario.hash,
        "tpsim_version": __version__,
        "settings": settings(scenario),
        "units": {"money": f"GBP, real terms at {scenario.data['price_year']} prices",
                  "people": "people", "time": "months"},
        "totals": totals,
        "section_114_month": results.s114_months(run_index),
    }


