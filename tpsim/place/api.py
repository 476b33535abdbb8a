"""The place functions the command line and :mod:`tpsim.api` share: build a place from a
profile file, compare an option across a places table, and the text of their files.

Paths may be given as strings or path-likes; loaded :class:`~tpsim.config.scenario.Scenario`
and :class:`~tpsim.place.profile.Profile` objects are accepted too.
"""
from __future__ import annotations

from pathlib import Path

from tpsim import __version__
from tpsim.config.scenario import Scenario, load_scenario
from tpsim.errors import TpsimError
from tpsim.place.build import Place, build_place, localise, place_scenario
from tpsim.place.compare import PlacesComparison, compare_places
from tpsim.place.profile import Profile, load_profile, read_profiles
from tpsim.place.yamltext import display_path, scenario_yaml

__all__ = ["DEFAULT_TEMPLATE", "DEFAULT_REFERENCE", "init_place", "place_file_text",
           "places_compare", "places_files", "places_csv"]

# the shipped scenarios are package data (tpsim/scenarios links to scenarios/ in a checkout)
_SHIPPED = (Path(__file__).resolve().parents[1] / "scenarios").resolve()
#: The shipped baseline and its profile (the reference place).
DEFAULT_TEMPLATE = _SHIPPED / "baseline.yaml"
DEFAULT_REFERENCE = _SHIPPED / "places" / "baseline.yaml"


def _scenario(value, what: str) -> Scenario:
    if isinstance(value, Scenario):
        return value
    if value is None:
        if not DEFAULT_TEMPLATE.is_file():
            raise TpsimError(f"no default {what}: give the template scenario (--template)")
        value = DEFAULT_TEMPLATE
    return load_scenario(value)


def _reference(value, agencies) -> Profile:
    if value is None:
        if not DEFAULT_REFERENCE.is_file():
            raise TpsimError("no default reference profile: give the template's own profile "
                             "(--reference)")
        value = DEFAULT_REFERENCE
    return load_profile(value, agencies)


def init_place(profile, template=None, reference=None, keep_budgets: bool = True,
               bands: bool = True) -> Place:
    """The place of a profile (a YAML or one-row CSV file, or a :class:`Profile`) on the
    template's structure (default: the shipped baseline, with its own profile as the
    reference place): :func:`tpsim.place.build.build_place`, split by deprivation band when
    ``bands`` and the profile gives them."""
    tpl = _scenario(template, "template")
    agencies = tuple(tpl.agencies)
    ref = _reference(reference, agencies)
    prof = load_profile(profile, agencies)
    return build_place(tpl, ref, prof, keep_budgets=keep_budgets, bands=bands)


def place_file_text(place: Place) -> str:
    """The YAML text of a place's scenario, with a header naming the profile, the template,
    the reference place and the first-year reserves check."""
    p = place.profile
    header = [
        f"{p.label}: a scenario built by `tpsim place init {p.source}` (tpsim {__version__}).",
        "Structure, unit costs, effects and policy settings: "
        + (display_path(place.template.path) if place.template.path else place.template.name),
        f"(reference place {place.reference.name}, {display_path(place.reference.source)}); "
        "people, deprivation",
        "and any activity counts, budgets and reserves: the profile. Each number's comment says",
        "where it came from: 'profile: ...', 'derived: ...' (arithmetic from the profile and the",
        "template), 'solved: ...' (the balanced month 0 of tpsim.place.initial_state) or",
        "'default (<template>): <the template's own comment>'. Gradients: docs/place-profile.md.",
        f"Month 0 is balanced: the largest |dP/dt| is {place.state.residual:.2g} people a month.",
    ]
    if place.warnings:
        header += ["", "Warnings:"] + [f"- {w}" for w in place.warnings]
    else:
        header += ["Every council's reserves stay at or above zero over the first year."]
    return scenario_yaml(place.scenario, place.origin, place.template, header)


def places_compare(table, scenario, against, reference=None, optimism_bias: float | None = None,
                   uncertainty: int = 0, seed: int = 0, engine: str = "local",
                   attribution: bool = False, keep_budgets: bool = True,
                   **engine_options) -> PlacesComparison:
    """:func:`tpsim.place.compare.compare_places` from files: ``table`` a places CSV (or a
    list of :class:`Profile`), ``scenario`` the option, ``against`` the counterfactual (the
    template of every place), ``reference`` its own profile (default: the shipped baseline
    place's)."""
    option = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    cf = against if isinstance(against, Scenario) else load_scenario(against)
    agencies = tuple(cf.agencies)
    ref = _reference(reference, agencies)
    profiles = read_profiles(table, agencies)
    return compare_places(profiles, option, cf, ref, optimism_bias=optimism_bias,
                          keep_budgets=keep_budgets, attribution=attribution,
                          uncertainty=uncertainty, seed=seed, engine=engine, **engine_options)


def places_csv(result: PlacesComparison) -> str:
    """places.csv: one row per place (:func:`tpsim.place.compare.place_row`), columns in the
    order they first appear."""
    from tpsim.output import csv_text

    columns: list[str] = []
    for row in result.rows:
        columns += [k for k in row if k not in columns]
    return csv_text(columns, [[row.get(c) for c in columns] for row in result.rows])


def places_files(result: PlacesComparison, write_scenarios: bool = False) -> dict[Path, str]:
    """Every text file of ``tpsim places compare`` (relative path -> text): places.csv and,
    with ``write_scenarios``, ``scenarios/<place>/<counterfactual>.yaml`` and
    ``scenarios/<place>/<option>.yaml``."""
    files = {Path("places.csv"): places_csv(result)}
    if write_scenarios:
        cf, option = result.counterfactual, result.scenario
        for r in result.places:
            cf_place = place_scenario(cf, r.values, result.reference)
            place = Place(cf_place, r.profile, cf, result.reference, r.values.origin,
                          r.values.factors, r.values.state)
            header = [f"{r.profile.label}: {cf.name} in this place, written by tpsim places "
                      f"compare (tpsim {__version__})."]
            files[Path("scenarios") / r.profile.name / f"{cf.name}.yaml"] = scenario_yaml(
                cf_place, r.values.origin, cf, header)
            local = localise(option, place)
            header = [f"{r.profile.label}: {option.name} in this place (its levers kept or "
                      f"scaled to the place), written by tpsim places compare."]
            files[Path("scenarios") / r.profile.name / f"{option.name}.yaml"] = scenario_yaml(
                local, {}, option, header)
    return files
