"""Build a place's scenario from a template scenario (the shipped baseline's structure), the
template's own profile (the reference place) and the place's profile.

1. **People.** Each cohort is scaled to the place: older people to its 65+, children to its
   0-17, working-age adults with complex needs to its Universal Credit claimants with no work
   requirements when given, else to its 18-64 times the deprivation gradient of that cohort's
   size. Need-state stocks follow the template's shares times the age-mix and deprivation
   multipliers of :mod:`tpsim.place.elasticities` (relative to the reference place); activity
   counts the profile gives replace the stocks they measure; the first state takes the rest.
2. **Services.** Preventive places (and community places) scale with the people eligible, so
   month-0 coverage is the template's; a reactive capacity scales with month-0 demand.
3. **Balance.** :func:`tpsim.place.initial_state.initial_state` (``solve="rates"``) solves the
   escalation rates and inflows that hold those stocks at month 0.
4. **Money.** Budgets are the month-0 modelled spend times ``1 + overhead`` (or the profile's);
   reserves keep the template's ratio to budget (or the profile's); a budget growth the
   template derived from its own demand (it equals the growth of its modelled spend in a run
   without cuts) is derived again for the place; pool set-up and double-running costs scale
   with the place's total budget.

:func:`localise` applies the same place to another scenario of the template's structure (an
option or a counterfactual): what it shares with the template becomes the place's value; what
it changes from the template is its own lever, kept as a rate or share, scaled by the place's
factor as an amount (places, capacity, budgets, reserves, pool costs), in ``changes`` and in
its ``uncertainty`` section too.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tpsim.config.scenario import Scenario, scenario_from_dict
from tpsim.errors import TpsimError
from tpsim.errors import suggest as _suggest
from tpsim.place import elasticities as el
from tpsim.place.initial_state import InitialState, derive_budgets, initial_state, month0_spend
from tpsim.place.profile import Profile

__all__ = ["Place", "PlaceValues", "build_place", "place_values", "place_scenario", "localise",
           "derive_budget_growth", "growth_from_spend", "apply_growth", "rebudget", "Rebudget",
           "first_year_reserves", "ACTIVITY_STATES"]

#: Activity counts that set a need-state stock: key -> (cohort, state, how it maps).
ACTIVITY_STATES = {
    "children_looked_after": ("children", "looked_after", "the count"),
    "child_protection_plans": ("children", "child_protection", "the count"),
    "children_in_need": ("children", "child_in_need", "the count minus children on a plan and "
                                                      "looked after (the DfE count includes both)"),
    "care_home_65": ("older_people", "care_home", "the count"),
    "long_term_support_home_65": ("older_people", "supported_home", "the count"),
}
#: Activity counts that set a service's places.
ACTIVITY_PLACES = {"drug_treatment_places": "drug_alcohol_treatment"}

_SIZING = {"older_people": "65+", "children": "0-17", "adults_complex": "18-64"}
_GROWTH_MATCH = 5e-5   # per year: a template budget growth this close to its derived one follows the rule


@dataclass
class Place:
    """A place's scenario and how it was made.

    ``scenario`` is solved and validated; ``origin`` maps dotted paths to where the value came
    from (``profile: ...``, ``derived: ...``, ``solved: ...``); paths not in it keep the
    template's value. ``factors`` are the amounts' scale factors against the template (used by
    :func:`localise`); ``state`` the solved month 0; ``warnings`` plain sentences.
    """

    scenario: Scenario
    profile: Profile
    template: Scenario
    reference: Profile
    origin: dict[str, str]
    factors: dict[str, float]
    state: InitialState
    warnings: list[str] = field(default_factory=list)


def _fail(profile: Profile, key: str, message: str) -> TpsimError:
    return TpsimError(message, file=profile.source, key=key)


def _check_structure(template: Scenario) -> None:
    where = str(template.path) if template.path is not None else f"<{template.name}>"
    for cohort, gradient in el.GRADIENTS.items():
        if cohort not in template.cohorts:
            raise TpsimError(f"a place is built on the shipped baseline's structure; the "
                             f"template has no cohort '{cohort}'", file=where, key="cohorts")
        missing = [s for s in gradient.states if s not in template.cohorts[cohort]["states"]]
        if missing:
            raise TpsimError(f"a place is built on the shipped baseline's structure; cohort "
                             f"'{cohort}' has no state '{missing[0]}'", file=where,
                             key=f"cohorts.{cohort}.states")


def _set(data: dict, path: str, value) -> None:
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value


def _get(data: dict, path: str):
    node = data
    for p in path.split("."):
        node = node[p]
    return node


def _stocks(profile: Profile, reference: Profile, template: Scenario, origin: dict):
    """Need-state stocks of the place and each cohort's scale factor."""
    stocks: dict[tuple[str, str], float] = {}
    cohort_factor: dict[str, float] = {}
    for c, co in template.cohorts.items():
        states = list(co["states"])
        total_t = sum(float(co["states"][s]["initial"]) for s in states)
        band = _SIZING.get(c)
        if band is None:
            raise _fail(profile, "population", f"no rule sizes cohort '{c}' of the template")
        k = profile.population[band] / reference.population[band]
        why = f"profile: population {band} {profile.population[band]:,.0f}"
        if c == "adults_complex":
            if "uc_no_work_requirements" in profile.activity:
                k = profile.activity["uc_no_work_requirements"] / total_t
                why = (f"profile: activity.uc_no_work_requirements "
                       f"{profile.activity['uc_no_work_requirements']:,.0f}")
            else:
                g = el.COHORT_SIZE_GRADIENT
                k *= el.deprivation_multiplier(g, profile) / el.deprivation_multiplier(g, reference)
                why += " x the deprivation gradient of the cohort's size"
        cohort_factor[c] = k
        total = total_t * k
        gradient = el.GRADIENTS.get(c)
        m = 1.0
        if gradient is not None:
            m = el.deprivation_multiplier(gradient, profile) / el.deprivation_multiplier(
                gradient, reference)
        if c == "older_people":
            m *= el.age_multiplier(profile.share_85) / el.age_multiplier(reference.share_85)
        for s in states[1:]:
            base = float(co["states"][s]["initial"]) * k
            if gradient is not None and s in gradient.states:
                stocks[(c, s)] = base * m
                origin[f"cohorts.{c}.states.{s}.initial"] = (
                    f"derived: template stock x {k:.6g} ({why}) x need multiplier {m:.6g} "
                    f"(deprivation{' and age mix' if c == 'older_people' else ''}, "
                    f"docs/place-profile.md)")
            else:
                stocks[(c, s)] = base
                origin[f"cohorts.{c}.states.{s}.initial"] = (
                    f"derived: template stock x {k:.6g} ({why})")
        for key, (cohort, state, how) in ACTIVITY_STATES.items():
            if cohort == c and key in profile.activity:
                value = profile.activity[key]
                if key == "children_in_need":
                    value -= stocks[(c, "child_protection")] + stocks[(c, "looked_after")]
                    if value < 0.0:
                        raise _fail(profile, f"activity.{key}",
                                    f"children in need ({profile.activity[key]:g}) must include "
                                    f"those on a plan and looked after "
                                    f"({stocks[(c, 'child_protection')] + stocks[(c, 'looked_after')]:g})")
                stocks[(c, state)] = value
                origin[f"cohorts.{c}.states.{state}.initial"] = (
                    f"profile: activity.{key} {profile.activity[key]:,.0f} ({how})")
        first = states[0]
        rest = sum(stocks[(c, s)] for s in states[1:])
        stocks[(c, first)] = total - rest
        if stocks[(c, first)] <= 0.0:
            raise _fail(profile, "activity", f"cohort '{c}': the need states hold {rest:,.0f} "
                                             f"people, more than the cohort's {total:,.0f}")
        origin[f"cohorts.{c}.states.{first}.initial"] = (
            f"derived: the cohort's {total:,.0f} people ({why}) less the states above")
    return stocks, cohort_factor


def _eligible(service: Mapping, stocks) -> float:
    """People in the states a preventive ``service`` serves, by ``stocks`` ((cohort, state) ->
    people)."""
    return sum(stocks[(service["cohort"], s)] for s in service["states"])


def derive_budget_growth(scenario: Scenario) -> dict[str, float]:
    """Each agency's real budget growth (per year) that follows its modelled spend when demand
    grows as the scenario says and nothing is cut: ``(spend in the last month / spend in the
    first) ** (12 / (horizon - 1)) - 1`` of a run with the doom loop off (the rule of the
    shipped baseline, scenarios/README.md "Budgets")."""
    from tpsim.models.runner import run

    results = run(scenario.replace(overrides={"loops.doom_loop": 0}))
    return growth_from_spend({a: results.series[f"spend.agency.{a}"][0]
                              for a in scenario.agencies})


def _follows_rule(template: Scenario, cache: dict) -> dict[str, bool]:
    """Agencies whose template budget growth is the growth of their own modelled spend."""
    key = template.hash
    if key not in cache:
        derived = derive_budget_growth(template)
        cache[key] = {a: abs(float(ag["budget_growth"]) - derived[a]) <= _GROWTH_MATCH
                      for a, ag in template.agencies.items()}
    return cache[key]


_RULE_CACHE: dict[str, dict[str, bool]] = {}


class _Draft:
    """The template's cohorts, services, agencies and pool as plain dicts with the place's
    values set as they are computed (what :mod:`tpsim.place.initial_state` reads), so a place
    is worked out without validating a scenario at every step."""

    def __init__(self, template: Scenario, name: str) -> None:
        d = template.as_dict()  # a copy: the draft's values are set in place
        self.name, self.path = name, None
        self.cohorts, self.services = d["cohorts"], d["services"]
        self.agencies, self.pool = d["agencies"], d["pool"]

    def set(self, path: str, value: float) -> None:
        section, rest = path.split(".", 1)
        _set(getattr(self, section), rest, value)


@dataclass
class PlaceValues:
    """Everything a place sets on the template: ``values`` (dotted path -> number), where each
    came from (``origin``), the amounts' scale factors (``factors``), the solved month 0
    (``state``) and the agencies whose budget growth follows the template's rule (``rule``:
    derived from a run of the place, :func:`apply_growth`)."""

    profile: Profile
    values: dict[str, float]
    origin: dict[str, str]
    factors: dict[str, float]
    state: InitialState
    rule: dict[str, bool]


def place_values(template: Scenario, reference: Profile, profile: Profile,
                 keep_budgets: bool = True) -> PlaceValues:
    """The place's values on the template (steps 1-4 of the module docstring, without the
    budget growth, which needs a run: :func:`apply_growth`)."""
    _check_structure(template)
    origin: dict[str, str] = {}
    factors: dict[str, float] = {}
    values: dict[str, float] = {}
    draft = _Draft(template, profile.name)

    def put(path: str, value: float) -> None:
        values[path] = float(value)
        draft.set(path, float(value))

    stocks, cohort_factor = _stocks(profile, reference, template, origin)
    t_stocks = {(c, s): float(st["initial"]) for c, co in template.cohorts.items()
                for s, st in co["states"].items()}
    for (c, s), value in stocks.items():
        path = f"cohorts.{c}.states.{s}.initial"
        put(path, value)
        factors[path] = value / t_stocks[(c, s)] if t_stocks[(c, s)] else cohort_factor[c]
    for v, sv in template.services.items():
        if sv["kind"] == "preventive":
            e_t = _eligible(sv, t_stocks)
            f = _eligible(sv, stocks) / e_t if e_t > 0 else cohort_factor[sv["cohort"]]
            for key in ("places", "community.places"):
                path = f"services.{v}.{key}"
                factors[path] = f
                value = float(template.get(path)) * f
                put(path, value)
                if value:
                    origin[path] = (f"derived: template {key} x {f:.6g}, the ratio of people "
                                    f"eligible, so month-0 coverage is the template's")
    for key, v in ACTIVITY_PLACES.items():
        if key in profile.activity and v in template.services:
            put(f"services.{v}.places", profile.activity[key])
            origin[f"services.{v}.places"] = f"profile: activity.{key} {profile.activity[key]:,.0f}"
            t_places = float(template.services[v]["places"])
            factors[f"services.{v}.places"] = profile.activity[key] / t_places if t_places else 1.0
    _, t_demand = month0_spend(template, t_stocks)
    _, demand = month0_spend(template, stocks)
    for r, sv in template.services.items():
        if sv["kind"] == "reactive" and sv.get("capacity") is not None:
            f = demand[r] / t_demand[r] if t_demand[r] > 0 else cohort_factor[sv["cohort"]]
            path = f"services.{r}.capacity"
            factors[path] = f
            put(path, float(sv["capacity"]) * f)
            origin[path] = (f"derived: template capacity x {f:.6g}, the ratio of month-0 "
                            f"demand, so the headroom is the template's")
    state = initial_state(draft, solve="rates")
    for path, value in state.overrides().items():
        put(path, value)
        if path.endswith(".escalation") and value:
            origin[path] = "solved: balances month 0 at the stocks (tpsim.place.initial_state)"
        elif path.endswith(".inflow") and value:
            origin[path] = "solved: inflow = exits at month 0 (tpsim.place.initial_state)"
    _money(template, profile, draft, state, put, origin, factors, keep_budgets)
    return PlaceValues(profile, values, origin, factors, state,
                       _follows_rule(template, _RULE_CACHE))


def _money(template, profile, draft, state, put, origin, factors, keep_budgets) -> None:
    """Budgets, reserves and pool costs consistent with the solved month 0."""
    total_t = sum(float(ag["budget"]) for ag in template.agencies.values())
    total = 0.0
    for a, ag in template.agencies.items():
        path = f"agencies.{a}.budget"
        if keep_budgets and a in profile.budgets:
            budget = profile.budgets[a] / 12.0
            origin[path] = f"profile: budgets.{a} GBP {profile.budgets[a]:,.0f} a year / 12"
        else:
            budget = state.budgets[a]
            origin[path] = (f"derived: month-0 modelled service spend "
                            f"{state.spend[a]:,.0f} x (1 + overhead {ag['overhead']:g}), so "
                            f"pressure is 1 at month 0")
        put(path, budget)
        total += budget
        t_budget = float(ag["budget"])
        factors[path] = budget / t_budget if t_budget else 1.0
        path = f"agencies.{a}.reserves"
        factors[path] = factors[f"agencies.{a}.budget"]
        if keep_budgets and a in profile.reserves:
            put(path, profile.reserves[a])
            origin[path] = f"profile: reserves.{a} GBP {profile.reserves[a]:,.0f}"
        else:
            put(path, float(ag["reserves"]) * factors[path])
            if ag["reserves"]:
                origin[path] = (f"derived: template reserves x {factors[path]:.6g}, the ratio "
                                f"of budgets (the same months of spend held)")
    f_total = total / total_t if total_t else 1.0
    for path in ("pool.setup_cost", "pool.double_running.cost"):
        factors[path] = f_total
        value = float(template.get(path)) * f_total
        put(path, value)
        if value:
            origin[path] = f"derived: template value x {f_total:.6g}, the ratio of total budgets"


def growth_from_spend(spend: dict[str, np.ndarray]) -> dict[str, float]:
    """Budget growth per year from each agency's monthly spend in a run without cuts:
    ``(last month / first month) ** (12 / (months - 1)) - 1``; 0 below 1e-12 in size."""
    out = {}
    for a, x in spend.items():
        x = np.asarray(x, dtype=float)
        g = float((x[-1] / x[0]) ** (12.0 / (x.size - 1)) - 1.0) if x[0] > 0 and x.size > 1 else 0.0
        out[a] = 0.0 if abs(g) < 1e-12 else g
    return out


def apply_growth(pv: PlaceValues, growth: dict[str, float]) -> None:
    """Set the budget growth of the agencies that follow the template's rule (in place)."""
    for a, rule in pv.rule.items():
        if rule:
            pv.values[f"agencies.{a}.budget_growth"] = growth[a]
            pv.origin[f"agencies.{a}.budget_growth"] = (
                "derived: growth of the place's modelled spend in a run without cuts (the "
                "template's rule)")


def place_scenario(template: Scenario, pv: PlaceValues, reference: Profile) -> Scenario:
    """The validated scenario of a place's values on the template."""
    profile = pv.profile
    data = template.as_dict()
    for path, value in pv.values.items():
        _set(data, path, value)
    data["name"] = profile.name
    data["title"] = f"{profile.label} ({profile.tier}, {profile.total:,.0f} people)"
    data["description"] = (
        f"{profile.label}: built by tpsim place init from {profile.source} on the structure of "
        f"{template.name} (reference place {reference.name}); solved to a balanced month 0; "
        f"budgets derived from the month-0 modelled spend unless the profile gives them.")
    return scenario_from_dict(data, source=f"<place {profile.name}>")


def build_place(template: Scenario, reference: Profile, profile: Profile,
                keep_budgets: bool = True, check_reserves: bool = True,
                bands: bool = False) -> Place:
    """The place's scenario (see the module docstring). ``reference`` is the template's own
    profile; ``keep_budgets`` uses the profile's budgets and reserves where it gives them
    (else every budget is derived); ``bands`` splits every cohort and service by the
    profile's deprivation bands when it gives them (:mod:`tpsim.place.bands`; such a place
    cannot be :func:`localise`-d). Raises :class:`~tpsim.errors.TpsimError` naming the
    profile key that cannot be honoured."""
    pv = place_values(template, reference, profile, keep_budgets)
    if any(pv.rule.values()):
        interim = place_scenario(template, pv, reference)
        apply_growth(pv, derive_budget_growth(interim))
    sc = place_scenario(template, pv, reference)
    origin = pv.origin
    if bands and profile.bands is not None:
        sc, origin = _banded(sc, template, profile, pv)
    place = Place(sc, profile, template, reference, origin, pv.factors,
                  initial_state(sc, solve="rates"))
    for a in profile.budgets:
        if keep_budgets and a in sc.agencies:
            need = place.state.budgets[a]
            if sc.agencies[a]["budget"] < need * (1.0 - 1e-9):
                place.warnings.append(
                    f"{a}: the profile's budget (GBP {profile.budgets[a]:,.0f} a year) is below "
                    f"the month-0 modelled spend with overhead (GBP {need * 12:,.0f} a year), so "
                    f"pressure is above 1 from month 0 and the siloed cut policy will cut its "
                    f"preventive places")
    if check_reserves:
        place.warnings += first_year_reserves(sc)
    return place


def _banded(sc: Scenario, template: Scenario, profile: Profile, pv: PlaceValues):
    """The place split by deprivation band, its budget growth derived again from a run of
    the banded place, and each banded value's origin (the unbanded value's, with the band's
    share for an amount)."""
    from tpsim.place.bands import stratify
    from tpsim.place.yamltext import display_path, template_comment

    for cohort in profile.band_need or {}:
        if cohort not in sc.cohorts:
            raise _fail(profile, f"deprivation.band_need.{cohort}",
                        "not a cohort of the template" + _suggest(cohort, tuple(sc.cohorts)))
    st = stratify(sc, profile)
    banded = st.scenario
    where = display_path(template.path) if template.path is not None else template.name
    origin = {k: v for k, v in pv.origin.items() if not k.startswith(("cohorts.", "services.",
                                                                       "pool.services."))}
    for path, targets in st.split.items():
        base = pv.origin.get(path)
        if base is None:
            own = template_comment(template, path)
            base = f"default ({where}): {own}" if own else f"default ({where})"
        for p, k in targets.items():
            band = p.split(".")[1].rsplit("_", 1)[-1]
            origin[p] = base if k == 1.0 else f"{base}; x {k:.6g}, band {band}'s share"
    origin.update(st.origin)
    followers = [a for a, rule in pv.rule.items() if rule]
    if followers:
        growth = derive_budget_growth(banded)
        banded = banded.replace(overrides={f"agencies.{a}.budget_growth": growth[a]
                                           for a in followers})
    return banded, origin


@dataclass
class Rebudget:
    """Budgets re-derived after a fit: ``overrides`` (dotted path -> value: budgets and
    reserves in £ a month and £, budget growth per year), ``notes`` (path -> the sentence for
    its comment) and ``scenario`` with the overrides set (validated)."""

    scenario: Scenario
    overrides: dict[str, float]
    notes: dict[str, str]


def rebudget(calibrated: Scenario, original: Scenario | None = None,
             keep: tuple[str, ...] = ()) -> Rebudget:
    """Budgets consistent with ``calibrated``'s month 0 (a fit changed its rates, stocks or
    unit costs, so its month-0 spend moved): each agency's budget becomes its month-0 modelled
    spend times ``1 + overhead`` (pressure 1 at month 0, the shipped baseline's rule) and its
    reserves keep their ratio to the budget (the same months of spend held); an agency whose
    budget growth in ``original`` (the scenario before the fit, default ``calibrated``)
    followed its modelled spend gets the growth of the calibrated spend. Agencies in ``keep``
    keep their local budget, reserves and growth."""
    budgets = derive_budgets(calibrated)
    rule = _follows_rule(original if original is not None else calibrated, _RULE_CACHE)
    overrides, notes = {}, {}
    for a, ag in calibrated.agencies.items():
        if a in keep:
            continue
        old = float(ag["budget"])
        path = f"agencies.{a}.budget"
        overrides[path] = budgets[a]
        notes[path] = (f"re-derived after the fit: month-0 modelled spend x (1 + overhead "
                       f"{ag['overhead']:g}); was {old:,.0f}")
        if old > 0 and ag["reserves"]:
            path = f"agencies.{a}.reserves"
            overrides[path] = float(ag["reserves"]) * budgets[a] / old
            notes[path] = f"re-derived: the same ratio to the budget; was {float(ag['reserves']):,.0f}"
    rebudgeted = calibrated.replace(overrides=overrides)
    followers = [a for a in calibrated.agencies if rule.get(a) and a not in keep]
    if followers:
        growth = derive_budget_growth(rebudgeted)
        for a in followers:
            path = f"agencies.{a}.budget_growth"
            if abs(growth[a] - float(calibrated.agencies[a]["budget_growth"])) > 0.0:
                overrides[path] = growth[a]
                notes[path] = ("re-derived: growth of the calibrated modelled spend in a run "
                               "without cuts")
        rebudgeted = calibrated.replace(overrides=overrides)
    return Rebudget(rebudgeted, overrides, notes)


def first_year_reserves(scenario: Scenario, months: int = 12) -> list[str]:
    """Sentences naming each council whose reserves go below zero within ``months``."""
    from tpsim.models.runner import run

    results = run(scenario.replace(horizon=min(months, scenario.time.horizon)))
    out = []
    for a, ag in scenario.agencies.items():
        if ag["type"] != "council":
            continue
        reserves = np.asarray(results.series[f"reserves.agency.{a}"][0], dtype=float)
        below = np.flatnonzero(reserves < 0.0)
        if below.size:
            out.append(f"{a}: reserves below zero from month {int(below[0]) + 1} on its budget; "
                       f"raise budgets.{a} or reserves.{a} in the profile")
    return out


# ---------------------------------------------------------------------------------------------
# Other scenarios of the template's structure
# ---------------------------------------------------------------------------------------------

_AMOUNT_SUFFIXES = (".initial", ".places", ".capacity", ".budget", ".reserves",
                    "pool.setup_cost", "pool.double_running.cost")


def _is_amount(path: str) -> bool:
    return path.endswith(_AMOUNT_SUFFIXES)


def _scale_spec(spec: dict, factor: float) -> dict:
    spec = dict(spec)
    for key in ("low", "mode", "high", "mean", "sd", "median"):
        if spec.get(key) is not None:
            spec[key] = float(spec[key]) * factor
    if spec.get("values") is not None:
        spec["values"] = [float(v) * factor for v in spec["values"]]
    return spec


def localise(scenario: Scenario, place: Place) -> Scenario:
    """``scenario`` (of ``place.template``'s structure) moved to the place: every parameter it
    shares with the template takes the place's value; a parameter it changes is its own lever,
    kept as it is (rates, shares, growth) or scaled by the place's factor (amounts); amounts
    set by its ``changes`` and the absolute ranges of amounts in its ``uncertainty`` section
    are scaled the same way. The name stays the scenario's; the title names the place."""
    if scenario.hash == place.template.hash:
        return place.scenario
    from tpsim.analysis.comparison import check_comparable

    check_comparable(scenario, place.template)
    data = scenario.as_dict()
    t, p = place.template, place.scenario
    for path in p.parameter_paths():
        try:
            own = _get(data, path)
        except KeyError:
            continue
        template_value = t.get(path)
        place_value = p.get(path)
        if own == template_value:
            _set(data, path, place_value)
        elif _is_amount(path) and path in place.factors and isinstance(own, float):
            _set(data, path, own * place.factors[path])
    for change in data["changes"]:
        change["set"] = {k: (v * place.factors[k] if _is_amount(k) and k in place.factors else v)
                         for k, v in change["set"].items()}
    params = data.get("uncertainty", {}).get("parameters", {})
    for path, spec in list(params.items()):
        if _is_amount(path) and path in place.factors and not spec.get("relative"):
            params[path] = _scale_spec(spec, place.factors[path])
    data["title"] = f"{scenario.title}, in {place.profile.label}"
    return scenario_from_dict(copy.deepcopy(data), source=f"<{scenario.name} in {place.profile.name}>")
