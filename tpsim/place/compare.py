"""Many places in one run: an option against a counterfactual in every place of a table, all in
one batched kernel call.

Every place is the counterfactual's structure with its own parameters (:mod:`tpsim.place.build`),
so the places share one compiled :class:`~tpsim.models.structure.Model`: a place's runs are rows
of parameters (its counterfactual's row, the option's row), stacked with every other place's
and simulated together (:func:`tpsim.analysis.comparison.simulate_specs`); its budget growth
comes from one more stacked call (runs without cuts). Each place is then appraised exactly as
``tpsim compare`` appraises one scenario (:func:`tpsim.analysis.comparison.compare_scenarios`
on that place's runs), so a place's row equals ``tpsim compare`` on that place's scenarios
(tests/test_place.py).

The option's row is :func:`tpsim.place.build.localise` at the level of the parameter vector:
a parameter the option shares with the counterfactual takes the place's value; one it changes
keeps its own value (a rate or share) or is scaled by the place's factor (an amount); amounts in
its time-keyed changes are scaled too.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tpsim.config.scenario import Scenario
from tpsim.errors import TpsimError
from tpsim.models.structure import Model, compile_scenario
from tpsim.place.build import (Place, PlaceValues, _is_amount, apply_growth, growth_from_spend,
                               localise, place_scenario, place_values)
from tpsim.place.profile import Profile

__all__ = ["PlaceResult", "PlacesComparison", "compare_places", "place_row", "place_of"]


@dataclass
class PlaceResult:
    """One place's appraisal: the profile, its values on the template, the comparison (a
    :class:`tpsim.analysis.comparison.Comparison` of the option against the counterfactual
    in that place), the comparison.json entry (``record``) and each council's first month of
    reserves below zero in the option (``s114``) and the counterfactual (``s114_counterfactual``);
    ``ensemble``: the option's ensemble summary metrics (``--uncertainty``), if run."""

    profile: Profile
    values: PlaceValues
    comparison: object
    record: dict
    s114: dict
    s114_counterfactual: dict
    ensemble: dict | None = None


@dataclass
class PlacesComparison:
    """Every place of a table appraised: ``places`` in table order; the option and
    counterfactual scenarios as given; ``kernel_calls`` and ``runs`` simulated for the
    deterministic comparison (the budget-growth runs are ``growth_calls`` more calls)."""

    scenario: Scenario
    counterfactual: Scenario
    reference: Profile
    places: list[PlaceResult]
    kernel_calls: int
    runs: int
    growth_calls: int
    uncertainty_runs: int = 0
    engine: str = "local"
    rows: list[dict] = field(default_factory=list)

    def table(self):
        """places.csv as a ``pandas.DataFrame`` indexed by place."""
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("place")


def _row_of(model: Model, values: dict[str, float]) -> np.ndarray:
    theta = model.theta0.copy()
    for path, value in values.items():
        theta[model.param_index[path]] = value
    return theta


def _localised_row(s_model: Model, cf_model: Model, cf_row: np.ndarray,
                   factors: dict[str, float]) -> np.ndarray:
    """The option's parameters in the place (:func:`localise` on the parameter vector)."""
    own, template = s_model.theta0, cf_model.theta0
    row = own.copy()
    same = own == template
    row[same] = cf_row[same]
    for j in np.flatnonzero(~same):
        name = s_model.param_names[j]
        if _is_amount(name) and name in factors:
            row[j] = own[j] * factors[name]
    return row


def _events(model: Model, factors: dict[str, float]) -> np.ndarray:
    """The model's time-keyed change values with amounts scaled to the place."""
    values = model.ev_value0.copy()
    for k, col in enumerate(model.ev_param):
        name = model.param_names[int(col)]
        if _is_amount(name) and name in factors:
            values[k] = values[k] * factors[name]
    return values


def place_of(template: Scenario, reference: Profile, profile: Profile,
             keep_budgets: bool = True) -> Place:
    """The place of ``profile`` as :func:`tpsim.place.build.build_place` makes it, without
    the first-year reserves check (for the comparison of a single place)."""
    from tpsim.place.build import build_place

    return build_place(template, reference, profile, keep_budgets, check_reserves=False)


def _growth(cf_model: Model, pvs: list[PlaceValues], cf_scenario: Scenario) -> int:
    """Set every place's rule-following budget growth from one stacked run without cuts;
    the number of kernel calls made (0 or 1)."""
    from tpsim.models.results import build_results
    from tpsim.models.runner import discount_rates
    from tpsim.models.simulate import simulate

    if not any(any(pv.rule.values()) for pv in pvs):
        return 0
    doom = cf_model.param_index["loops.doom_loop"]
    theta = np.vstack([_row_of(cf_model, pv.values) for pv in pvs])
    theta[:, doom] = 0.0
    events = np.vstack([_events(cf_model, pv.factors) for pv in pvs]) if cf_model.ev_month.size \
        else None
    raw = simulate(cf_model, theta, events, record=True, **discount_rates(cf_scenario))
    results = build_results(cf_model, raw)
    for k, pv in enumerate(pvs):
        apply_growth(pv, growth_from_spend({a: results.series[f"spend.agency.{a}"][k]
                                            for a in cf_model.agencies}))
    return 1


def compare_places(profiles: Sequence[Profile], scenario: Scenario, counterfactual: Scenario,
                   reference: Profile, optimism_bias: float | None = None,
                   keep_budgets: bool = True, attribution: bool = False,
                   uncertainty: int = 0, seed: int = 0, engine: str = "local",
                   **engine_options) -> PlacesComparison:
    """Appraise ``scenario`` against ``counterfactual`` in every place of ``profiles`` (the
    counterfactual is the template, ``reference`` its own profile). ``attribution`` adds the
    who-pays / who-gains removal runs; ``uncertainty`` runs an ensemble of that many runs per
    place (docs/uncertainty.md) on ``engine`` (``local`` or ``dask``)."""
    from tpsim.analysis.comparison import (ComparisonRuns, base_spec, check_comparable,
                                           compare_scenarios, removal_spec, simulate_specs)
    from tpsim.present.documents import scenario_entry

    check_comparable(scenario, counterfactual)
    if scenario.name == counterfactual.name:
        raise TpsimError("the option and the counterfactual need different names",
                         file=str(scenario.path or scenario.name), key="name")
    cf_model = compile_scenario(counterfactual)
    s_model = compile_scenario(scenario)
    if s_model.param_names != cf_model.param_names:
        raise TpsimError("the option's parameters differ from the counterfactual's (pool "
                         "services or contributions): give the counterfactual the same keys",
                         file=str(scenario.path or scenario.name), key="pool")
    pvs = [place_values(counterfactual, reference, p, keep_budgets) for p in profiles]
    growth_calls = _growth(cf_model, pvs, counterfactual)
    specs, where = [], []
    for pv in pvs:
        cf_row = _row_of(cf_model, pv.values)
        cf_p = dataclasses.replace(cf_model, theta0=cf_row,
                                   ev_value0=_events(cf_model, pv.factors))
        s_p = dataclasses.replace(s_model, theta0=_localised_row(s_model, cf_model, cf_row,
                                                                  pv.factors),
                                  ev_value0=_events(s_model, pv.factors))
        first = len(specs)
        specs += [base_spec(cf_p), base_spec(s_p)]
        removed = {}
        if attribution:
            for a in s_p.agencies:
                spec = removal_spec(s_p, cf_p, a)
                if spec is not None:
                    removed[a] = len(specs)
                    specs.append(spec)
        where.append((first, removed, cf_p, s_p))
    ap = counterfactual.appraisal
    batch = simulate_specs(specs, ap["discount_rate"], ap["health_discount_rate"])
    results = []
    for pv, (first, removed, cf_p, s_p) in zip(pvs, where):
        runs = ComparisonRuns(batch, first, [first + 1], [removed], [s_p], cf_p,
                              2 + len(removed))
        comparison = compare_scenarios([scenario], counterfactual, optimism_bias, runs=runs,
                                       switching=False, service_attribution=attribution)
        case = comparison.cases[0]
        g, k = batch.where[first]
        s114_cf = batch.results[g].s114_months(k)
        record = scenario_entry(case)
        results.append(PlaceResult(pv.profile, pv, comparison, record,
                                   case.results.s114_months(case.run), s114_cf))
    out = PlacesComparison(scenario, counterfactual, reference, results, batch.kernel_calls,
                           len(specs), growth_calls)
    if uncertainty:
        _ensembles(out, uncertainty, seed, engine, optimism_bias, **engine_options)
    out.rows = [place_row(r) for r in results]
    return out


def _ensembles(out: PlacesComparison, runs: int, seed: int, engine: str,
               optimism_bias: float | None, **engine_options) -> None:
    """An ensemble per place (the option against the counterfactual, each localised and
    validated, with the option's uncertainty section), through the ensemble engine; on Dask,
    one cluster serves every place."""
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.seeds import seed_entropy

    client = cluster = None
    if engine == "dask" and "client" not in engine_options and "scheduler" not in engine_options:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise TpsimError("the dask engine needs Dask: pip install 'tpsim[dask]'") from None
        import os
        cluster = LocalCluster(n_workers=engine_options.pop("workers", None) or os.cpu_count() or 1,
                               threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        engine_options["client"] = client
    try:
        entropy = seed_entropy(seed)
        for r in out.places:
            pv = r.values
            cf_place = place_scenario(out.counterfactual, pv, out.reference)
            template_place = Place(cf_place, pv.profile, out.counterfactual, out.reference,
                                   pv.origin, pv.factors, pv.state)
            option = localise(out.scenario, template_place)
            job = en.prepare([option], cf_place, runs=runs, seed=entropy,
                             optimism_bias=optimism_bias)
            partial = en.run_ensemble(job, engine, **engine_options)
            r.ensemble = en.summarise(job, partial).metrics[option.name]
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    out.uncertainty_runs, out.engine = runs, engine


# ---------------------------------------------------------------------------------------------
# One row of places.csv
# ---------------------------------------------------------------------------------------------


def _scalars(prefix: str, block: dict) -> dict:
    out = {}
    for k, v in block.items():
        if isinstance(v, bool) or v is None or isinstance(v, (int, float)):
            out[f"{prefix}{k}"] = v
        elif isinstance(v, dict) and all(isinstance(x, (int, float, type(None))) for x in v.values()):
            out.update({f"{prefix}{k}.{a}": x for a, x in v.items()})
    return out


def place_row(result: PlaceResult) -> dict:
    """One row of places.csv: the place (name, label, tier, people, deprivation), the
    comparison.json headline figures (NPV or NPSV as the appraisal names them, BCR, payback),
    each agency's and the pool's NPV over the horizon, each council's section 114 month in
    the option and the counterfactual (empty: none within the horizon), the outcomes in total
    and, with ``--uncertainty``, the option's ensemble statistics."""
    p, rec = result.profile, result.record
    row = {"place": p.name, "label": p.label, "tier": p.tier, "population": p.total,
           "population_0_17": p.population["0-17"], "population_18_64": p.population["18-64"],
           "population_65_plus": p.population["65+"], "imd_decile": p.decile,
           "imd_score": p.imd_score}
    headline = result.comparison.cases[0].appraisal.headline()
    row.update(_scalars("", {k: rec[k] for k in headline if k in rec}))
    npv_key = "fiscal_npv_horizon" if "fiscal_npv_horizon" in rec["total"] else "npv_horizon"
    for a, figures in rec["agencies"].items():
        row[f"{npv_key}.{a}"] = figures[npv_key]
    row[f"{npv_key}.pool"] = rec["pool"][npv_key]
    for a, m in result.s114.items():
        row[f"s114_month.{a}"] = m
    for a, m in result.s114_counterfactual.items():
        row[f"s114_month_counterfactual.{a}"] = m
    row.update(_scalars("outcomes.", rec["outcomes"]["total"]))
    if result.ensemble is not None:
        for metric, stats in result.ensemble.items():
            if isinstance(stats, dict) and "mean" in stats:
                row[f"{metric}_mean"] = stats["mean"]
                for q in ("p5", "p50", "p95"):
                    row[f"{metric}_{q}"] = stats["percentiles"].get(q)
        for key in ("probability_beats_counterfactual",):
            row[key] = result.ensemble.get(key)
    return row
