"""The one table of output series: every monthly series tpsim reports, its state terms,
dimension, unit and meaning.

A series *family* (``spend.agency``) has one column per label of its dimension
(``spend.agency.council_asc``, ...; a family without a dimension is one column named as the
family, ``spend.total``). Most families are linear in the state vector ``x``: a sum of
``coef x entry / scale`` over state entries, read as a **stock** (the value at each month end)
or a **flow** (the difference of cumulative accumulators over each month). Two are
**derived** (a ratio, or places that change with time-keyed parameters) and are computed from
the run's parameters as well.

Used by :func:`tpsim.models.results.build_results` (every run's labelled series), by the
ensemble (which records only the entries its tracked series read, :func:`series_terms`), and
by anything else that needs to know where a series lives in the state vector (the
individual-level model can ask :func:`series_terms` for the entry of ``coverage.<service>``).
The state layout constants (:mod:`tpsim.models.layout`) are known here and in the model
package only.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from tpsim.models import layout as lo
from tpsim.models.structure import Model

__all__ = ["Family", "SeriesTerms", "FAMILIES", "COLUMN_GROUPS", "family", "dim_labels",
           "columns", "parse", "series_terms", "evaluate", "evaluate_all", "variable_name"]

#: Dimension names and what labels them in a compiled model. ``cohort_state`` is a pair
#: dimension (a population state belongs to one cohort; each cohort has its own states).
DIMENSIONS = ("agency", "service", "reactive_service", "preventive_service", "kind", "cohort",
              "cohort_state")


@dataclass(frozen=True)
class SeriesTerms:
    """A series as ``sum(coef_i * entry_i / scale)`` over state entries ``index`` (positions in
    the state vector): a ``flow`` (difference over each month of accumulators) or a ``stock``
    (value at each month end)."""

    kind: str  # "flow" | "stock"
    index: tuple[int, ...]
    coef: tuple[float, ...]
    scale: float = 1.0


# A term as the table states it: (state block, item within the block, coefficient).
Term = tuple[int, int, float]


@dataclass(frozen=True)
class Family:
    """One family of series. ``terms(model, label)`` gives the state terms of one column
    (``label`` is None without a dimension, a string for one dimension, a (cohort, state)
    pair for ``cohort_state``); derived families have ``derive`` instead."""

    name: str
    dim: str | None
    kind: str  # "stock" | "flow" | "derived"
    unit: str
    description: str
    blocks: tuple[str, ...]
    terms: Callable[[Model, object], list[Term]] | None = None
    scale: float = 1.0
    derive: Callable[["_Reader", object], np.ndarray] | None = None

    @property
    def variable(self) -> str:
        """The family's name as an identifier (``spend_agency``): its xarray variable."""
        return variable_name(self.name)


def variable_name(name: str) -> str:
    return name.replace(".", "_")


def _prev(model: Model, v: str) -> int:
    return model.preventive.index(v)


def _react(model: Model, r: str) -> int:
    return model.reactive.index(r)


def _ag(model: Model, a: str) -> int:
    return model.agencies.index(a)


def _service_block(prev_block: int, react_block: int):
    def terms(model: Model, v: str) -> list[Term]:
        if v in model.preventive:
            return [(prev_block, _prev(model, v), 1.0)]
        return [(react_block, _react(model, v), 1.0)]
    return terms


def _agency_block(block: int):
    return lambda model, a: [(block, _ag(model, a), 1.0)]


def _cohort_block(block: int):
    return lambda model, c: [(block, model.cohorts.index(c), 1.0)]


def _scalar(*blocks: tuple[int, float]):
    return lambda model, _: [(b, 0, c) for b, c in blocks]


def _spend_kind(model: Model, kind: str) -> list[Term]:
    if kind == "preventive":
        return [(lo.A_SPEND_PREV, v, 1.0) for v in range(len(model.preventive))]
    return [(lo.A_SPEND_REACT, r, 1.0) for r in range(len(model.reactive))]


def _coverage(model: Model, v: str) -> list[Term]:
    v_i = _prev(model, v)
    s = model.structure
    return [(lo.X_STAGE, int(s["prev_stage0"][v_i] + s["prev_order"][v_i] - 1), 1.0)]


def _crisis(model: Model, c: str) -> list[Term]:
    return [(lo.A_PERSON_MONTHS, model.pop_index(c, model.states[c][-1]), 1.0)]


def _qalys(model: Model, c: str) -> list[Term]:
    return [(lo.A_PERSON_MONTHS, model.pop_index(c, s), float(model.pop_utility[model.pop_index(c, s)]))
            for s in model.states[c]]


def _pressure(r: "_Reader", a: str) -> np.ndarray:
    a_i = _ag(r.model, a)
    budget = r.flow(lo.A_BUDGET, a_i)
    perceived = r.stock(lo.X_PERCEIVED, a_i)
    # as the doom loop reads it (kernel.py): 10^6 when there is no budget, so the series stays
    # finite and says "far above 1"
    funded = budget > 1e-12
    return np.where(funded, perceived / np.where(funded, budget, 1.0), 1e6)


def _prevention_funding(r: "_Reader", v: str) -> np.ndarray:
    model, raw = r.model, r.raw
    v_i = _prev(model, v)
    col = model.po[lo.P_PV_PLACES] + v_i
    places = np.stack([model.param_path_over_time(col, raw.theta[k], raw.ev_values[k])
                       for k in range(raw.theta.shape[0])])
    return (r.stock(lo.X_FUNDING, v_i) * places + r.stock(lo.X_POOL_PLACES, v_i)
            + r.stock(lo.X_COMMUNITY, v_i))


MONEY = "GBP per month"
F = Family
#: Every output series, in the order docs/outputs.md lists them.
FAMILIES: tuple[Family, ...] = (
    F("population", "cohort_state", "stock", "people", "people in the need state",
      ("X_POP",), lambda m, cs: [(lo.X_POP, m.pop_index(*cs), 1.0)]),
    F("activity", "service", "flow", "events or person-months per month",
      "reactive: events delivered in the month; preventive: people covered, summed over the "
      "month (person-months)", ("A_ACT_PREV", "A_ACT_REACT"),
      _service_block(lo.A_ACT_PREV, lo.A_ACT_REACT)),
    F("waiting", "reactive_service", "stock", "people",
      "waiting list of a reactive service (0 without a capacity limit)", ("X_WAITING",),
      lambda m, r: [(lo.X_WAITING, _react(m, r), 1.0)]),
    F("spend.service", "service", "flow", MONEY, "cash spend on the service",
      ("A_SPEND_PREV", "A_SPEND_REACT"), _service_block(lo.A_SPEND_PREV, lo.A_SPEND_REACT)),
    F("value.service", "reactive_service", "flow", MONEY,
      "reactive activity x unit cost: the full (economic) cost of the activity",
      ("A_VALUE_REACT",), lambda m, r: [(lo.A_VALUE_REACT, _react(m, r), 1.0)]),
    F("spend.agency", "agency", "flow", MONEY,
      "everything the agency pays: services, overhead, pool contributions, captured savings",
      ("A_AG_SPEND",), _agency_block(lo.A_AG_SPEND)),
    F("spend.kind", "kind", "flow", MONEY,
      "spend on preventive services (whoever pays) or reactive services' cash spend",
      ("A_SPEND_PREV", "A_SPEND_REACT"), _spend_kind),
    F("spend.overhead", None, "flow", MONEY, "duplication and compliance overhead, all agencies",
      ("A_AG_OVERHEAD",), lambda m, _: [(lo.A_AG_OVERHEAD, a, 1.0) for a in range(len(m.agencies))]),
    F("spend.transition", None, "flow", MONEY, "pool set-up and double-running costs",
      ("A_SETUP", "A_DOUBLE_RUNNING"), _scalar((lo.A_SETUP, 1.0), (lo.A_DOUBLE_RUNNING, 1.0))),
    F("spend.total", None, "flow", MONEY,
      "total public spend: services + overhead + pool spending (transfers counted once)",
      ("A_TOTAL",), _scalar((lo.A_TOTAL, 1.0))),
    F("budget.agency", "agency", "flow", MONEY, "the agency's budget for the modelled services",
      ("A_BUDGET",), _agency_block(lo.A_BUDGET)),
    F("reserves.agency", "agency", "stock", "GBP", "reserves at month end",
      ("X_RESERVES",), lambda m, a: [(lo.X_RESERVES, _ag(m, a), 1.0)]),
    F("pressure.agency", "agency", "derived", "ratio",
      "perceived (smoothed) spend at month end over the month's budget",
      ("X_PERCEIVED", "A_BUDGET"), derive=_pressure),
    F("overhead.agency", "agency", "flow", MONEY, "the agency's overhead",
      ("A_AG_OVERHEAD",), _agency_block(lo.A_AG_OVERHEAD)),
    F("contribution.agency", "agency", "flow", MONEY, "paid into the pool",
      ("A_AG_CONTRIB",), _agency_block(lo.A_AG_CONTRIB)),
    F("capture.agency", "agency", "flow", MONEY, "captured savings paid into the pool",
      ("A_AG_CAPTURE",), _agency_block(lo.A_AG_CAPTURE)),
    F("prevention_funding", "preventive_service", "derived", "places",
      "funded places at month end: agency places + pool places + community places",
      ("X_FUNDING", "X_POOL_PLACES", "X_COMMUNITY"), derive=_prevention_funding),
    F("funding_level", "preventive_service", "stock", "fraction",
      "the agency's funding level for the service (1 = as planned)", ("X_FUNDING",),
      lambda m, v: [(lo.X_FUNDING, _prev(m, v), 1.0)]),
    F("coverage", "preventive_service", "stock", "fraction",
      "effective coverage: coverage after the delay to effect", ("X_STAGE",), _coverage),
    F("pool.balance", None, "stock", "GBP", "unspent pool money", ("X_POOL",),
      _scalar((lo.X_POOL, 1.0))),
    F("pool.reinvested", None, "flow", MONEY, "captured savings flowing back into the pool",
      ("A_REINVESTED",), _scalar((lo.A_REINVESTED, 1.0))),
    F("pool.contributions", None, "flow", MONEY, "agencies' contributions into the pool",
      ("A_POOL_IN", "A_REINVESTED"), _scalar((lo.A_POOL_IN, 1.0), (lo.A_REINVESTED, -1.0))),
    F("pool.spend", None, "flow", MONEY,
      "pool spending on places, community places, set-up and double running",
      ("A_POOL_SPEND",), _scalar((lo.A_POOL_SPEND, 1.0))),
    F("inflow", "cohort", "flow", "people per month", "people entering the cohort",
      ("A_INFLOW",), _cohort_block(lo.A_INFLOW)),
    F("escalations", "cohort", "flow", "people per month", "moves to a higher need state",
      ("A_ESC",), _cohort_block(lo.A_ESC)),
    F("exits", "cohort", "flow", "people per month",
      "exits other than deaths and transitions (moving away, custody); all exits of a state "
      "without death_share / transition_share", ("A_EXIT",), _cohort_block(lo.A_EXIT)),
    F("recoveries", "cohort", "flow", "people per month",
      "moves to a lower need state, including escalations substituted by a preventive service",
      ("A_REC",), _cohort_block(lo.A_REC)),
    F("deaths", "cohort", "flow", "people per month", "deaths (death_share of exits)",
      ("A_DEATH",), _cohort_block(lo.A_DEATH)),
    F("transitions_out", "cohort", "flow", "people per month",
      "moves into another cohort (transition_share of exits, e.g. turning 18)",
      ("A_TRANS_OUT",), _cohort_block(lo.A_TRANS_OUT)),
    F("transitions_in", "cohort", "flow", "people per month",
      "arrivals from another cohort's transitions", ("A_TRANS_IN",),
      _cohort_block(lo.A_TRANS_IN)),
    F("employed", "cohort", "flow", "person-months per month",
      "people in work (the states' employment shares x people)", ("A_EMPLOYED",),
      _cohort_block(lo.A_EMPLOYED)),
    F("employment_value", "cohort", "flow", MONEY,
      "tax and National Insurance paid by people in work (to HMRC): a fiscal transfer, not "
      "an economic benefit", ("A_EMPLOY_VALUE",), _cohort_block(lo.A_EMPLOY_VALUE)),
    F("crisis_person_months", "cohort", "flow", "person-months per month",
      "time spent in the cohort's highest need state", ("A_PERSON_MONTHS",), _crisis),
    F("qalys", "cohort", "flow", "QALYs per month",
      "person-months x the state's utility / 12, undiscounted", ("A_PERSON_MONTHS",), _qalys,
      scale=12.0),
)
del F

_BY_NAME = {f.name: f for f in FAMILIES}

#: The column order of timeseries.csv: groups of families, each group emitted label by label
#: (``overhead.agency.a, contribution.agency.a, capture.agency.a, overhead.agency.b, ...``).
COLUMN_GROUPS: tuple[tuple[str, ...], ...] = (
    ("population",), ("activity",), ("waiting",), ("spend.service",), ("value.service",),
    ("spend.agency",), ("spend.kind",), ("spend.overhead",), ("spend.transition",),
    ("spend.total",), ("budget.agency",), ("reserves.agency",), ("pressure.agency",),
    ("overhead.agency", "contribution.agency", "capture.agency"),
    ("prevention_funding", "funding_level", "coverage"),
    ("pool.balance",), ("pool.reinvested",), ("pool.contributions",), ("pool.spend",),
    ("inflow", "escalations", "exits", "crisis_person_months", "qalys"),
    ("recoveries", "deaths", "transitions_out", "transitions_in", "employed",
     "employment_value"),
)
assert sorted(n for g in COLUMN_GROUPS for n in g) == sorted(_BY_NAME)


def family(name: str) -> Family:
    """The family called ``name`` (``spend.agency``)."""
    return _BY_NAME[name]


def dim_labels(model: Model, dim: str | None) -> list:
    """Labels of a dimension in ``model`` ([None] for a family without a dimension)."""
    if dim is None:
        return [None]
    return {"agency": model.agencies, "service": model.services,
            "reactive_service": model.reactive, "preventive_service": model.preventive,
            "kind": ["preventive", "reactive"], "cohort": model.cohorts,
            "cohort_state": [tuple(p) for p in model.pop_labels]}[dim]


def column_name(fam: Family, label) -> str:
    """The dotted column of one label: ``spend.agency.council_asc``, ``population.c.s``."""
    if label is None:
        return fam.name
    if isinstance(label, tuple):
        return ".".join((fam.name,) + label)
    return f"{fam.name}.{label}"


def columns(model: Model) -> Iterator[tuple[str, Family, object]]:
    """(column name, family, label) of every series of ``model``, in timeseries.csv order."""
    for group in COLUMN_GROUPS:
        fams = [_BY_NAME[n] for n in group]
        for label in dim_labels(model, fams[0].dim):
            for fam in fams:
                yield column_name(fam, label), fam, label


def parse(model: Model, name: str) -> tuple[Family, object] | None:
    """(family, label) of a dotted series name in ``model``, or None if it has no such series."""
    for fam in FAMILIES:
        if name == fam.name and fam.dim is None:
            return fam, None
        if fam.dim is None or not name.startswith(fam.name + "."):
            continue
        rest = name[len(fam.name) + 1:]
        label = tuple(rest.split(".", 1)) if fam.dim == "cohort_state" else rest
        if label in dim_labels(model, fam.dim):
            return fam, label
    return None


def series_terms(model: Model, name: str) -> SeriesTerms | None:
    """The state terms of series ``name`` in ``model`` (positions in the state vector), or None
    for an unknown name or a derived series (which is not a sum of state entries)."""
    found = parse(model, name)
    if found is None or found[0].terms is None:
        return None
    fam, label = found
    t = fam.terms(model, label)
    return SeriesTerms(fam.kind, tuple(int(model.x_index(b, i)) for b, i, _ in t),
                       tuple(float(c) for _, _, c in t), fam.scale)


class _Reader:
    """Monthly stocks and flows of state entries of a recorded trajectory (runs x months+1 x
    nstate): month ``m`` reads stocks at the end of ``m`` and flows from ``m - 1`` to ``m``."""

    def __init__(self, model: Model, raw):
        self.model, self.raw = model, raw
        self.traj = raw.trajectory

    def stock(self, block: int, item: int = 0) -> np.ndarray:
        return self.traj[:, 1:, self.model.xo[block] + item]

    def flow(self, block: int, item: int = 0) -> np.ndarray:
        return np.diff(self.traj[:, :, self.model.xo[block] + item], axis=1)


def evaluate(model: Model, raw, fam: Family, label) -> np.ndarray:
    """One column (runs x months) from a :class:`tpsim.models.simulate.RawRun` recorded with
    every state entry."""
    return _evaluate(_Reader(model, raw), fam, label)


def evaluate_all(model: Model, raw) -> dict[str, np.ndarray]:
    """Every column of ``model``, in timeseries.csv order, from a fully recorded run."""
    r = _Reader(model, raw)
    return {name: _evaluate(r, fam, label) for name, fam, label in columns(model)}


def _evaluate(r: _Reader, fam: Family, label) -> np.ndarray:
    model = r.model
    if fam.derive is not None:
        return fam.derive(r, label)
    read = r.stock if fam.kind == "stock" else r.flow
    out = None
    for block, item, coef in fam.terms(model, label):
        value = read(block, item) if coef == 1.0 else coef * read(block, item)
        if fam.scale != 1.0:
            value = value / fam.scale
        # a sum from 0: a flow is never -0.0, so the first term stands for 0 + itself, except
        # a scaled or weighted one (a negative utility times no person-months is -0.0)
        if out is None:
            out = value if coef == 1.0 and fam.scale == 1.0 else 0.0 + value
        else:
            out = out + value
    if out is None:  # a sum over no entries (no preventive services, say)
        out = np.zeros((r.traj.shape[0], r.traj.shape[1] - 1))
    return out
