"""The explorer's sliders and how a session's settings become validated scenarios.

A :class:`Control` is one slider: the scenario paths it sets, its unit, range and default (the
option file's value, with that value's comment from the file as its source). *Levers* are the
option's choices: preventive places per service, each agency's pool contribution, the pool's
share of spending per service, the capture share (these set the option only) and the squeeze
depth (a real-terms cut a year added to every squeezed agency's budget growth, in both the
option and the counterfactual: it is the world both face). *Assumptions* are beliefs about the
place: effect sizes and unit costs (set in both arms, so the comparison stays like for like)
and the appraisal's optimism bias and QALY value (the option's appraisal, which is what
``tpsim compare`` reads).

Settings map control ids to values in the model's own units (fractions, £, places).
:func:`scenarios_for` turns them into the option and counterfactual scenarios through
:meth:`Scenario.replace` and the scenario validator, so a value the scenario file would refuse
is refused here with the same sentence, naming the slider.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from tpsim.config.scenario import Scenario, scenario_from_dict
from tpsim.errors import ScenarioError, TpsimError
from tpsim.place.yamltext import template_comment
from tpsim.present.labels import agency_label, short_label

__all__ = ["Control", "controls_for", "scenarios_for", "check_changes", "Resolved",
           "SettingsError", "EXPLORER_REASON"]

#: The reason written into a scenario whose optimism bias is set below its category's upper
#: bound in the explorer (the validator asks for one, as the Green Book does).
EXPLORER_REASON = ("set in tpsim explore as a what-if; state the evidence for the step-down "
                   "before relying on this figure")

#: Agency types whose budgets the squeeze depth deepens (a council, the NHS, the police and
#: other local budgets; DWP's benefit spending is demand-led and not squeezed locally).
_SQUEEZED_TYPES = ("council", "nhs", "police", "other")


class SettingsError(TpsimError):
    """A setting the explorer refuses: ``control`` names the slider (None: the request)."""

    def __init__(self, message: str, control: str | None = None) -> None:
        self.control = control
        super().__init__(message)


@dataclass(frozen=True)
class Control:
    """One slider. Values are in model units; the page shows ``value x scale`` in ``unit``.

    ``kind``: ``parameter`` (sets ``paths`` to the value), ``squeeze`` (subtracts the value
    from each path's file value) or ``appraisal`` (sets the option's ``appraisal.<key>``);
    ``arms``: ``option`` or ``both``."""

    id: str
    section: str       # "lever" or "assumption"
    group: str
    label: str
    unit: str
    scale: float
    default: float
    low: float
    high: float
    step: float
    source: str
    paths: tuple[str, ...]
    kind: str = "parameter"
    arms: str = "option"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["paths"] = list(self.paths)
        return out


def _nice(x: float) -> float:
    """The 1-2-5 number at or above ``x`` (a slider's top or step)."""
    if x <= 0:
        return 1.0
    e = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * e >= x * (1 - 1e-12):
            return m * e
    return 10.0 * e


def _source(scenario: Scenario, path: str) -> str:
    return template_comment(scenario, path) or "default of the scenario format"


def _service_label(scenario: Scenario, v: str) -> str:
    return short_label(scenario.services[v].get("label") or v, 48)


def controls_for(option: Scenario, counterfactual: Scenario) -> list[Control]:
    """The sliders for exploring ``option`` against ``counterfactual``, levers first."""
    services, agencies = option.services, option.agencies
    preventive = [v for v, s in services.items() if s["kind"] == "preventive"]
    reactive = [v for v, s in services.items() if s["kind"] == "reactive"]
    out: list[Control] = []
    for v in preventive:
        p = f"services.{v}.places"
        x = float(services[v]["places"])
        top = _nice(max(4.0 * x, 50.0))
        out.append(Control(f"places.{v}", "lever", "Preventive places", _service_label(option, v),
                           "places", 1.0, x, 0.0, top, _nice(top / 400.0), _source(option, p),
                           (p,)))
    pool = option.pool
    if pool.get("enabled"):
        for a, x in pool["contributions"].items():
            p = f"pool.contributions.{a}"
            out.append(Control(f"contribution.{a}", "lever", "Pool contribution (share of budget)",
                               agency_label(option, a), "% of budget", 100.0, float(x), 0.0,
                               max(0.1, _nice(2 * float(x))), 0.0025, _source(option, p), (p,)))
        for v, x in pool["services"].items():
            p = f"pool.services.{v}"
            out.append(Control(f"pool_share.{v}", "lever", "Pool share of spending by service",
                               _service_label(option, v), "% of pool spending", 100.0, float(x),
                               0.0, 1.0, 0.01, _source(option, p), (p,)))
        p = "pool.capture_share"
        out.append(Control("capture_share", "lever", "Pool", "Capture share of cashable savings",
                           "% of savings", 100.0, float(pool["capture_share"]), 0.0, 1.0, 0.01,
                           _source(option, p), (p,)))
    squeezed = [a for a, ag in agencies.items() if ag["type"] in _SQUEEZED_TYPES]
    if squeezed:
        paths = tuple(f"agencies.{a}.budget_growth" for a in squeezed)
        cf_notes = "; ".join(f"{agency_label(counterfactual, a)}: "
                             f"{counterfactual.agencies[a]['budget_growth']:+.2%} a year"
                             for a in squeezed)
        out.append(Control("squeeze_depth", "lever", "Squeeze",
                           "Squeeze depth: extra real-terms cut a year, every local budget",
                           "percentage points a year", 100.0, 0.0, -0.02, 0.05, 0.0025,
                           f"0 = the files' budget growth ({cf_notes})", paths, "squeeze",
                           "both"))
    for v in preventive:
        p = f"services.{v}.effect"
        out.append(Control(f"effect.{v}", "assumption", "Effect size (cut in escalation at full "
                           "coverage)", _service_label(option, v), "%", 100.0,
                           float(services[v]["effect"]), 0.0, 1.0, 0.01, _source(option, p),
                           (p,), arms="both"))
    for kind, ids, unit in (("preventive", preventive, "£ per place per month"),
                            ("reactive", reactive, "£ per event")):
        for v in ids:
            p = f"services.{v}.unit_cost"
            x = float(services[v]["unit_cost"])
            top = _nice(3.0 * x) if x > 0 else 100.0
            out.append(Control(f"unit_cost.{v}", "assumption", f"Unit cost ({kind} services)",
                               _service_label(option, v), unit, 1.0, x, 0.0, top,
                               _nice(top / 300.0), _source(option, p), (p,), arms="both"))
    ap = option.appraisal
    from tpsim.analysis.appraisal import OPTIMISM_BIAS_UPPER_BOUNDS

    bound = OPTIMISM_BIAS_UPPER_BOUNDS.get(ap.get("optimism_bias_category"), 1.0)
    out.append(Control("optimism_bias", "assumption", "Appraisal", "Optimism bias on new costs",
                       "% uplift", 100.0, float(ap["optimism_bias"]), 0.0, bound, 0.01,
                       _source(option, "appraisal.optimism_bias"), ("appraisal.optimism_bias",),
                       "appraisal"))
    price_year = ap.get("qaly_price_year") or option.price_year
    out.append(Control("qaly_value", "assumption", "Appraisal", "Value of a QALY",
                       f"£ per QALY at {price_year} prices", 1.0, float(ap["qaly_value"]), 0.0,
                       150_000.0, 1000.0, _source(option, "appraisal.qaly_value"),
                       ("appraisal.qaly_value",), "appraisal"))
    return out


def check_changes(controls: Mapping[str, Control], changes: object) -> dict[str, float]:
    """``changes`` from a request as ``{control id: float}``: a mapping of known ids to finite
    numbers, else :class:`SettingsError` naming the control."""
    if not isinstance(changes, Mapping):
        raise SettingsError("settings must be an object of slider ids and numbers")
    out = {}
    for cid, value in changes.items():
        if cid not in controls:
            raise SettingsError(f"unknown slider {cid!r}", None)
        c = controls[cid]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{c.label}: expected a number, got {value!r}", cid)
        if not math.isfinite(float(value)):
            raise SettingsError(f"{c.label}: expected a finite number, got {value!r}", cid)
        out[cid] = float(value)
    return out


def _value_at(data: Mapping, path: str) -> float:
    node = data
    for part in path.split("."):
        node = node[part]
    return float(node)


@dataclass(frozen=True)
class Resolved:
    """Settings turned into overrides: parameter overrides of each arm (path -> value, only
    those that differ from the arm's file), the option's appraisal overrides, and the
    validated scenarios."""

    option_overrides: tuple[tuple[str, float], ...]
    counterfactual_overrides: tuple[tuple[str, float], ...]
    appraisal_overrides: tuple[tuple[str, float], ...]
    simulated_option: Scenario      # the option with its parameter overrides (what is run)
    option: Scenario                # ... and its appraisal overrides (what is appraised)
    counterfactual: Scenario


def overrides_for(controls: Mapping[str, Control], settings: Mapping[str, float],
                  option: Scenario, counterfactual: Scenario):
    """(option overrides, counterfactual overrides, appraisal overrides), each sorted by path.

    Both-arm parameters take the slider's value in the counterfactual too when the two files
    agree on it, else the counterfactual's own value scaled by the same factor (so a
    difference the files state is kept)."""
    opt: dict[str, float] = {}
    cf: dict[str, float] = {}
    app: dict[str, float] = {}
    for cid, value in settings.items():
        c = controls[cid]
        if c.kind == "appraisal":
            key = c.paths[0].split(".", 1)[1]
            if value != float(option.appraisal[key]):
                app[key] = value
            continue
        for p in c.paths:
            own = _value_at(option.data, p)
            if c.kind == "squeeze":
                if value != 0.0:
                    opt[p] = own - value
                    cf[p] = _value_at(counterfactual.data, p) - value
                continue
            if value != own:
                opt[p] = value
            if c.arms == "both":
                theirs = _value_at(counterfactual.data, p)
                target = value if theirs == own or own == 0.0 else theirs * (value / own)
                if target != theirs:
                    cf[p] = target
    return (tuple(sorted(opt.items())), tuple(sorted(cf.items())), tuple(sorted(app.items())))


def _control_of(controls: Mapping[str, Control], key: str | None) -> Control | None:
    if key is None:
        return None
    for c in controls.values():
        if key in c.paths or any(key == f"appraisal.{p.split('.', 1)[1]}" for p in c.paths
                                 if c.kind == "appraisal"):
            return c
    return None


def settings_error(controls: Mapping[str, Control], err: ScenarioError, arm: str) -> SettingsError:
    """The validator's sentence, led by the slider it concerns (when one does)."""
    c = _control_of(controls, err.key)
    where = f" ({arm})" if arm == "counterfactual" else ""
    if c is not None:
        return SettingsError(f"{c.label}{where}: {err.message}", c.id)
    group = next((c for c in controls.values() if err.key and any(
        p.startswith(err.key + ".") for p in c.paths)), None)
    if group is not None:  # a check over several sliders (e.g. pool shares that add up)
        return SettingsError(f"{group.group}{where}: {err.message}", group.id)
    return SettingsError(f"{err.key or arm}{where}: {err.message}", None)


def with_appraisal(scenario: Scenario, appraisal: Mapping[str, float]) -> Scenario:
    """``scenario`` with appraisal settings changed, re-validated (optimism bias stepped down
    below its category's bound gets :data:`EXPLORER_REASON` when it has no reason)."""
    if not appraisal:
        return scenario
    from tpsim.analysis.appraisal import OPTIMISM_BIAS_UPPER_BOUNDS

    data = scenario.as_dict()
    data["appraisal"].update(appraisal)
    bound = OPTIMISM_BIAS_UPPER_BOUNDS.get(data["appraisal"].get("optimism_bias_category"))
    if (bound is not None and data["appraisal"]["optimism_bias"] < bound
            and not data["appraisal"].get("optimism_bias_reason")):
        data["appraisal"]["optimism_bias_reason"] = EXPLORER_REASON
    checked = scenario_from_dict(data, source=f"<explorer settings of {scenario.name}>")
    return Scenario(scenario.name, scenario.path, checked.data, scenario.locations)


def _replaced(scenario: Scenario, overrides: tuple[tuple[str, float], ...], cache) -> Scenario:
    if not overrides:
        return scenario
    key = (id(scenario), overrides)  # the bases live as long as the explorer
    found = cache.get(key) if cache is not None else None
    if found is None:
        found = scenario.replace(overrides=dict(overrides))
        if cache is not None:
            cache.put(key, found)
    return found


def scenarios_for(controls: Mapping[str, Control], settings: Mapping[str, float],
                  option: Scenario, counterfactual: Scenario, cache=None) -> Resolved:
    """The validated scenarios of ``settings`` (control id -> value; absent ids keep their
    defaults). A value the validator refuses raises :class:`SettingsError` with its sentence.
    ``cache`` (``get``/``put``) keeps validated scenarios by their overrides."""
    opt, cf, app = overrides_for(controls, settings, option, counterfactual)
    try:
        simulated = _replaced(option, opt, cache)
    except ScenarioError as err:
        raise settings_error(controls, err, "option") from None
    try:
        appraised = with_appraisal(simulated, dict(app))
    except ScenarioError as err:
        raise settings_error(controls, err, "option") from None
    try:
        cf_scenario = _replaced(counterfactual, cf, cache)
    except ScenarioError as err:
        raise settings_error(controls, err, "counterfactual") from None
    return Resolved(opt, cf, app, simulated, appraised, cf_scenario)
