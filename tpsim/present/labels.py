"""Words for the ids a reader should never see: scenario names (``pilots_plus``), dotted
parameter paths (``services.early_help.unit_cost``), the named switching-value parameters and
agency ids. One table and one function each, used by the report, its charts and the commands'
charts alike.

A scenario's words come from :data:`SCENARIO_LABELS` (the shipped scenarios, short enough for a
chart legend), else its name with the underscores as spaces and a capital letter. Parameter
paths take the label of the service, agency or cohort they belong to from the scenario file.
"""
from __future__ import annotations

import re
import textwrap

#: Short words for the shipped scenarios (their titles are sentences, too long for a legend).
SCENARIO_LABELS = {
    "baseline": "Baseline (the place today)",
    "siloed_squeeze": "Siloed squeeze",
    "pooled_prevention": "Whole-place pooled prevention",
    "pooled_prevention_uncertain": "Whole-place pooled prevention",
    "pilots_plus": "Pilots Plus (older people)",
}

#: Words for parameters that are not dotted paths of a scenario file, and for appraisal keys.
PARAMETER_LABELS = {
    "preventive_effect_multiplier": "Every preventive effect (one multiplier)",
    "appraisal.qaly_value": "Value of a QALY",
    "appraisal.optimism_bias": "Optimism bias on costs",
    "appraisal.discount_rate": "Discount rate",
    "appraisal.health_discount_rate": "Health discount rate",
    "pool.setup_cost": "Pooled budget: set-up cost",
}

#: Words for the last part of a dotted path (``unit_cost`` -> ``unit cost``), where plain
#: underscores-to-spaces would not do.
_KEY_WORDS = {"time_to_effect": "time to effect", "unit_cost": "unit cost",
              "setup_cost": "set-up cost", "capture_share": "share of savings captured"}


def short_label(label: str, width: int = 60) -> str:
    """A label without a trailing parenthesis, cut at ``width`` characters:
    ``"Police (PCC and force)" -> "Police"``."""
    text = re.sub(r"\s*\([^()]*\)\s*$", "", label.strip()) or label.strip()
    return textwrap.shorten(text, width=width, placeholder="…")


def words(identifier: str) -> str:
    """An id in words with a capital letter: ``"child_in_need" -> "Child in need"``."""
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def scenario_label(scenario) -> str:
    """The words for a scenario (a :class:`~tpsim.config.scenario.Scenario` or its name):
    ``pilots_plus -> "Pilots Plus (older people)"``, ``my_option -> "My option"``."""
    name = scenario if isinstance(scenario, str) else scenario.name
    return SCENARIO_LABELS.get(name) or words(name)


def agency_label(scenario, agency: str) -> str:
    """An agency's label from the scenario file, without its trailing parenthesis; the
    pooled budget's row in words."""
    if agency == "pool":
        return "Pooled budget"
    if agency == "total":
        return "Total"
    data = scenario.agencies.get(agency, {}) if scenario is not None else {}
    return short_label(data.get("label") or words(agency))


def _key(key: str) -> str:
    return _KEY_WORDS.get(key, key.replace("_", " "))


def parameter_label(scenario, path: str) -> str:
    """A dotted parameter path in words: ``services.early_help.unit_cost`` ->
    ``"Early help and family support: unit cost"`` (labels from ``scenario``); a named
    parameter from :data:`PARAMETER_LABELS`; any other text as it is."""
    if path in PARAMETER_LABELS:
        return PARAMETER_LABELS[path]
    parts = path.split(".")
    try:
        if parts[0] in ("services", "agencies", "cohorts") and len(parts) >= 3:
            entity = getattr(scenario, parts[0])[parts[1]]
            label = short_label(entity.get("label") or parts[1], 50)
            if parts[0] == "cohorts" and len(parts) >= 5 and parts[2] == "states":
                return f"{label}, {parts[3].replace('_', ' ')}: {_key('.'.join(parts[4:]))}"
            return f"{label}: {' '.join(_key(p) for p in parts[2:])}"
        if parts[0] == "pool" and len(parts) >= 2:
            rest = parts[1:]
            if rest[0] in ("contributions", "services") and len(rest) == 2:
                group = scenario.agencies if rest[0] == "contributions" else scenario.services
                who = short_label(group.get(rest[1], {}).get("label") or rest[1], 50)
                return f"Pool {rest[0][:-1]}: {who}"
            return "Pooled budget: " + " ".join(_key(p) for p in rest)
        if parts[0] == "appraisal" and len(parts) == 2:
            return words(_key(parts[1]))
    except (KeyError, TypeError, AttributeError):
        pass
    return path
