"""The model's implied return per £1 of each preventive service, beside the published range.

For every preventive service of a scenario, one batched kernel call (:func:`tpsim.api.run` with
``vary``) simulates the scenario as it is (run 0) and, for each service ``s``, the scenario
with ``s`` taken out (run k): its funded places, its community places and its pool share set
to zero, or, with a counterfactual, set to the counterfactual's values (so the return is that
of what the scenario adds to the counterfactual's provision of ``s``). The difference between
run 0 and run k is appraised with :func:`tpsim.analysis.appraisal.appraise` as ``tpsim
compare`` appraises a scenario, with settings fixed so that the figure is comparable with
published evaluations: no optimism bias (on costs, nor the benefit delay and haircut), and
QALYs valued (economic return only).

Returns per £1 (dimensionless; money is £ at the scenario's price year, discounted with the
Green Book schedule of the scenario's ``appraisal`` section):

* fiscal = PV of cashable savings to every agency / PV of the extra cost borne
  (:func:`tpsim.analysis.appraisal.benefit_cost_ratio` of the total row);
* economic = PV of the social benefits / PV of the extra cost, where the social benefits are
  the appraisal's NPSV plus the cost (resource savings, cashable and non-cashable, less the
  savings on transfers such as benefits and tax, which move money between people and the state
  and are no economic benefit; plus QALYs gained x qaly_value and any valued outcomes).

Both over the Parliament (the first ``parliament_months``) and over the horizon. A service whose
removal changes no cost (no places to remove, or the same provision as the counterfactual) has
no return (None). :func:`compare_with_library` puts each return beside the published range of
the evidence library (``scenarios/evidence.yaml``) and says whether it is inside.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from tpsim.analysis.appraisal import (Accounts, AppraisalSettings, appraise, monthly_flows)
from tpsim.config.evidence import Evidence, load_evidence
from tpsim.config.scenario import Scenario
from tpsim.errors import TpsimError

__all__ = ["ServiceReturn", "EvidenceRow", "removal_overrides", "service_returns",
           "compare_with_library", "EVIDENCE_COLUMNS", "EVIDENCE_DETAIL_COLUMNS"]

#: evidence.csv columns, in order: the return per £1 of each service over the horizon beside
#: the published range of the measure the library names (fiscal or economic).
EVIDENCE_COLUMNS = (
    "service", "fiscal_return_per_pound", "economic_return_per_pound", "published_low",
    "published_high", "source", "within_range",
)
#: The further figures of each row (evidence.json and :func:`tpsim.evidence`): the measure the
#: range is of, the returns over the Parliament, the present values (£) behind the horizon
#: returns and the library's reason for a return outside the range.
EVIDENCE_DETAIL_COLUMNS = (
    "published_measure", "fiscal_return_per_pound_parliament",
    "economic_return_per_pound_parliament", "pv_cost_horizon", "pv_cashable_savings_horizon",
    "pv_non_cashable_savings_horizon", "pv_transfer_savings_horizon", "pv_qaly_value_horizon",
    "pv_social_benefits_horizon", "reason",
)


@dataclass(frozen=True)
class ServiceReturn:
    """The model's return per £1 of one preventive service (None: no cost to divide by).

    ``pv_*`` are £ present values over the horizon of the difference "with the service minus
    without it" (``pv_social_benefits_horizon``: the numerator of the economic return);
    ``removed`` gives the parameter values of the run without it."""

    service: str
    fiscal_parliament: float | None
    fiscal_horizon: float | None
    economic_parliament: float | None
    economic_horizon: float | None
    pv_cost_horizon: float
    pv_cashable_savings_horizon: float
    pv_non_cashable_savings_horizon: float
    pv_qaly_value_horizon: float
    removed: dict
    pv_transfer_savings_horizon: float = 0.0
    pv_social_benefits_horizon: float = 0.0


@dataclass(frozen=True)
class EvidenceRow:
    """One row of evidence.csv: a model return beside the library's published range."""

    model: ServiceReturn
    published_measure: str | None
    published_low: float | None
    published_high: float | None
    source: str | None
    within_range: bool | None
    reason: str

    def as_row(self) -> list:
        """The :data:`EVIDENCE_COLUMNS` values, in order (None: not available)."""
        m = self.model
        return [m.service, m.fiscal_horizon, m.economic_horizon, self.published_low,
                self.published_high, self.source, self.within_range]

    def as_dict(self) -> dict:
        """Every column, :data:`EVIDENCE_COLUMNS` then :data:`EVIDENCE_DETAIL_COLUMNS`."""
        m = self.model
        detail = [self.published_measure, m.fiscal_parliament, m.economic_parliament,
                  m.pv_cost_horizon, m.pv_cashable_savings_horizon,
                  m.pv_non_cashable_savings_horizon, m.pv_transfer_savings_horizon,
                  m.pv_qaly_value_horizon, m.pv_social_benefits_horizon, self.reason]
        return dict(zip(EVIDENCE_COLUMNS + EVIDENCE_DETAIL_COLUMNS, self.as_row() + detail))


def _provision_paths(scenario: Scenario, service: str) -> list[str]:
    """The dotted paths that fund a preventive service: places, community places, pool share."""
    paths = [f"services.{service}.places"]
    if scenario.services[service].get("community"):
        paths.append(f"services.{service}.community.places")
    pool = scenario.pool
    if pool.get("enabled") and service in (pool.get("services") or {}):
        paths.append(f"pool.services.{service}")
    return paths


def removal_overrides(scenario: Scenario, service: str,
                      counterfactual: Scenario | None = None) -> dict[str, float]:
    """The values that take ``service`` out of ``scenario``: every path that funds it at zero,
    or at the counterfactual's value (zero where the counterfactual has no such path).

    A pooled service's share of the pool goes with it: the pool's contributions, set-up and
    double-running costs shrink by ``(share - counterfactual share) / sum of shares``, so the
    other pooled services keep their money (the pool spends a balance it does not allocate
    on the services it does, which would otherwise hand a removed service's money to them)."""
    out = {}
    for path in _provision_paths(scenario, service):
        value = 0.0
        if counterfactual is not None:
            try:
                value = float(counterfactual.get(path))
            except (KeyError, TpsimError, TypeError):
                value = 0.0
            if path.startswith("pool.") and not counterfactual.pool.get("enabled"):
                value = 0.0
        out[path] = value
    pool_path = f"pool.services.{service}"
    if pool_path in out:
        pool = scenario.pool
        shares = sum(float(v) for v in (pool.get("services") or {}).values())
        removed = float(pool["services"][service]) - out[pool_path]
        if shares > 0.0 and removed != 0.0:
            keep = 1.0 - removed / shares
            for agency, share in (pool.get("contributions") or {}).items():
                out[f"pool.contributions.{agency}"] = float(share) * keep
            out["pool.setup_cost"] = float(pool["setup_cost"]) * keep
            out["pool.double_running.cost"] = float(pool["double_running"]["cost"]) * keep
    return out


def _ratio(benefits: float, costs: float, tolerance: float) -> float | None:
    return None if costs <= tolerance else float(benefits / costs)


def service_returns(scenario: Scenario, counterfactual: Scenario | None = None,
                    services: Sequence[str] | None = None,
                    cost_tolerance: float = 1.0) -> list[ServiceReturn]:
    """The return per £1 of each preventive service of ``scenario`` (default: all, in file
    order), from one batched simulation (run 0: the scenario; run k: without service k).

    ``cost_tolerance`` (£ of PV cost) is the smallest cost a return is computed for."""
    from tpsim.api import run

    preventive = [s for s, spec in scenario.services.items() if spec["kind"] == "preventive"]
    chosen = list(services) if services is not None else preventive
    for s in chosen:
        if s not in preventive:
            raise TpsimError(f"services.{s}: not a preventive service of {scenario.name} "
                             f"(preventive: {', '.join(preventive) or 'none'})")
    if not chosen:
        return []
    removals = [removal_overrides(scenario, s, counterfactual) for s in chosen]
    paths = list(dict.fromkeys(p for r in removals for p in r))
    current = {p: float(scenario.get(p)) for p in paths}
    vary = {p: [current[p]] + [r.get(p, current[p]) for r in removals] for p in paths}
    results = run(scenario, vary=vary)
    accounts = Accounts.from_model(results.model, scenario.data)   # transfers marked
    names = results.columns

    def series(i: int) -> dict[str, np.ndarray]:
        return {n: results[n][i] for n in names}

    with_all = series(0)
    # no optimism bias on costs or benefits, QALYs valued: comparable with published returns
    settings = replace(AppraisalSettings.from_appraisal(scenario.appraisal, 0.0),
                       value_qalys=True, benefit_delay_months=0, benefit_haircut=0.0)
    out = []
    for k, s in enumerate(chosen, start=1):
        flows = monthly_flows(with_all, series(k), accounts)
        t = appraise(flows, settings).total
        # social benefits = NPSV + the (un-uplifted: no optimism bias here) cost
        economic = {p: t[f"npsv_{p}"] + t[f"pv_uplifted_costs_{p}"]
                    for p in ("parliament", "horizon")}
        out.append(ServiceReturn(
            service=s,
            fiscal_parliament=_ratio(t["pv_cashable_savings_parliament"],
                                     t["pv_costs_parliament"], cost_tolerance),
            fiscal_horizon=_ratio(t["pv_cashable_savings_horizon"], t["pv_costs_horizon"],
                                  cost_tolerance),
            economic_parliament=_ratio(economic["parliament"], t["pv_costs_parliament"],
                                       cost_tolerance),
            economic_horizon=_ratio(economic["horizon"], t["pv_costs_horizon"],
                                    cost_tolerance),
            pv_cost_horizon=t["pv_costs_horizon"],
            pv_cashable_savings_horizon=t["pv_cashable_savings_horizon"],
            pv_non_cashable_savings_horizon=t["pv_non_cashable_savings_horizon"],
            pv_qaly_value_horizon=t["pv_qaly_value_horizon"],
            removed=removals[k - 1],
            pv_transfer_savings_horizon=t["pv_transfer_savings_horizon"],
            pv_social_benefits_horizon=economic["horizon"]))
    return out


def compare_with_library(returns: Sequence[ServiceReturn],
                         evidence: Evidence | None = None) -> list[EvidenceRow]:
    """Each model return beside the library's published range of the same measure (fiscal or
    economic, over the horizon); ``within_range`` is None where either side is missing. The
    library's ``reason`` for a service (why its model return may sit outside the range) is
    carried through; a service without an entry gets the reason "no evidence entry"."""
    evidence = evidence if evidence is not None else load_evidence()
    rows = []
    for r in returns:
        entry = evidence.services.get(r.service)
        if entry is None:
            rows.append(EvidenceRow(r, None, None, None, None, None,
                                    f"no entry in the evidence library ({evidence.path.name})"))
            continue
        pub = entry.published
        value = r.fiscal_horizon if pub.measure == "fiscal" else r.economic_horizon
        within = None if value is None else bool(pub.low <= value <= pub.high)
        reason = entry.reason
        if value is None and not reason:
            reason = "no cost difference: the service is not funded differently in the two runs"
        rows.append(EvidenceRow(r, pub.measure, pub.low, pub.high, pub.source, within, reason))
    return rows
