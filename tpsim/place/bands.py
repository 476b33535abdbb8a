"""Cohorts stratified by deprivation band: a place's scenario with every cohort split into
``<cohort>_q1 .. <cohort>_q5`` (national IMD quintile of neighbourhood, q1 most deprived) and
every service into ``<service>_q1 .. <service>_q5`` (docs/place-profile.md, "Deprivation
bands"), so outcomes and NPSV can be reported by band (:mod:`tpsim.analysis.distribution`).

The split starts from the place's solved, unbanded month 0 and conserves people state by
state: band ``q`` holds ``P_s w_q n_q / sum_k w_k n_k`` of a need state ``s`` its cohort's
gradient covers (``w`` the band's population share, ``n`` its need multiplier) and ``P_s w_q``
of any other state above the first; the first state takes the rest of the band's
``w_q x`` cohort total. The initial-state solver then solves every band's escalation rates
and first-state inflow again, so month 0 balances in every band and the band with more people
in high need has the higher escalation rates. Preventive places split by the people eligible
(the same month-0 coverage in every band), reactive capacity by month-0 demand; links between
services and cohort transitions stay within the band. Month-0 spend, so the budgets, is
unchanged by the split.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping

from tpsim.config.scenario import Scenario, scenario_from_dict
from tpsim.errors import TpsimError
from tpsim.place import elasticities as el
from tpsim.place.profile import BANDS, Profile

__all__ = ["band_of", "banded_id", "need_split", "stratify", "Stratified"]

_BANDED = re.compile(r"^(?P<base>[a-z][a-z0-9_]*)_(?P<band>q[1-5])$")


def band_of(entity_id: str) -> tuple[str, str] | None:
    """``(base id, band)`` of a banded cohort or service id (``children_q1`` ->
    ``("children", "q1")``), else None."""
    m = _BANDED.match(entity_id)
    return (m["base"], m["band"]) if m else None


def banded_id(base: str, band: str) -> str:
    """The id of ``base`` in ``band``: ``<base>_<band>``."""
    return f"{base}_{band}"


def need_multipliers(profile: Profile, cohort: str) -> dict[str, float]:
    """Each band's need multiplier for ``cohort``: the profile's ``deprivation.band_need`` when
    it gives the cohort, else the neighbourhood gradient's quintile multipliers
    (:func:`tpsim.place.elasticities.band_multipliers`), else 1 (a cohort without a gradient)."""
    given = (profile.band_need or {}).get(cohort)
    if given is not None:
        return dict(given)
    gradient = el.GRADIENTS.get(cohort)
    if gradient is None:
        return {q: 1.0 for q in BANDS}
    return el.band_multipliers(gradient)


def need_split(shares: Mapping[str, float], need: Mapping[str, float]) -> dict[str, float]:
    """The share of a high-need state's people in each band: ``w_q n_q / sum_k w_k n_k``
    (dimensionless, summing to 1)."""
    total = sum(shares[q] * need[q] for q in shares)
    return {q: shares[q] * need[q] / total for q in shares}


class Stratified:
    """A banded scenario and its bookkeeping: ``scenario`` (validated, month 0 solved),
    ``split`` (unbanded dotted path -> {banded path: factor}, the factor multiplying an
    amount, 1 for a rate) and ``origin`` (banded path -> 'solved: ...' for the values the
    initial-state solver set)."""

    def __init__(self, scenario: Scenario, split: dict[str, dict[str, float]],
                 origin: dict[str, str]) -> None:
        self.scenario, self.split, self.origin = scenario, split, origin


_SERVICE_AMOUNTS = ("places", "community.places", "capacity")


def _fail(profile: Profile, key: str, message: str) -> TpsimError:
    return TpsimError(message, file=profile.source, key=key)


def stratify(scenario: Scenario, profile: Profile) -> Stratified:
    """``scenario`` (a place built from ``profile``, month 0 balanced) with its cohorts and
    services split by the profile's deprivation bands (the module docstring). Bands with a
    zero share are left out. Raises :class:`~tpsim.errors.TpsimError` when a band's first
    state would hold no one, or when the scenario's ``uncertainty`` section samples a path the
    split would turn into five (the five draws would be independent)."""
    from tpsim.place.initial_state import initial_state

    if profile.bands is None:
        raise _fail(profile, "deprivation.bands", "stratifying needs the population shares by band")
    shares = {q: float(profile.bands[q]) for q in BANDS if profile.bands[q] > 0.0}
    d = scenario.as_dict()
    for c in d["cohorts"]:
        if band_of(c) is not None:
            raise TpsimError(f"cohort '{c}' is already banded", key=f"cohorts.{c}")
    split: dict[str, dict[str, float]] = {}
    cohorts = _split_cohorts(d["cohorts"], shares, profile, split)
    d["services"] = _split_services(d["services"], cohorts, shares, split)
    d["cohorts"] = cohorts
    _split_pool_values_and_changes(d, shares, split)
    sampled = [p for p in d.get("uncertainty", {}).get("parameters", {}) if p in split]
    if sampled:
        raise _fail(profile, "deprivation.bands",
                    f"the template samples {sampled[0]} in its uncertainty section, which the "
                    f"split by band would turn into five independent draws; build the place "
                    f"without bands (--no-bands) or from a template without that uncertainty")
    d["description"] = (d.get("description") or "") + (
        f" Cohorts and services are split by national IMD quintile of neighbourhood "
        f"({', '.join(f'{q} {w:.0%}' for q, w in shares.items())}).")
    draft = scenario_from_dict(d, source=f"<place {profile.name} by band>")
    state = initial_state(draft, solve="rates")
    banded = state.apply()
    origin = {}
    for path, value in state.overrides().items():
        if (path.endswith(".escalation") or path.endswith(".inflow")) and value:
            origin[path] = ("solved: balances the band's month 0 at its stocks "
                            "(tpsim.place.initial_state)")
    return Stratified(banded, split, origin)


def _split_cohorts(cohorts_in: Mapping, shares: Mapping[str, float], profile: Profile,
                   split: dict[str, dict[str, float]]) -> dict[str, dict]:
    """Each cohort as one cohort per band: need states by the need split of its gradient (or
    the population shares), the first state the rest of the band's people; records in
    ``split`` how each cohort path maps onto the bands (factor per banded path)."""
    cohorts: dict[str, dict] = {}
    for c, co in cohorts_in.items():
        states = list(co["states"])
        gradient = el.GRADIENTS.get(c)
        high = need_split(shares, need_multipliers(profile, c))
        total = sum(float(co["states"][s]["initial"]) for s in states)
        state_split = {s: high if gradient is not None and s in gradient.states else dict(shares)
                       for s in states[1:]}
        for q, w in shares.items():
            body = copy.deepcopy(co)
            body["label"] = f"{co['label']}, IMD quintile {q[1]}"
            rest = 0.0
            for s in states[1:]:
                f = state_split[s][q]
                body["states"][s]["initial"] = float(co["states"][s]["initial"]) * f
                body["states"][s]["inflow"] = float(co["states"][s].get("inflow") or 0.0) * f
                rest += body["states"][s]["initial"]
            first = w * total - rest
            if first <= 0.0:
                raise _fail(profile, "deprivation.bands",
                            f"band {q} of cohort '{c}' would hold {rest:,.0f} people in need "
                            f"states but only {w * total:,.0f} people in all")
            body["states"][states[0]]["initial"] = first
            if co.get("transition"):
                body["transition"] = {**co["transition"],
                                      "cohort": banded_id(co["transition"]["cohort"], q)}
            cohorts[banded_id(c, q)] = body
        for s in states:
            for key in ("initial", "inflow"):
                fs = state_split.get(s)
                if fs is None:  # the first state: its stock and inflow are the rest / solved
                    p0 = float(co["states"][s]["initial"])
                    fs = {q: cohorts[banded_id(c, q)]["states"][s]["initial"] / p0 if p0 else w
                          for q, w in shares.items()}
                split[f"cohorts.{c}.states.{s}.{key}"] = {
                    f"cohorts.{banded_id(c, q)}.states.{s}.{key}": fs[q] for q in shares}
            for key in ("escalation", "recovery", "exit", "utility", "death_share",
                        "transition_share"):
                split[f"cohorts.{c}.states.{s}.{key}"] = {
                    f"cohorts.{banded_id(c, q)}.states.{s}.{key}": 1.0 for q in shares}
        for key in ("inflow_growth", "employment_value"):
            split[f"cohorts.{c}.{key}"] = {f"cohorts.{banded_id(c, q)}.{key}": 1.0 for q in shares}
    return cohorts


def _split_services(services_in: Mapping, cohorts: Mapping[str, dict],
                    shares: Mapping[str, float],
                    split: dict[str, dict[str, float]]) -> dict[str, dict]:
    """Each service as one service per band, its places (or capacity) shared by the band's
    eligible people (preventive) or expected use (reactive); records the paths in ``split``."""
    def stock(c: str, q: str, s: str) -> float:
        return float(cohorts[banded_id(c, q)]["states"][s]["initial"])

    services: dict[str, dict] = {}
    for v, sv in services_in.items():
        c = sv["cohort"]
        if sv["kind"] == "preventive":
            weight = {q: sum(stock(c, q, s) for s in sv["states"]) for q in shares}
        else:
            weight = {q: sum(u * stock(c, q, s) for s, u in sv["utilisation"].items())
                      for q in shares}
        whole = sum(weight.values())
        factor = {q: (weight[q] / whole if whole > 0 else shares[q]) for q in shares}
        for q in shares:
            body = copy.deepcopy(sv)
            body["label"] = f"{sv['label']}, IMD quintile {q[1]}"
            body["cohort"] = banded_id(c, q)
            if sv["kind"] == "preventive":
                body["places"] = float(sv["places"]) * factor[q]
                if "community" in body:
                    body["community"]["places"] = float(sv["community"]["places"]) * factor[q]
                for link in ("utilisation_effects", "substitutes"):
                    body[link] = {banded_id(r, q): x for r, x in (sv.get(link) or {}).items()}
            elif sv.get("capacity") is not None:
                body["capacity"] = float(sv["capacity"]) * factor[q]
            services[banded_id(v, q)] = body
        for path, value in _leaves(sv, f"services.{v}"):
            rel = path[len(f"services.{v}."):]
            amount = rel in _SERVICE_AMOUNTS
            split[path] = {f"services.{banded_id(v, q)}.{rel}": (factor[q] if amount else 1.0)
                           for q in shares}
    return services


def _split_pool_values_and_changes(d: dict, shares: Mapping[str, float],
                                   split: dict[str, dict[str, float]]) -> None:
    """The pool's service shares, the declared outcome values and the time-keyed changes of
    ``d`` (in place) onto the banded services and cohorts."""
    pool_services = {}
    for v, share in d["pool"]["services"].items():
        f = split[f"services.{v}.places"]
        for path, k in f.items():
            pool_services[path.split(".")[1]] = float(share) * k
        split[f"pool.services.{v}"] = {f"pool.services.{path.split('.')[1]}": k
                                      for path, k in f.items()}
    d["pool"]["services"] = pool_services
    values = {}
    for key, spec in d["appraisal"].get("outcome_values", {}).items():
        measure, entity = key.split(".", 1)
        for q in shares:
            values[f"{measure}.{banded_id(entity, q)}"] = dict(spec)
    d["appraisal"]["outcome_values"] = values
    for change in d["changes"]:
        new = {}
        for path, value in change["set"].items():
            for banded, k in split.get(path, {path: 1.0}).items():
                new[banded] = value * k
        change["set"] = new


def _leaves(node, prefix: str):
    """``(dotted path, value)`` of every number under ``node``."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}.{k}")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield prefix, node
