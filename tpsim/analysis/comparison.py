"""Comparison runs: scenarios, their counterfactual and the who-pays / who-gains removal runs,
stacked as rows of as few kernel calls as possible (one, when the scenarios share a structure).

* :func:`check_comparable` refuses a comparison of places that differ (agencies, cohorts, need
  states, services, utility weights, time settings, price year) with a one-line error naming
  the file and key.
* A :class:`RunSpec` is one row to simulate: a compiled model (its layout), a parameter vector
  and its time-keyed changes. Runs whose models share a structure (same parameter layout, same
  structure arrays, same time settings) go in one :func:`tpsim.models.simulate.simulate` call: their
  time-keyed changes are merged into one event list (a run without a given change gets, at
  that slot, the value already in force for it, which changes nothing).
* :func:`removal_spec`: the scenario with one agency's extra preventive investment removed:
  its preventive services' ``places`` and ``community.places`` and its
  ``pool.contributions.<a>`` follow the counterfactual's values (and time-keyed changes); 0 for
  the contribution when the counterfactual has no pool.
* :func:`run_comparison` runs everything and returns labelled series per run; the arithmetic of
  the appraisal and of the matrix is in :mod:`tpsim.analysis.appraisal`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from tpsim.errors import TpsimError
from tpsim.models.structure import Model, compile_scenario
from tpsim.models.results import Results, build_results
from tpsim.config.scenario import Scenario
from tpsim.models.simulate import simulate

# ---------------------------------------------------------------------------------------------
# Comparability
# ---------------------------------------------------------------------------------------------


def _where(scenario: Scenario, key: str) -> dict:
    """File and line of ``key`` in ``scenario`` (falling back to the file, then the name)."""
    loc = None
    probe = key
    while probe and loc is None:
        loc = scenario.locations.get(probe)
        probe = probe.rpartition(".")[0]
    if loc is not None:
        return {"file": loc[0], "line": loc[1], "key": key}
    file = str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"
    return {"file": file, "key": key}


def _fail(scenario: Scenario, key: str, message: str) -> TpsimError:
    return TpsimError(message, **_where(scenario, key))


def _display(scenario: Scenario) -> str:
    return str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"


def check_comparable(scenario: Scenario, counterfactual: Scenario) -> None:
    """Raise :class:`TpsimError` (file and key) unless the two describe the same place.

    Same agencies, cohorts, need states (in order), services (kind, agency, cohort), utility
    weights, horizon, time step, integration method and price year.
    """
    d, c = scenario.data, counterfactual.data
    cf = f"the counterfactual {_display(counterfactual)}"
    same_place = "a comparison needs the same place"

    def same_set(section: str, what: str) -> None:
        extra = [k for k in d[section] if k not in c[section]]
        missing = [k for k in c[section] if k not in d[section]]
        if extra:
            raise _fail(scenario, f"{section}.{extra[0]}", f"{what} not in {cf}; {same_place}")
        if missing:
            raise _fail(scenario, section, f"no {what} '{missing[0]}', which {cf} has; {same_place}")

    same_set("agencies", "agency")
    same_set("cohorts", "cohort")
    for co in d["cohorts"]:
        s_states, c_states = list(d["cohorts"][co]["states"]), list(c["cohorts"][co]["states"])
        if s_states != c_states:
            raise _fail(scenario, f"cohorts.{co}.states",
                        f"need states {s_states} here, {c_states} in {cf}; {same_place}")
        for st in s_states:
            u_s = d["cohorts"][co]["states"][st].get("utility")
            u_c = c["cohorts"][co]["states"][st].get("utility")
            if (u_s or 0.0) != (u_c or 0.0):
                raise _fail(scenario, f"cohorts.{co}.states.{st}.utility",
                            f"{u_s} here, {u_c} in {cf}; QALYs must be counted with the same "
                            "utility weights")
    same_set("services", "service")
    for v, sv in d["services"].items():
        for key in ("kind", "agency", "cohort"):
            if sv[key] != c["services"][v][key]:
                raise _fail(scenario, f"services.{v}.{key}",
                            f"'{sv[key]}' here, '{c['services'][v][key]}' in {cf}; {same_place}")
    for key, hint in (("horizon", "compare over a common horizon"),
                      ("dt", "compare at a common time step"),
                      ("method", "compare with a common integration method")):
        if d["time"][key] != c["time"][key]:
            raise _fail(scenario, f"time.{key}", f"{d['time'][key]} here, {c['time'][key]} in {cf}; {hint}")
    if d["price_year"] != c["price_year"]:
        raise _fail(scenario, "price_year", f"'{d['price_year']}' here, '{c['price_year']}' in {cf}; "
                    "compare in the same real prices")


# ---------------------------------------------------------------------------------------------
# Runs and stacking
# ---------------------------------------------------------------------------------------------


@dataclass
class RunSpec:
    """One row of a batch: a compiled model (layout and labels), parameters and changes."""

    label: str
    model: Model
    theta: np.ndarray                                 # nparam, in ``model``'s column order
    events: list[tuple[float, int, float]] = field(default_factory=list)  # (month, column, value)


def base_spec(model: Model, label: str | None = None) -> RunSpec:
    """A run of the model's own parameters and time-keyed changes."""
    events = [(float(m), int(p), float(v))
              for m, p, v in zip(model.ev_month, model.ev_param, model.ev_value0)]
    return RunSpec(label or model.name, model, model.theta0.copy(), events)


def _removal_columns(model: Model, agency: str) -> list[str]:
    """Parameter paths that make up an agency's preventive investment."""
    paths = []
    for v in model.preventive:
        if model.service_agency[v] == agency:
            paths += [f"services.{v}.places", f"services.{v}.community.places"]
    paths.append(f"pool.contributions.{agency}")
    return paths


def _has_pool(model: Model) -> bool:
    col = model.param_index["pool.enabled"]
    return bool(model.theta0[col] > 0.0 or np.any(model.ev_value0[model.ev_param == col] > 0.0))


def _path_of(model: Model, name: str, zero: bool) -> tuple[float, list[tuple[float, float]]]:
    """Base value and (month, value) changes of parameter ``name`` in ``model``."""
    if zero:
        return 0.0, []
    col = model.param_index[name]
    return float(model.theta0[col]), [(float(m), float(v)) for m, p, v in
                                      zip(model.ev_month, model.ev_param, model.ev_value0) if p == col]


def removal_spec(scenario: Model, counterfactual: Model, agency: str) -> RunSpec | None:
    """The scenario with ``agency``'s extra preventive investment removed, or None when the
    agency's investment parameters already follow the counterfactual's."""
    spec = base_spec(scenario, f"{scenario.name} without {agency}")
    cf_pool, own_pool = _has_pool(counterfactual), _has_pool(scenario)
    changed = False
    for name in _removal_columns(scenario, agency):
        col = scenario.param_index[name]
        contribution = name.startswith("pool.contributions.")
        value, changes = _path_of(counterfactual, name, contribution and not cf_pool)
        own_value, own_changes = _path_of(scenario, name, contribution and not own_pool)
        if (value, changes) == (own_value, own_changes):
            continue
        changed = True
        spec.theta[col] = value
        spec.events = [e for e in spec.events if e[1] != col] + [(m, col, v) for m, v in changes]
    if not changed:
        return None
    spec.events.sort(key=lambda e: e[0])  # stable: same-month changes keep their order
    return spec


def _signature(model: Model) -> tuple:
    """Models with equal signatures can share one kernel call (events aside)."""
    arrays = tuple((k, v.dtype.str, v.tobytes()) for k, v in sorted(model.structure.items()))
    return (tuple(model.param_names), model.dt, model.n_months, model.method,
            model.po.tobytes(), model.xo.tobytes(), model.pop_utility.tobytes(), arrays)


def merge_events(specs: list[RunSpec]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One event list for runs of the same layout: (months, columns, values runs x events).

    Slots are ordered by month; a change that appears k times in one run at the same month and
    column takes k slots. A run without the change at a slot gets the value already in force for
    it there, so its parameter path is unchanged.
    """
    slots: dict[tuple[float, int], int] = {}
    for spec in specs:
        count: dict[tuple[float, int], int] = {}
        for m, p, _ in spec.events:
            count[(m, p)] = count.get((m, p), 0) + 1
        for key, k in count.items():
            slots[key] = max(slots.get(key, 0), k)
    keys = sorted(slots, key=lambda mp: (mp[0], mp[1]))
    months = np.array([m for m, p in keys for _ in range(slots[(m, p)])], dtype=float)
    columns = np.array([p for m, p in keys for _ in range(slots[(m, p)])], dtype=np.int64)
    values = np.zeros((len(specs), months.size))
    for r, spec in enumerate(specs):
        own: dict[tuple[float, int], list[float]] = {}
        for m, p, v in spec.events:
            own.setdefault((m, p), []).append(v)
        current: dict[int, float] = {}
        j = 0
        for key in keys:
            m, p = key
            mine = own.get(key, [])
            for k in range(slots[key]):
                if k < len(mine):
                    value = mine[k]
                else:
                    value = current.get(p, float(spec.theta[p]))
                current[p] = value
                values[r, j] = value
                j += 1
    return months, columns, values


@dataclass
class Batch:
    """Labelled results of runs simulated together (``results`` of one kernel call each)."""

    results: list[Results]
    where: list[tuple[int, int]]   # per spec: (index into ``results``, run index)
    kernel_calls: int

    def series(self, i: int) -> dict[str, np.ndarray]:
        """The labelled monthly series of spec ``i`` (1-D arrays over months)."""
        g, k = self.where[i]
        return {name: arr[k] for name, arr in self.results[g].series.items()}

    def table(self, i: int) -> tuple[list[str], np.ndarray]:
        g, k = self.where[i]
        return self.results[g].table(k)


def simulate_specs(specs: list[RunSpec], discount_rate: float = 0.035,
                   health_discount_rate: float = 0.015) -> Batch:
    """Simulate every spec, one kernel call per distinct model structure."""
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(_signature(spec.model), []).append(i)
    results: list[Results] = []
    where: list[tuple[int, int]] = [(0, 0)] * len(specs)
    for members in groups.values():
        group = [specs[i] for i in members]
        months, columns, values = merge_events(group)
        model = dataclasses.replace(group[0].model, ev_month=months, ev_param=columns,
                                    ev_value0=values[0] if len(group) else np.zeros(0))
        theta = np.vstack([s.theta for s in group])
        raw = simulate(model, theta, values, record=True, discount_rate=discount_rate,
                       health_discount_rate=health_discount_rate)
        for k, i in enumerate(members):
            where[i] = (len(results), k)
        results.append(build_results(model, raw))
    return Batch(results, where, len(groups))


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------


@dataclass
class ComparisonRuns:
    """Every run of a comparison and where its series are in the batch."""

    batch: Batch
    counterfactual: int                       # spec index of the counterfactual
    scenarios: list[int]                      # spec index of each scenario
    removals: list[dict[str, int]]            # per scenario: investing agency -> spec index
    models: list[Model]                       # per scenario: its compiled model
    counterfactual_model: Model
    n_runs: int


def run_comparison(scenarios: list[Scenario], counterfactual: Scenario) -> ComparisonRuns:
    """Check, compile and simulate the scenarios, the counterfactual and every removal run."""
    for sc in scenarios:
        check_comparable(sc, counterfactual)
    cf_model = compile_scenario(counterfactual)
    specs = [base_spec(cf_model)]
    models, scenario_index, removals = [], [], []
    for sc in scenarios:
        model = compile_scenario(sc)
        models.append(model)
        scenario_index.append(len(specs))
        specs.append(base_spec(model))
        removed = {}
        for a in model.agencies:
            spec = removal_spec(model, cf_model, a)
            if spec is not None:
                removed[a] = len(specs)
                specs.append(spec)
        removals.append(removed)
    ap = counterfactual.appraisal
    batch = simulate_specs(specs, ap["discount_rate"], ap["health_discount_rate"])
    return ComparisonRuns(batch, 0, scenario_index, removals, models, cf_model, len(specs))


def _param_path(model: Model, name: str) -> np.ndarray:
    """Value of parameter ``name`` in force in each month of the model's own run."""
    return model.param_path_over_time(model.param_index[name], model.theta0, model.ev_value0)


def new_place_shares(scenario: Model, counterfactual: Model) -> dict[str, np.ndarray]:
    """Per agency, the share of its own preventive spend in each month that is on places above
    the counterfactual's planned places (the part optimism bias uplifts; protected existing
    places are not uplifted).

    ``share_a(m) = Σ_v uc_v max(0, places_v - places_v^cf) / Σ_v uc_v places_v`` over a's
    preventive services v, at the parameters' unit costs (one agency's efficiency factor
    scales every term alike), plus the same terms for the community places of services that
    are not pooled (community places of pooled services are the pool's).
    """
    pool_on = _param_path(scenario, "pool.enabled") > 0.0
    out: dict[str, np.ndarray] = {}
    for a in scenario.agencies:
        num = np.zeros(scenario.n_months)
        den = np.zeros(scenario.n_months)
        for v in scenario.preventive:
            if scenario.service_agency[v] != a:
                continue
            uc = _param_path(scenario, f"services.{v}.unit_cost")
            places = _param_path(scenario, f"services.{v}.places")
            num += uc * np.maximum(places - _param_path(counterfactual, f"services.{v}.places"), 0.0)
            den += uc * places
            pooled = pool_on & (_param_path(scenario, f"pool.services.{v}") > 0.0)
            cuc = _param_path(scenario, f"services.{v}.community.unit_cost")
            comm = _param_path(scenario, f"services.{v}.community.places")
            cf_comm = _param_path(counterfactual, f"services.{v}.community.places")
            num += np.where(pooled, 0.0, cuc * np.maximum(comm - cf_comm, 0.0))
            den += np.where(pooled, 0.0, cuc * comm)
        out[a] = np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), 0.0)
    return out


def valued_series(settings) -> list[str]:
    """The series whose change the scenario values (``appraisal.outcome_values``)."""
    return [ov.series for ov in settings.outcome_values]


@dataclass
class Appraised:
    """One scenario of a comparison, appraised (the structures of :mod:`tpsim.analysis.appraisal`)."""

    index: int            # position in the scenarios given (first of its name)
    scenario: Scenario
    settings: object      # AppraisalSettings
    flows: object         # MonthlyFlows against the counterfactual
    appraisal: object     # Appraisal
    attribution: dict     # who_pays_who_gains blocks


def appraise_comparison(scenarios: list[Scenario], counterfactual: Scenario,
                        optimism_bias: float | None = None, runs: ComparisonRuns | None = None
                        ) -> tuple[ComparisonRuns, list[Appraised]]:
    """:func:`run_comparison` (or the given ``runs``, simulated already: many places share one
    batch), then each distinct scenario's appraisal and who-pays / who-gains matrix
    (``optimism_bias`` overrides the scenarios' own): what ``tpsim compare`` and the report
    both show."""
    from tpsim.analysis.appraisal import (Accounts, AppraisalSettings, appraise, monthly_flows,
                            who_pays_who_gains)

    runs = run_comparison(scenarios, counterfactual) if runs is None else runs
    cf_series = runs.batch.series(runs.counterfactual)
    out: list[Appraised] = []
    done: set[str] = set()
    for j, sc in enumerate(scenarios):
        if sc.name in done:
            continue
        done.add(sc.name)
        accounts = Accounts.from_model(runs.models[j], sc.data)
        settings = AppraisalSettings.from_appraisal(sc.appraisal, optimism_bias)
        shares = new_place_shares(runs.models[j], runs.counterfactual_model)
        flows = monthly_flows(runs.batch.series(runs.scenarios[j]), cf_series, accounts, shares,
                              valued_series(settings))
        without = {a: monthly_flows(runs.batch.series(i), cf_series, accounts, shares,
                                    valued_series(settings))
                   for a, i in runs.removals[j].items()}
        out.append(Appraised(j, sc, settings, flows, appraise(flows, settings),
                             who_pays_who_gains(flows, without, settings)))
    return runs, out


# ---------------------------------------------------------------------------------------------
# A ready comparison: what the compare command, the report, the charts and the API all use
# ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One scenario appraised against the counterfactual, in :mod:`tpsim.analysis.appraisal`'s
    own structures: ``appraisal`` an Appraisal, ``flows`` its MonthlyFlows, ``attribution``
    the blocks of who_pays_who_gains, ``settings`` the AppraisalSettings. ``results``/``run``
    locate its simulated series; ``optimism_bias_from_caller`` says whether the optimism bias
    was given by the caller rather than read from the scenario."""

    scenario: Scenario
    results: Results
    run: int
    appraisal: object
    flows: object
    attribution: dict
    settings: object
    optimism_bias_from_caller: bool = False
    switching: dict | None = None    # switching_values, break_even (tpsim.analysis.switching)
    section_114: dict | None = None  # council -> month / counterfactual_month (analysis.cashflow)
    batch_run: int | None = None     # its run in the comparison's batch: runs.batch.series(i)
    by_service: dict | None = None   # who pays / who gains by service (analysis.service_attribution)


@dataclass
class Comparison:
    """Scenarios appraised against one counterfactual (money in GBP at the scenarios' price
    year, time in months).

    ``runs`` holds every simulated run (``runs.batch.table(i)`` is a run's time series);
    ``context`` holds extra runs shown on the charts over time for context only (e.g. the
    baseline), as ``(scenario, results, run)``; they are not appraised.
    """

    cases: list[Case]
    counterfactual: Scenario
    counterfactual_results: Results
    counterfactual_run: int
    runs: ComparisonRuns | None = None
    context: list[tuple] = field(default_factory=list)
    scenarios_given: list[Scenario] = field(default_factory=list)  # as passed, repeats kept

    @property
    def n_runs(self) -> int:
        """Simulated runs: scenarios, counterfactual and the who-pays / who-gains removals."""
        return self.runs.n_runs if self.runs is not None else 0

    @property
    def kernel_calls(self) -> int:
        return self.runs.batch.kernel_calls if self.runs is not None else 0

    def trajectories(self, with_context: bool = True) -> list[tuple]:
        """``(scenario, results, run)`` for the context runs, the counterfactual, then each
        scenario (each name once)."""
        items = (list(self.context) if with_context else []) + [
            (self.counterfactual, self.counterfactual_results, self.counterfactual_run)] + [
            (c.scenario, c.results, c.run) for c in self.cases]
        seen, out = set(), []
        for sc, res, k in items:
            if sc.name not in seen:
                seen.add(sc.name)
                out.append((sc, res, k))
        return out

    def timeseries_tables(self) -> list[tuple[Scenario, list[str], np.ndarray]]:
        """``(scenario, columns, rows)`` of the counterfactual's and each scenario's simulated
        run (each name once, in that order), as ``timeseries.csv`` lays them out."""
        if self.runs is None:
            return []
        out, seen = [], set()
        order = [(self.runs.counterfactual, self.counterfactual)] + [
            (self.runs.scenarios[j], sc) for j, sc in enumerate(self.scenarios_given)]
        for i, sc in order:
            if sc.name not in seen:
                seen.add(sc.name)
                columns, rows = self.runs.batch.table(i)
                out.append((sc, columns, rows))
        return out

    @property
    def horizon(self) -> int:
        return int(self.counterfactual.time.horizon)

    @property
    def parliament(self) -> int:
        from tpsim.analysis.appraisal import PARLIAMENT_MONTHS

        if self.cases:
            return int(self.cases[0].appraisal.parliament_months)
        return min(PARLIAMENT_MONTHS, self.horizon)


def compare_scenarios(scenarios: list[Scenario], counterfactual: Scenario,
                      optimism_bias: float | None = None,
                      context: list[Scenario] = (), runs: ComparisonRuns | None = None,
                      switching: bool = True, service_attribution: bool = True) -> Comparison:
    """Simulate and appraise each scenario against ``counterfactual``
    (:func:`appraise_comparison`); ``optimism_bias`` (a fraction) overrides the scenarios'
    own. ``context`` scenarios are simulated alone, for the charts over time only. Time
    settings are the scenarios' own (set them before with :meth:`Scenario.replace`).
    ``runs``: already simulated (see :func:`appraise_comparison`). ``switching``: also find
    each option's switching values and break-even horizon (:mod:`tpsim.analysis.switching`,
    extra batched runs). ``service_attribution``: also attribute savings to each preventive
    service (:func:`tpsim.analysis.service_attribution.by_service`, extra batched runs)."""
    from tpsim.analysis.appraisal import Accounts
    from tpsim.analysis.cashflow import councils, section_114_months
    from tpsim.analysis.service_attribution import by_service
    from tpsim.analysis.switching import switching_analysis
    from tpsim.models.runner import run

    scenarios = list(scenarios)
    runs, appraised = appraise_comparison(scenarios, counterfactual, optimism_bias, runs)
    batch = runs.batch
    found = switching_analysis(runs, appraised, counterfactual) if switching else {}
    cases: list[Case] = []
    done = set()
    for a in appraised:
        done.add(a.scenario.name)
        g, k = batch.where[runs.scenarios[a.index]]
        s114 = section_114_months(batch.series(runs.scenarios[a.index]),
                                  batch.series(runs.counterfactual), councils(a.scenario))
        model = runs.models[a.index]
        services = by_service(model, runs.counterfactual_model, a.scenario.data,
                              batch.series(runs.counterfactual),
                              Accounts.from_model(model, a.scenario.data), a.settings) \
            if service_attribution else None
        cases.append(Case(a.scenario, batch.results[g], k, a.appraisal, a.flows, a.attribution,
                          a.settings, optimism_bias is not None, found.get(a.scenario.name),
                          s114, runs.scenarios[a.index], services))
    g, k = batch.where[runs.counterfactual]
    done.add(counterfactual.name)
    extra = []
    for sc in context:
        if sc.name not in done:
            done.add(sc.name)
            extra.append((sc, run(sc), 0))
    return Comparison(cases, counterfactual, batch.results[g], k, runs, extra, scenarios)
