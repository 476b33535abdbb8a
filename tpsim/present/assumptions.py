"""The key assumptions of a comparison in words, for the report: each parameter that differs
from the counterfactual, the evidence the savings rest on and the appraisal settings, each with
the comment (its source) written beside it in the scenario file; and dotted parameter paths in
words (``parameter_label``)."""
from __future__ import annotations

import re
from pathlib import Path

from tpsim.present.labels import parameter_label  # noqa: F401 (re-exported)
from tpsim.config.scenario import Scenario


_COMMENT = re.compile(r"\s#\s?(.*)$")


def _comment(location, cache: dict) -> str:
    """The YAML comment on a key's line (the scenario files cite a source there), or ''."""
    if not location:
        return ""
    file, line = location
    if file not in cache:
        try:
            cache[file] = Path(file).read_text(encoding="utf-8").splitlines()
        except OSError:
            cache[file] = []
    lines = cache[file]
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1]
    # drop quoted strings before looking for the comment
    stripped = re.sub(r"\"[^\"]*\"|'[^']*'", lambda m: "x" * len(m.group(0)), text)
    match = _COMMENT.search(stripped)
    return text[match.start(1):].strip() if match else ""


def _location(scenario: Scenario, path: str):
    probe = path
    while probe:
        if probe in scenario.locations:
            return scenario.locations[probe]
        probe = probe.rpartition(".")[0]
    return None


def _value_text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def _get(scenario: Scenario, path: str):
    try:
        return scenario.get(path)
    except Exception:  # noqa: BLE001 - a path absent from one side of a comparison
        return None


def _cited(comment: str, sources: dict) -> list[str]:
    return [sid for sid in sources if re.search(rf"(?<![\w]){re.escape(sid)}(?![\w])", comment)]


def key_assumptions(scenario: Scenario, counterfactual: Scenario, cache: dict | None = None) -> dict:
    """The assumptions that drive a comparison, each with its value and the comment (source)
    written beside it in the scenario file:

    * ``differences``: every parameter whose value differs from the counterfactual's (what the
      scenario does), and any difference in time-keyed changes;
    * ``evidence``: each preventive service's effect, time to effect, uptake and unit cost (the
      evidence the savings rest on);
    * ``appraisal``: discount rates, optimism bias and the value of a QALY;
    * ``sources``: the cited source ids with their citations.
    """
    cache = {} if cache is None else cache
    other_paths = set(counterfactual.parameter_paths())
    sources = dict(counterfactual.sources)
    sources.update(scenario.sources)
    cited: list[str] = []

    def row(path: str, value, other=None, owner: Scenario = scenario) -> dict:
        loc = _location(owner, path)
        note = _comment(loc, cache)
        ids = _cited(note, sources)
        cited.extend(i for i in ids if i not in cited)
        where = f"{loc[0]}:{loc[1]}" if loc else ""
        other_text = "not set" if other is None and path not in other_paths else _value_text(other)
        return {"path": path, "value": _value_text(value), "counterfactual": other_text,
                "note": note, "where": where, "sources": ids}

    paths = list(dict.fromkeys(scenario.parameter_paths() + counterfactual.parameter_paths()))
    differences = []
    for path in paths:
        a, b = _get(scenario, path), _get(counterfactual, path)
        if a != b:
            differences.append(row(path, a, b))
    if scenario.changes != counterfactual.changes:
        for k, change in enumerate(scenario.changes):
            for p, v in change["set"].items():
                differences.append(row(f"changes.{k}", v, None) | {
                    "path": f"from month {change['month']:g}: {p}"})
    evidence = []
    for v, svc in scenario.services.items():
        if svc["kind"] != "preventive":
            continue
        for key in ("effect", "time_to_effect", "uptake", "unit_cost"):
            evidence.append(row(f"services.{v}.{key}", svc[key]))
    appraisal = [row(f"appraisal.{k}", scenario.appraisal[k])
                 for k in ("discount_rate", "health_discount_rate", "optimism_bias", "qaly_value",
                           "value_qalys")]
    return {"differences": differences, "evidence": evidence, "appraisal": appraisal,
            "sources": {sid: sources[sid] for sid in cited}}
