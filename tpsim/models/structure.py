"""Compile a validated scenario into flat numpy arrays and index maps for the kernel.

The compiled :class:`Model` holds

* ``theta0``: the base parameter vector; ``param_index`` maps every dotted path of the scenario
  (``services.falls_prevention.effect``) to its column, so ensembles and calibration override
  parameters per run by setting columns of a ``theta`` matrix;
* the time-keyed changes as three arrays (month, column, value);
* integer structure arrays (which state belongs to which cohort, which services serve which
  states, ...), shared by every run;
* the offsets ``po`` / ``xo`` of the parameter and state blocks (:mod:`tpsim.models.layout`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tpsim.models import layout as lo


@dataclass
class Model:
    """A scenario compiled to arrays. Immutable by convention; copy ``theta0`` before editing."""

    name: str
    scenario_hash: str
    agencies: list[str]
    agency_types: list[str]
    cohorts: list[str]
    states: dict[str, list[str]]
    pop_labels: list[tuple[str, str]]
    preventive: list[str]
    reactive: list[str]
    services: list[str]
    service_agency: dict[str, str]
    service_cohort: dict[str, str]
    dt: float
    steps_per_month: int
    n_months: int
    method: str
    theta0: np.ndarray
    param_names: list[str]
    param_index: dict[str, int]
    ev_month: np.ndarray
    ev_param: np.ndarray
    ev_value0: np.ndarray
    po: np.ndarray
    xo: np.ndarray
    structure: dict[str, np.ndarray] = field(repr=False)
    pop_utility: np.ndarray = field(repr=False)

    @property
    def npop(self) -> int:
        return len(self.pop_labels)

    @property
    def nstate(self) -> int:
        return int(self.xo[-1])

    @property
    def nparam(self) -> int:
        return int(self.po[-1])

    def pop_index(self, cohort: str, state: str) -> int:
        return self.pop_labels.index((cohort, state))

    def x_index(self, block: int, item: int = 0) -> int:
        """Index in the state vector of ``item`` of state block ``block``."""
        return int(self.xo[block]) + item

    def theta(self, n_runs: int = 1) -> np.ndarray:
        """A fresh ``n_runs x nparam`` parameter matrix filled with the base values."""
        return np.tile(self.theta0, (n_runs, 1))

    def runs_theta(self, theta: np.ndarray | None) -> np.ndarray:
        """``theta`` as a contiguous float64 runs x nparam matrix (None: one run at the base
        values); a ValueError when its columns are not the model's parameters."""
        if theta is None:
            theta = self.theta(1)
        theta = np.ascontiguousarray(np.atleast_2d(theta), dtype=np.float64)
        if theta.shape[1] != self.nparam:
            raise ValueError(f"theta has {theta.shape[1]} columns; the model has {self.nparam}")
        return theta

    def event_values(self, n_runs: int = 1) -> np.ndarray:
        return np.tile(self.ev_value0, (n_runs, 1))

    def param_path_over_time(self, column: int, theta_row: np.ndarray,
                             ev_row: np.ndarray) -> np.ndarray:
        """Value of parameter ``column`` in force during each month 1..n_months of one run."""
        months = np.arange(self.n_months)
        values = np.full(self.n_months, theta_row[column], dtype=float)
        for k in np.flatnonzero(self.ev_param == column):
            first_step_month = np.ceil(self.ev_month[k] / self.dt - 1e-9) * self.dt
            values[months >= first_step_month] = ev_row[k]
        return values


# ---- the parameter table ------------------------------------------------------------------
# Every column of theta comes from one row of this table: (block, entity, key). The block's
# items are the entity's members in order (``ENTITY`` below: every need state of every cohort,
# every preventive service, ...); the column's dotted path is the member's path in the scenario
# followed by ``key``, and its value is read from the scenario at that path (``None``, i.e.
# unlimited, compiles to inf). Rows are in block order, so the table also fixes the layout.
PARAMETER_TABLE: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (lo.P_INITIAL, "state", ("initial",)),
    (lo.P_INFLOW, "state", ("inflow",)),
    (lo.P_ESC, "state", ("escalation",)),
    (lo.P_REC, "state", ("recovery",)),
    (lo.P_EXIT, "state", ("exit",)),
    (lo.P_INFLOW_GROWTH, "cohort", ("inflow_growth",)),
    (lo.P_PV_UNIT_COST, "preventive", ("unit_cost",)),
    (lo.P_PV_PLACES, "preventive", ("places",)),
    (lo.P_PV_UPTAKE, "preventive", ("uptake",)),
    (lo.P_PV_EFFECT, "preventive", ("effect",)),
    (lo.P_PV_TIME_TO_EFFECT, "preventive", ("time_to_effect",)),
    (lo.P_PV_COMM_PLACES, "preventive", ("community", "places")),
    (lo.P_PV_COMM_UNIT_COST, "preventive", ("community", "unit_cost")),
    (lo.P_PV_COMM_RAMP, "preventive", ("community", "ramp_time")),
    (lo.P_PV_POOL_SHARE, "pool_share", ()),
    (lo.P_RV_UNIT_COST, "reactive", ("unit_cost",)),
    (lo.P_RV_FIXED_SHARE, "reactive", ("fixed_share",)),
    (lo.P_RV_DECOMMISSION, "reactive", ("decommission_delay",)),
    (lo.P_RV_CAPACITY, "reactive", ("capacity",)),
    (lo.P_RV_QUEUE_CLEAR, "reactive", ("queue_clear_time",)),
    (lo.P_RV_DETERIORATION, "reactive", ("deterioration",)),
    (lo.P_UTIL, "utilisation", ()),
    (lo.P_AG_BUDGET, "agency", ("budget",)),
    (lo.P_AG_GROWTH, "agency", ("budget_growth",)),
    (lo.P_AG_RESERVES, "agency", ("reserves",)),
    (lo.P_AG_OVERHEAD, "agency", ("overhead",)),
    (lo.P_AG_PERCEPTION, "agency", ("perception_delay",)),
    (lo.P_AG_CUT_RATE, "agency", ("cut_rate",)),
    (lo.P_AG_RESTORE_RATE, "agency", ("restore_rate",)),
    (lo.P_AG_FLOOR, "agency", ("funding_floor",)),
    (lo.P_AG_EFFICIENCY, "agency", ("efficiency_target",)),
    (lo.P_AG_EROSION, "agency", ("quality_erosion",)),
    (lo.P_AG_CONTRIBUTION, "pool_contribution", ()),
    (lo.P_GLOBAL, "global", ()),
    (lo.P_DEATH_SHARE, "state", ("death_share",)),
    (lo.P_TRANS_SHARE, "state", ("transition_share",)),
    (lo.P_EMPLOYMENT, "state", ("employment",)),
    (lo.P_EMPLOY_VALUE, "cohort", ("employment_value",)),
    (lo.P_PV_RECOVERY, "preventive", ("recovery_effect",)),
    (lo.P_PV_SHORT_RUN, "preventive", ("short_run_effect",)),
    (lo.P_PV_DECAY, "preventive", ("effect_decay",)),
    (lo.P_PV_DEADWEIGHT, "preventive", ("deadweight",)),
    (lo.P_PV_DISPLACEMENT, "preventive", ("displacement",)),
    (lo.P_PV_ATTRIBUTION, "preventive", ("attribution",)),
    (lo.P_RV_CASHABLE, "reactive", ("cashable_share",)),
    (lo.P_UTIL_EFFECT, "utilisation_link", ()),
    (lo.P_SUBSTITUTION, "substitution_link", ()),
)

# The scalar block's items, in ``G_*`` order (the "global" entity).
GLOBAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("loops", "doom_loop"), ("loops", "reinvestment"), ("loops", "waiting_deterioration"),
    ("loops", "quality_erosion"), ("pool", "enabled"), ("pool", "start"),
    ("pool", "capture_share"), ("pool", "reinvestment_delay"), ("pool", "baseline_growth"),
    ("pool", "adjust_time"), ("pool", "spend_down_time"), ("pool", "setup_cost"),
    ("pool", "setup_months"), ("pool", "double_running", "cost"),
    ("pool", "double_running", "months"), ("pool", "overhead_reduction"),
    ("pool", "overhead_ramp"),
)

# Entities whose scenario key may be absent (a service or agency outside the pool): value 0.
_ABSENT_IS_ZERO = frozenset({"pool_share", "pool_contribution"})


def links(d: dict, preventive: list[str], key: str) -> list[tuple[str, str]]:
    """(preventive service, reactive service) pairs of ``key`` (``utilisation_effects`` or
    ``substitutes``), in service order then document order."""
    return [(v, r) for v in preventive for r in d["services"][v].get(key, {})]


def _entities(d: dict, pop_labels, preventive, reactive, util_pairs) -> dict[str, list[tuple]]:
    """The scenario path of each member of each entity, in item order."""
    return {
        "utilisation_link": [("services", v, "utilisation_effects", r)
                             for v, r in links(d, preventive, "utilisation_effects")],
        "substitution_link": [("services", v, "substitutes", r)
                              for v, r in links(d, preventive, "substitutes")],
        "state": [("cohorts", c, "states", s) for c, s in pop_labels],
        "cohort": [("cohorts", c) for c in d["cohorts"]],
        "preventive": [("services", v) for v in preventive],
        "pool_share": [("pool", "services", v) for v in preventive],
        "reactive": [("services", r) for r in reactive],
        "utilisation": [("services", r, "utilisation", pop_labels[i][1]) for r, i in util_pairs],
        "agency": [("agencies", a) for a in d["agencies"]],
        "pool_contribution": [("pool", "contributions", a) for a in d["agencies"]],
        "global": list(GLOBAL_PATHS),
    }


def _lookup(d: dict, path: tuple[str, ...], absent_is_zero: bool) -> float:
    node = d
    for key in path[:-1]:
        node = node[key]
    if absent_is_zero and path[-1] not in node:
        return 0.0
    value = node[path[-1]]
    return np.inf if value is None else float(value)


def parameter_layout(d: dict, pop_labels, preventive, reactive,
                     util_pairs) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Offsets ``po``, base values ``theta0`` and dotted names of every parameter column, built
    from :data:`PARAMETER_TABLE` in one loop."""
    entities = _entities(d, pop_labels, preventive, reactive, util_pairs)
    assert [row[0] for row in PARAMETER_TABLE] == list(range(lo.N_PBLOCKS))
    assert len(GLOBAL_PATHS) == lo.N_GLOBAL
    columns = [(prefix + key, entity in _ABSENT_IS_ZERO)
               for _, entity, key in PARAMETER_TABLE for prefix in entities[entity]]
    po = lo.offsets([len(entities[entity]) for _, entity, _ in PARAMETER_TABLE])
    theta0 = np.array([_lookup(d, path, zero) for path, zero in columns], dtype=float)
    names = [".".join(path) for path, _ in columns]
    return po, theta0, names


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    flat = np.array([i for x in lists for i in x], dtype=np.int64)
    return ptr, flat


def _changes(d: dict, param_index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The time-keyed changes as (month, column, value) arrays in time order (stable)."""
    ev = sorted(((float(ch["month"]), param_index[path], float(value))
                 for ch in d["changes"] for path, value in ch["set"].items()),
                key=lambda e: e[0])
    return (np.array([e[0] for e in ev], dtype=float), np.array([e[1] for e in ev], dtype=np.int64),
            np.array([e[2] for e in ev], dtype=float))


def _structure_arrays(d: dict, agencies, cohorts, states, pop_labels, preventive, reactive,
                      util_pairs) -> dict[str, np.ndarray]:
    """Integer structure shared by every run: which cohort each state is in, which states each
    service serves (and the reverse, as CSR pointer + index arrays), which agency runs it."""
    pop_of = {lab: i for i, lab in enumerate(pop_labels)}
    ag_of = {a: i for i, a in enumerate(agencies)}
    npop, nprev, nreact = len(pop_labels), len(preventive), len(reactive)
    orders = [int(d["services"][v]["delay_order"]) for v in preventive]
    prev_agency = np.array([ag_of[d["services"][v]["agency"]] for v in preventive], dtype=np.int64)
    prev_lists = [[pop_of[(d["services"][v]["cohort"], s)] for s in d["services"][v]["states"]]
                  for v in preventive]
    react_agency = np.array([ag_of[d["services"][r]["agency"]] for r in reactive], dtype=np.int64)
    react_lists = [[i for (rr, i) in util_pairs if rr == r] for r in reactive]
    serving = [set() for _ in range(npop)]
    for v in range(nprev):
        for i in prev_lists[v]:
            serving[i].add(int(prev_agency[v]))
    for r in range(nreact):
        for i in react_lists[r]:
            serving[i].add(int(react_agency[r]))
    out = dict(
        pop_cohort=np.array([cohorts.index(c) for c, _ in pop_labels], dtype=np.int64),
        pop_first=np.array([states[c].index(s) == 0 for c, s in pop_labels], dtype=np.bool_),
        pop_last=np.array([states[c].index(s) == len(states[c]) - 1 for c, s in pop_labels],
                          dtype=np.bool_),
        prev_agency=prev_agency,
        prev_order=np.array(orders, dtype=np.int64),
        prev_stage0=(np.concatenate([[0], np.cumsum(orders)[:-1]]).astype(np.int64) if orders
                     else np.zeros(0, dtype=np.int64)),
    )
    out["prev_ptr"], out["prev_pop"] = _csr(prev_lists)
    out["react_agency"] = react_agency
    out["react_ptr"], out["react_pop"] = _csr(react_lists)
    out["pop_prev_ptr"], out["pop_prev"] = _csr([[v for v in range(nprev) if i in prev_lists[v]]
                                                 for i in range(npop)])
    out["pop_react_ptr"], out["pop_react"] = _csr([[r for r in range(nreact) if i in react_lists[r]]
                                                   for i in range(npop)])
    out["pop_ag_ptr"], out["pop_ag"] = _csr([sorted(s) for s in serving])
    out.update(_mechanism_arrays(d, cohorts, states, pop_labels, preventive, reactive,
                                 util_pairs, prev_lists, react_lists))
    return out


def _mechanism_arrays(d: dict, cohorts, states, pop_labels, preventive, reactive, util_pairs,
                      prev_lists, react_lists) -> dict[str, np.ndarray]:
    """Structure of the prevention mechanisms and cohort transitions (docs/model.md):

    * ``ulink_prev`` / ``ulink_react``: the services of each utilisation-effect link;
      ``util_link_ptr`` / ``util_link``: for each utilisation pair, the links that scale it;
    * ``sub_prev`` / ``sub_react``: the services of each substitution link;
      ``pop_sub_ptr`` / ``pop_sub``: for each population index, the substitution links that
      divert its escalation (the state above it is used by the substituted service);
    * ``pop_trans``: the population index people leaving by transition enter (-1: none);
      ``trans_in_ptr`` / ``trans_in``: for each population index, the ones that feed it.
    """
    pop_of = {lab: i for i, lab in enumerate(pop_labels)}
    npop = len(pop_labels)
    out = {}
    ulinks = links(d, preventive, "utilisation_effects")
    out["ulink_prev"] = np.array([preventive.index(v) for v, _ in ulinks], dtype=np.int64)
    out["ulink_react"] = np.array([reactive.index(r) for _, r in ulinks], dtype=np.int64)
    out["util_link_ptr"], out["util_link"] = _csr(
        [[k for k, (v, rr) in enumerate(ulinks)
          if reactive.index(rr) == r and i in prev_lists[preventive.index(v)]]
         for r, i in [(reactive.index(r), i) for r, i in util_pairs]])
    subs = links(d, preventive, "substitutes")
    out["sub_prev"] = np.array([preventive.index(v) for v, _ in subs], dtype=np.int64)
    out["sub_react"] = np.array([reactive.index(r) for _, r in subs], dtype=np.int64)
    last = {i for c in cohorts for i in [pop_of[(c, states[c][-1])]]}
    out["pop_sub_ptr"], out["pop_sub"] = _csr(
        [[k for k, (v, r) in enumerate(subs)
          if i not in last and i in prev_lists[preventive.index(v)]
          and i + 1 in react_lists[reactive.index(r)]] for i in range(npop)])
    trans = np.full(npop, -1, dtype=np.int64)
    for c in cohorts:
        t = d["cohorts"][c].get("transition")
        if t:
            for s_from, s_to in t["states"].items():
                trans[pop_of[(c, s_from)]] = pop_of[(t["cohort"], s_to)]
    out["pop_trans"] = trans
    out["trans_in_ptr"], out["trans_in"] = _csr([[j for j in range(npop) if trans[j] == i]
                                                 for i in range(npop)])
    return out


def compile_scenario(scenario) -> Model:
    """Compile a validated :class:`tpsim.config.scenario.Scenario` into a :class:`Model`."""
    d = scenario.data
    agencies = list(d["agencies"])
    cohorts = list(d["cohorts"])
    states = {c: list(d["cohorts"][c]["states"]) for c in cohorts}
    pop_labels = [(c, s) for c in cohorts for s in states[c]]
    pop_of = {lab: i for i, lab in enumerate(pop_labels)}
    services = list(d["services"])
    preventive = [v for v in services if d["services"][v]["kind"] == "preventive"]
    reactive = [v for v in services if d["services"][v]["kind"] == "reactive"]
    # (reactive service, population index) for every state a reactive service is used from
    util_pairs = [(r, pop_of[(d["services"][r]["cohort"], s)])
                  for r in reactive for s in d["services"][r]["utilisation"]]

    po, theta0, param_names = parameter_layout(d, pop_labels, preventive, reactive, util_pairs)
    assert np.array_equal(po, lo.offsets(lo.param_sizes(
        len(pop_labels), len(cohorts), len(preventive), len(reactive), len(util_pairs),
        len(agencies), len(links(d, preventive, "utilisation_effects")),
        len(links(d, preventive, "substitutes"))))), \
        "the parameter table must match the kernel's layout"
    param_index = {n: i for i, n in enumerate(param_names)}
    nstage = int(sum(int(d["services"][v]["delay_order"]) for v in preventive))
    xo = lo.offsets(lo.state_sizes(len(pop_labels), len(cohorts), nstage, len(preventive),
                                   len(reactive), len(agencies)))
    ev_month, ev_param, ev_value0 = _changes(d, param_index)
    structure = _structure_arrays(d, agencies, cohorts, states, pop_labels, preventive, reactive,
                                  util_pairs)
    pop_utility = np.array([d["cohorts"][c]["states"][s].get("utility") or 0.0
                            for c, s in pop_labels], dtype=float)

    t = d["time"]
    steps_per_month = int(round(1.0 / float(t["dt"])))
    return Model(
        name=scenario.name, scenario_hash=scenario.hash,
        agencies=agencies, agency_types=[d["agencies"][a]["type"] for a in agencies],
        cohorts=cohorts, states=states, pop_labels=pop_labels,
        preventive=preventive, reactive=reactive, services=services,
        service_agency={v: d["services"][v]["agency"] for v in services},
        service_cohort={v: d["services"][v]["cohort"] for v in services},
        dt=1.0 / steps_per_month, steps_per_month=steps_per_month, n_months=int(t["horizon"]),
        method=t["method"], theta0=theta0, param_names=param_names, param_index=param_index,
        ev_month=ev_month, ev_param=ev_param, ev_value0=ev_value0, po=po, xo=xo,
        structure=structure, pop_utility=pop_utility,
    )
