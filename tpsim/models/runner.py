"""One scenario, end to end in memory: settings -> compile -> simulate -> labelled results.

Used by ``tpsim run`` and by every command that needs trajectories (compare, report, ...).
"""
from __future__ import annotations

from tpsim import __version__
from tpsim.models.structure import compile_scenario
from tpsim.models.results import Results, build_results
from tpsim.config.scenario import Scenario
from tpsim.models.simulate import simulate


def discount_rates(scenario: Scenario) -> dict[str, float]:
    ap = scenario.appraisal
    return {"discount_rate": ap["discount_rate"], "health_discount_rate": ap["health_discount_rate"]}


def run(scenario: Scenario, overrides: dict[str, float] | None = None) -> Results:
    """Simulate one scenario (optionally with parameters overridden by dotted path)."""
    if overrides:
        scenario = scenario.replace(overrides=overrides)
    model = compile_scenario(scenario)
    raw = simulate(model, record=True, **discount_rates(scenario))
    return build_results(model, raw)


def settings(scenario: Scenario) -> dict:
    t = scenario.time
    return {"start": t.start, "horizon_months": t.horizon, "dt_months": t.dt,
            "method": t.method, "price_year": scenario.price_year,
            "loops": dict(scenario.loops), "pool_enabled": scenario.pool["enabled"]}


def summary(scenario: Scenario, results: Results, run_index: int = 0) -> dict:
    """The content of ``summary.json`` for one run."""
    totals = results.totals(run_index)
    return {
        "scenario": scenario.name,
        "title": scenario.title or "",
        "scenario_hash": scenario.hash,
        "tpsim_version": __version__,
        "settings": settings(scenario),
        "units": {"money": f"GBP, real terms at {scenario.price_year} prices",
                  "people": "people", "time": "months"},
        "totals": totals,
        "section_114_month": results.s114_months(run_index),
    }


