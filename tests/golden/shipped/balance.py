"""Rebalance the shipped baseline's month 0 with the library solver and write the solved
numbers into scenarios/baseline.yaml in place (comments kept).

Run from anywhere: ``python tests/golden/shipped/balance.py``; then regenerate the golden
outputs (``make.py``) and review both diffs. It sets, with :func:`tpsim.initial_state`
(``solve="rates"``: the stocks are kept):

* every state's base ``escalation`` and each cohort's first-state ``inflow`` (month 0 balanced:
  inflow + transitions in = exits + escalation, with the prevention mechanisms at month-0
  coverage);
* every agency's ``budget`` = month-0 modelled spend x (1 + overhead), so pressure is 1;
* every agency's ``budget_growth`` = the growth of its modelled spend in a run without cuts
  (:func:`tpsim.place.build.derive_budget_growth`);
* the reserves of the agencies in :data:`RESERVE_SHARE` = that share of a year's month-0
  modelled spend (the rules stated in baseline.yaml's comments).

``tests/test_evidence_scenarios.py`` checks that the file holds these values, so the numbers
can only come from this solver, never from an uncommitted script.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

BASELINE = ROOT / "scenarios" / "baseline.yaml"

#: Reserves as a share of a year's modelled spend: councils (adult social care, children's
#: services, housing) 36% of non-education NCE (ro2324); the ring-fenced public-health grant
#: and the police ~10% (assumptions in baseline.yaml).
RESERVE_SHARE = {"council_asc": 0.36, "council_childrens": 0.36, "housing": 0.36,
                 "council_public_health": 0.10, "police": 0.10}

#: ONS headcount growth of a cohort, per year, that its first-year arrivals rise to (the
#: older people: 65+ +1.0%/yr, ons_projections in baseline.yaml); the later years' path is in
#: the scenario's ``changes:``.
ONS_GROWTH = {"older_people": 0.010}

#: Significant figures written for each kind of solved value.
DIGITS = {"escalation": 6, "inflow": 6, "budget": None, "budget_growth": 3,
          "inflow_growth": 3}


def solved_values(path: Path = BASELINE) -> dict[str, float]:
    """Dotted path -> the solved value, rounded as written to the file."""
    from tpsim.api import initial_state, load
    from tpsim.place.build import derive_budget_growth

    scenario = load(path)
    state = initial_state(scenario, solve="rates")
    values = {}
    for path_, value in state.overrides(budgets=True).items():
        kind = path_.rsplit(".", 1)[1]
        if kind == "initial":
            continue
        if kind == "inflow" and value == 0.0:
            continue
        values[path_] = _round(value, DIGITS[kind])
    for cohort, growth in ONS_GROWTH.items():
        values[f"cohorts.{cohort}.inflow_growth"] = _round(
            arrivals_ramp(scenario, state, cohort, growth), DIGITS["inflow_growth"])
    for agency, share in RESERVE_SHARE.items():
        values[f"agencies.{agency}.reserves"] = float(round(share * 12.0 * state.spend[agency]))
    balanced = scenario.replace(overrides=values)
    for agency, growth in derive_budget_growth(balanced).items():
        values[f"agencies.{agency}.budget_growth"] = _round(growth, DIGITS["budget_growth"])
    return values


def arrivals_ramp(scenario, state, cohort: str, growth: float) -> float:
    """The first year's arrivals growth (per year) that takes a cohort balanced at month 0
    (arrivals = exits) onto a headcount growing at ``growth`` a year: arrivals must exceed
    exits by ``growth`` x people, so they rise by the factor ``1 + growth / k`` (``k`` = the
    month-0 arrivals a year / people), times the headcount's growth over the half year the
    first year's population lags by."""
    states = scenario.cohorts[cohort]["states"]
    people = sum(float(st["initial"]) for st in states.values())
    arrivals = 12.0 * sum(state.inflow.get((cohort, s), 0.0) for s in states)
    k = arrivals / people
    return (1.0 + growth / k) * (1.0 + growth) ** 0.5 - 1.0


def _round(value: float, digits: int | None) -> float:
    if digits is None:
        return float(round(value))
    if value == 0.0:
        return 0.0
    from math import floor, log10
    return float(round(value, digits - 1 - int(floor(log10(abs(value))))))


def _format(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return str(int(value))
    return repr(value)


def write(values: dict[str, float], path: Path = BASELINE) -> int:
    """Replace each value on the line of its key; returns how many lines changed."""
    from tpsim.config.yamlio import locate, read_yaml

    document = read_yaml(path, str(path))
    lines = path.read_text(encoding="utf-8").split("\n")
    changed = 0
    for key, value in values.items():
        where = locate(document.locations, key)
        if where is None:
            raise SystemExit(f"{path}: no line for {key} (add the key, then rerun)")
        i = where[1] - 1
        leaf = key.rsplit(".", 1)[1]
        pattern = re.compile(rf"^(\s*{re.escape(leaf)}:\s*)([-+0-9.eE]+)(\s*)(#.*)?$")
        match = pattern.match(lines[i])
        if match is None:
            raise SystemExit(f"{path}:{i + 1}: cannot parse the line of {key}")
        text = _format(value)
        old = match.group(2)
        pad = max(1, len(old) + len(match.group(3)) - len(text)) if match.group(4) else 0
        new = match.group(1) + text + (" " * pad + match.group(4) if match.group(4) else "")
        if new != lines[i]:
            lines[i] = new
            changed += 1
    path.write_text("\n".join(lines), encoding="utf-8")
    return changed


if __name__ == "__main__":
    print(f"{write(solved_values())} lines changed in {BASELINE}")
