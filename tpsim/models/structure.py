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


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    flat = np.array([i for x in lists for i in x], dtype=np.int64)
    return ptr, flat


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
    ag_of = {a: i for i, a in enumerate(agencies)}
    npop, nco, nprev, nreact, nag = len(pop_labels), len(cohorts), len(preventive), len(reactive), len(agencies)

    util_pairs = [(r, pop_of[(d["services"][r]["cohort"], s)])
                  for r in reactive for s in d["services"][r]["utilisation"]]
    nutil = len(util_pairs)
    po = lo.offsets(lo.param_sizes(npop, nco, nprev, nreact, nutil, nag))
    orders = [int(d["services"][v]["delay_order"]) for v in preventive]
    nstage = int(sum(orders))
    xo = lo.offsets(lo.state_sizes(npop, nco, nstage, nprev, nreact, nag))

    theta0 = np.zeros(int(po[-1]))
    names: list[str | None] = [None] * int(po[-1])

    def put(block: int, item: int, path: str, value) -> None:
        col = int(po[block]) + item
        theta0[col] = np.inf if value is None else float(value)
        names[col] = path

    for i, (c, s) in enumerate(pop_labels):
        st = d["cohorts"][c]["states"][s]
        base = f"cohorts.{c}.states.{s}"
        put(lo.P_INITIAL, i, f"{base}.initial", st["initial"])
        put(lo.P_INFLOW, i, f"{base}.inflow", st["inflow"])
        put(lo.P_ESC, i, f"{base}.escalation", st["escalation"])
        put(lo.P_REC, i, f"{base}.recovery", st["recovery"])
        put(lo.P_EXIT, i, f"{base}.exit", st["exit"])
    for c_i, c in enumerate(cohorts):
        put(lo.P_INFLOW_GROWTH, c_i, f"cohorts.{c}.inflow_growth", d["cohorts"][c]["inflow_growth"])
    pool = d["pool"]
    for v_i, v in enumerate(preventive):
        sv = d["services"][v]
        base = f"services.{v}"
        put(lo.P_PV_UNIT_COST, v_i, f"{base}.unit_cost", sv["unit_cost"])
        put(lo.P_PV_PLACES, v_i, f"{base}.places", sv["places"])
        put(lo.P_PV_UPTAKE, v_i, f"{base}.uptake", sv["uptake"])
        put(lo.P_PV_EFFECT, v_i, f"{base}.effect", sv["effect"])
        put(lo.P_PV_TIME_TO_EFFECT, v_i, f"{base}.time_to_effect", sv["time_to_effect"])
        put(lo.P_PV_COMM_PLACES, v_i, f"{base}.community.places", sv["community"]["places"])
        put(lo.P_PV_COMM_UNIT_COST, v_i, f"{base}.community.unit_cost", sv["community"]["unit_cost"])
        put(lo.P_PV_COMM_RAMP, v_i, f"{base}.community.ramp_time", sv["community"]["ramp_time"])
        put(lo.P_PV_POOL_SHARE, v_i, f"pool.services.{v}", pool["services"].get(v, 0.0))
    for r_i, r in enumerate(reactive):
        sv = d["services"][r]
        base = f"services.{r}"
        put(lo.P_RV_UNIT_COST, r_i, f"{base}.unit_cost", sv["unit_cost"])
        put(lo.P_RV_FIXED_SHARE, r_i, f"{base}.fixed_share", sv["fixed_share"])
        put(lo.P_RV_DECOMMISSION, r_i, f"{base}.decommission_delay", sv["decommission_delay"])
        put(lo.P_RV_CAPACITY, r_i, f"{base}.capacity", sv["capacity"])
        put(lo.P_RV_QUEUE_CLEAR, r_i, f"{base}.queue_clear_time", sv["queue_clear_time"])
        put(lo.P_RV_DETERIORATION, r_i, f"{base}.deterioration", sv["deterioration"])
    for k, (r, i) in enumerate(util_pairs):
        state = pop_labels[i][1]
        put(lo.P_UTIL, k, f"services.{r}.utilisation.{state}", d["services"][r]["utilisation"][state])
    agency_keys = [
        (lo.P_AG_BUDGET, "budget"), (lo.P_AG_GROWTH, "budget_growth"),
        (lo.P_AG_RESERVES, "reserves"), (lo.P_AG_OVERHEAD, "overhead"),
        (lo.P_AG_PERCEPTION, "perception_delay"), (lo.P_AG_CUT_RATE, "cut_rate"),
        (lo.P_AG_RESTORE_RATE, "restore_rate"), (lo.P_AG_FLOOR, "funding_floor"),
        (lo.P_AG_EFFICIENCY, "efficiency_target"), (lo.P_AG_EROSION, "quality_erosion"),
    ]
    for a_i, a in enumerate(agencies):
        for block, key in agency_keys:
            put(block, a_i, f"agencies.{a}.{key}", d["agencies"][a][key])
        put(lo.P_AG_CONTRIBUTION, a_i, f"pool.contributions.{a}", pool["contributions"].get(a, 0.0))
    loops = d["loops"]
    global_keys = [
        (lo.G_LOOP_DOOM, "loops.doom_loop", float(loops["doom_loop"])),
        (lo.G_LOOP_REINVEST, "loops.reinvestment", float(loops["reinvestment"])),
        (lo.G_LOOP_WAITING, "loops.waiting_deterioration", float(loops["waiting_deterioration"])),
        (lo.G_LOOP_EROSION, "loops.quality_erosion", float(loops["quality_erosion"])),
        (lo.G_POOL_ON, "pool.enabled", float(pool["enabled"])),
        (lo.G_POOL_START, "pool.start", pool["start"]),
        (lo.G_CAPTURE, "pool.capture_share", pool["capture_share"]),
        (lo.G_REINVEST_DELAY, "pool.reinvestment_delay", pool["reinvestment_delay"]),
        (lo.G_BASELINE_GROWTH, "pool.baseline_growth", pool["baseline_growth"]),
        (lo.G_ADJUST_TIME, "pool.adjust_time", pool["adjust_time"]),
        (lo.G_SPEND_DOWN, "pool.spend_down_time", pool["spend_down_time"]),
        (lo.G_SETUP_COST, "pool.setup_cost", pool["setup_cost"]),
        (lo.G_SETUP_MONTHS, "pool.setup_months", pool["setup_months"]),
        (lo.G_DR_COST, "pool.double_running.cost", pool["double_running"]["cost"]),
        (lo.G_DR_MONTHS, "pool.double_running.months", pool["double_running"]["months"]),
        (lo.G_OH_REDUCTION, "pool.overhead_reduction", pool["overhead_reduction"]),
        (lo.G_OH_RAMP, "pool.overhead_ramp", pool["overhead_ramp"]),
    ]
    for item, path, value in global_keys:
        put(lo.P_GLOBAL, item, path, value)
    assert all(n is not None for n in names), "every parameter slot must be filled"
    param_names = [str(n) for n in names]
    param_index = {n: i for i, n in enumerate(param_names)}

    # time-keyed changes, in time order
    ev = sorted(((float(ch["month"]), param_index[path], float(value))
                 for ch in d["changes"] for path, value in ch["set"].items()),
                key=lambda e: e[0])
    ev_month = np.array([e[0] for e in ev], dtype=float)
    ev_param = np.array([e[1] for e in ev], dtype=np.int64)
    ev_value0 = np.array([e[2] for e in ev], dtype=float)

    # structure
    pop_cohort = np.array([cohorts.index(c) for c, _ in pop_labels], dtype=np.int64)
    pop_first = np.array([states[c].index(s) == 0 for c, s in pop_labels], dtype=np.bool_)
    pop_last = np.array([states[c].index(s) == len(states[c]) - 1 for c, s in pop_labels], dtype=np.bool_)
    pop_utility = np.array([d["cohorts"][c]["states"][s].get("utility") or 0.0
                            for c, s in pop_labels], dtype=float)
    prev_agency = np.array([ag_of[d["services"][v]["agency"]] for v in preventive], dtype=np.int64)
    prev_order = np.array(orders, dtype=np.int64)
    prev_stage0 = np.concatenate([[0], np.cumsum(orders)[:-1]]).astype(np.int64) if orders \
        else np.zeros(0, dtype=np.int64)
    prev_lists = [[pop_of[(d["services"][v]["cohort"], s)] for s in d["services"][v]["states"]]
                  for v in preventive]
    prev_ptr, prev_pop = _csr(prev_lists)
    react_agency = np.array([ag_of[d["services"][r]["agency"]] for r in reactive], dtype=np.int64)
    react_lists = [[i for (rr, i) in util_pairs if rr == r] for r in reactive]
    react_ptr, react_pop = _csr(react_lists)
    pop_prev_ptr, pop_prev = _csr([[v for v in range(nprev) if i in prev_lists[v]] for i in range(npop)])
    pop_react_ptr, pop_react = _csr([[r for r in range(nreact) if i in react_lists[r]] for i in range(npop)])
    serving = [set() for _ in range(npop)]
    for v in range(nprev):
        for i in prev_lists[v]:
            serving[i].add(int(prev_agency[v]))
    for r in range(nreact):
        for i in react_lists[r]:
            serving[i].add(int(react_agency[r]))
    pop_ag_ptr, pop_ag = _csr([sorted(s) for s in serving])

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
        structure=dict(
            pop_cohort=pop_cohort, pop_first=pop_first, pop_last=pop_last,
            prev_agency=prev_agency, prev_order=prev_order, prev_stage0=prev_stage0,
            prev_ptr=prev_ptr, prev_pop=prev_pop, react_agency=react_agency,
            react_ptr=react_ptr, react_pop=react_pop, pop_prev_ptr=pop_prev_ptr,
            pop_prev=pop_prev, pop_react_ptr=pop_react_ptr, pop_react=pop_react,
            pop_ag_ptr=pop_ag_ptr, pop_ag=pop_ag,
        ),
        pop_utility=pop_utility,
    )
