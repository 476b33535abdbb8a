"""How a place's age mix and deprivation move its need-state stocks away from the reference
place's (docs/place-profile.md lists every figure with its source and tag).

A deprivation *gradient* is the ratio of a need-state prevalence between the most and the least
deprived tenth (decile 1 against decile 10), taken as log-linear in the decile, so a place of
decile ``d`` has ``ratio ** ((5.5 - d) / 9)`` times England's prevalence (decile 5.5 is the
average place: multiplier 1). Gradients measured between neighbourhoods (``neighbourhood``)
apply to a profile's population shares by national IMD quintile (``bands``); an authority's
average decile uses ``authority``, which is flatter where authorities mix neighbourhoods.

The age mix acts on older people's need states: a place whose 65+ are older needs more care,
``(1 + (r85 - 1) s85) / (1 + (r85 - 1) s85_ref)`` with ``s85`` the share of the 65+ aged 85+.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tpsim.place.profile import BANDS, NATIONAL_DECILE

__all__ = ["Gradient", "GRADIENTS", "COHORT_SIZE_GRADIENT", "AGE_RATIO_85", "REFERENCE_SHARE_85",
           "BAND_POSITION", "gradient_multiplier", "band_multipliers", "deprivation_multiplier",
           "age_multiplier"]


@dataclass(frozen=True)
class Gradient:
    """Stock multipliers for the named need states of one cohort (dimensionless ratios of
    prevalence, decile 1 against decile 10)."""

    cohort: str
    states: tuple[str, ...]
    neighbourhood: float
    authority: float
    source: str
    tag: str


GRADIENTS: dict[str, Gradient] = {
    "children": Gradient(
        "children", ("early_help", "child_in_need", "child_protection", "looked_after"),
        neighbourhood=10.0, authority=10.0 ** 0.5,
        source="Child Welfare Inequalities Project (Bywaters et al., Nuffield Foundation, "
               "briefing paper 1: England, 2017): children in the most deprived 10% of "
               "neighbourhoods over ten times more likely to be looked after or on a child "
               "protection plan than in the least deprived 10%; each step of deprivation raises "
               "the chance by about a third (CYP Now summary). Authority level: assumption, the "
               "square root of the neighbourhood ratio, because an authority mixes "
               "neighbourhoods and the project's 'inverse intervention law' finds less deprived "
               "authorities intervene more at the same neighbourhood deprivation",
        tag="[S] neighbourhood; assumption for authorities"),
    "older_people": Gradient(
        "older_people", ("at_risk", "crisis", "supported_home", "care_home"),
        neighbourhood=1.7, authority=1.7,
        source="ONS, Inequalities in accident and emergency department attendance, England, "
               "March 2021 to March 2022: odds of attending 1.7 times greater in decile 1 than "
               "decile 10 after adjusting for age, sex and ethnicity; used as a proxy for the "
               "gradient of need for care (assumption). Cross-checks at authority level (PLACE.md "
               "§11 [V]): Gateshead 19 long-term clients per 1,000 against 14.9 in England (1.28; "
               "the gradient gives 1.23 at decile 2); West Sussex adult social care spend per head "
               "0.83 of England's (0.81 at decile 9); the two deciles are assumptions",
        tag="[V] proxy; assumption"),
    "adults_complex": Gradient(
        "adults_complex", ("at_risk", "dependent", "chaotic", "crisis"),
        neighbourhood=1.7, authority=1.7,
        source="ONS A&E inequalities 2021-22 as for older people (the gradient is 'more "
               "pronounced' at ages 30-65, so 1.7 is conservative); assumption: the same ratio "
               "for the depth of complex need among working-age adults",
        tag="[V] proxy; assumption"),
}

#: The size of the working-age complex-needs cohort per resident aged 18-64 (the baseline sizes it
#: to Universal Credit claimants with no work requirements) by deprivation.
COHORT_SIZE_GRADIENT = Gradient(
    "adults_complex", (), neighbourhood=2.0, authority=2.0,
    source="assumption: UC claimants with no work requirements concentrate in deprived places; "
           "no published gradient was read, so a ratio of 2 between decile 1 and decile 10 "
           "(give activity.uc_no_work_requirements to replace it)",
    tag="assumption")

#: Need for care of people aged 85+ relative to 65-84 (assumption: no source read; [U]).
AGE_RATIO_85 = 3.0
#: Share of the 65+ aged 85+ in the reference place: 7,200 / 55,200 (PLACE.md §1, [U]).
REFERENCE_SHARE_85 = 7200.0 / 55200.0

#: Where each national IMD quintile of neighbourhood sits on the decile scale (its midpoint).
BAND_POSITION = {"q1": 1.5, "q2": 3.5, "q3": 5.5, "q4": 7.5, "q5": 9.5}


def gradient_multiplier(ratio: float, decile: float | None = None,
                        bands: Mapping[str, float] | None = None) -> float:
    """Prevalence multiplier against England of a gradient of decile-1-to-decile-10 ``ratio``,
    log-linear in the decile: of a place of IMD decile ``decile`` (``ratio ** ((5.5 - decile)
    / 9)``), or of a population spread over national IMD quintiles ``bands`` (population
    shares; the share-weighted multiplier of the quintiles' midpoints against the mean over
    quintiles, England holding a fifth in each). Give one of the two."""
    if (decile is None) == (bands is None):
        raise ValueError("give a decile or bands, not both or neither")
    if bands is None:
        return ratio ** ((NATIONAL_DECILE - decile) / 9.0)
    at = {q: ratio ** ((NATIONAL_DECILE - BAND_POSITION[q]) / 9.0) for q in BANDS}
    national = sum(at.values()) / len(BANDS)
    return sum(bands[q] * at[q] for q in BANDS) / national


def band_multipliers(gradient: Gradient) -> dict[str, float]:
    """Each national IMD quintile's prevalence multiplier against England (neighbourhood
    gradient): the multiplier of a population wholly in that quintile."""
    return {q: gradient_multiplier(gradient.neighbourhood,
                                   bands={b: float(b == q) for b in BANDS}) for q in BANDS}


def deprivation_multiplier(gradient: Gradient, profile) -> float:
    """The multiplier of a profile against England: from its bands when given (neighbourhood
    gradient), else from its decile (authority gradient)."""
    if profile.bands is not None:
        return gradient_multiplier(gradient.neighbourhood, bands=profile.bands)
    return gradient_multiplier(gradient.authority, decile=profile.decile)


def age_multiplier(share_85: float | None) -> float:
    """Older people's need multiplier of a 65+ population with ``share_85`` aged 85+ against
    the reference share (1 when the profile does not give 85+)."""
    if share_85 is None:
        return 1.0
    return (1.0 + (AGE_RATIO_85 - 1.0) * share_85) / (1.0 + (AGE_RATIO_85 - 1.0)
                                                      * REFERENCE_SHARE_85)
