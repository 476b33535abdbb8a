"""Labelled results: turn kernel snapshots into named monthly series.

Month ``m`` (1..horizon) reports stocks at the end of month ``m`` and flows summed over month
``m`` (from ``m - 1`` to ``m``). Money is £ in the month at the scenario's price year; people are
counts; activity is events in the month (reactive) or people covered, averaged over the month
(preventive). Every column is documented in docs/outputs.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tpsim.models import layout as lo
from tpsim.models.structure import Model
from tpsim.models.simulate import RawRun


@dataclass
class Results:
    """Named monthly series for every run of a batch: ``results["spend.total"]`` is runs x months."""

    model: Model
    raw: RawRun
    series: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def months(self) -> np.ndarray:
        return np.arange(1, self.model.n_months + 1)

    @property
    def n_runs(self) -> int:
        return self.raw.final.shape[0]

    @property
    def columns(self) -> list[str]:
        return list(self.series)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.series[name]

    def table(self, run: int = 0) -> tuple[list[str], np.ndarray]:
        """Column names (``month`` first) and a months x columns array for one run."""
        cols = ["month"] + self.columns
        data = np.column_stack([self.months] + [self.series[c][run] for c in self.columns])
        return cols, data

    def totals(self, run: int = 0) -> dict:
        """Totals over the horizon for one run (money in £, people in counts)."""
        m = self.model
        out = {
            "spend_by_agency": {a: float(self.series[f"spend.agency.{a}"][run].sum())
                                for a in m.agencies},
            "spend_by_kind": {k: float(self.series[f"spend.kind.{k}"][run].sum())
                              for k in ("preventive", "reactive")},
            "spend_total": float(self.series["spend.total"][run].sum()),
            "escalations": {c: float(self.series[f"escalations.{c}"][run].sum()) for c in m.cohorts},
            "crisis_person_months": {c: float(self.series[f"crisis_person_months.{c}"][run].sum())
                                     for c in m.cohorts},
            "exits": {c: float(self.series[f"exits.{c}"][run].sum()) for c in m.cohorts},
            "final_reserves": {a: float(self.series[f"reserves.agency.{a}"][run][-1])
                               for a in m.agencies},
        }
        return out

    def s114_months(self, run: int = 0) -> dict[str, int | None]:
        """First month each council's reserves are below zero (a section 114 notice), or None."""
        out = {}
        for a, kind in zip(self.model.agencies, self.model.agency_types):
            if kind != "council":
                continue
            below = np.flatnonzero(self.series[f"reserves.agency.{a}"][run] < 0.0)
            out[a] = int(self.months[below[0]]) if below.size else None
        return out


def build_results(model: Model, raw: RawRun) -> Results:
    """Label a :class:`RawRun` recorded with ``record=True``."""
    if raw.record_index.size != model.nstate:
        raise ValueError("build_results needs every state entry recorded (record=True)")
    traj = raw.trajectory  # runs x (months+1) x nstate
    xo = model.xo

    def stock(block: int, item: int = 0) -> np.ndarray:
        return traj[:, 1:, xo[block] + item]

    def flow(block: int, item: int = 0) -> np.ndarray:
        col = traj[:, :, xo[block] + item]
        return np.diff(col, axis=1)

    S: dict[str, np.ndarray] = {}
    for i, (c, s) in enumerate(model.pop_labels):
        S[f"population.{c}.{s}"] = stock(lo.X_POP, i)
    for v in model.services:
        if v in model.preventive:
            S[f"activity.{v}"] = flow(lo.A_ACT_PREV, model.preventive.index(v))
        else:
            S[f"activity.{v}"] = flow(lo.A_ACT_REACT, model.reactive.index(v))
    for r_i, r in enumerate(model.reactive):
        S[f"waiting.{r}"] = stock(lo.X_WAITING, r_i)
    for v in model.services:
        if v in model.preventive:
            S[f"spend.service.{v}"] = flow(lo.A_SPEND_PREV, model.preventive.index(v))
        else:
            S[f"spend.service.{v}"] = flow(lo.A_SPEND_REACT, model.reactive.index(v))
    for r_i, r in enumerate(model.reactive):
        S[f"value.service.{r}"] = flow(lo.A_VALUE_REACT, r_i)
    for a_i, a in enumerate(model.agencies):
        S[f"spend.agency.{a}"] = flow(lo.A_AG_SPEND, a_i)
    S["spend.kind.preventive"] = sum((S[f"spend.service.{v}"] for v in model.preventive),
                                     np.zeros_like(S["population." + ".".join(model.pop_labels[0])]))
    S["spend.kind.reactive"] = sum((S[f"spend.service.{r}"] for r in model.reactive),
                                   np.zeros_like(S["spend.kind.preventive"]))
    S["spend.overhead"] = sum(flow(lo.A_AG_OVERHEAD, a_i) for a_i in range(len(model.agencies)))
    S["spend.transition"] = flow(lo.A_SETUP) + flow(lo.A_DOUBLE_RUNNING)
    S["spend.total"] = flow(lo.A_TOTAL)
    for a_i, a in enumerate(model.agencies):
        S[f"budget.agency.{a}"] = flow(lo.A_BUDGET, a_i)
    for a_i, a in enumerate(model.agencies):
        S[f"reserves.agency.{a}"] = stock(lo.X_RESERVES, a_i)
    for a_i, a in enumerate(model.agencies):
        budget = S[f"budget.agency.{a}"]
        perceived = stock(lo.X_PERCEIVED, a_i)
        with np.errstate(divide="ignore", invalid="ignore"):
            S[f"pressure.agency.{a}"] = np.where(budget > 0, perceived / np.where(budget > 0, budget, 1.0), np.inf)
    for a_i, a in enumerate(model.agencies):
        S[f"overhead.agency.{a}"] = flow(lo.A_AG_OVERHEAD, a_i)
        S[f"contribution.agency.{a}"] = flow(lo.A_AG_CONTRIB, a_i)
        S[f"capture.agency.{a}"] = flow(lo.A_AG_CAPTURE, a_i)
    places_col = model.po[lo.P_PV_PLACES]
    for v_i, v in enumerate(model.preventive):
        places = np.stack([model.param_path_over_time(places_col + v_i, raw.theta[k], raw.ev_values[k])
                           for k in range(raw.theta.shape[0])])
        S[f"prevention_funding.{v}"] = (stock(lo.X_FUNDING, v_i) * places + stock(lo.X_POOL_PLACES, v_i)
                                        + stock(lo.X_COMMUNITY, v_i))
        S[f"funding_level.{v}"] = stock(lo.X_FUNDING, v_i)
        last_stage = int(model.structure["prev_stage0"][v_i] + model.structure["prev_order"][v_i] - 1)
        S[f"coverage.{v}"] = stock(lo.X_STAGE, last_stage)
    S["pool.balance"] = stock(lo.X_POOL)
    S["pool.reinvested"] = flow(lo.A_REINVESTED)
    S["pool.contributions"] = flow(lo.A_POOL_IN) - S["pool.reinvested"]
    S["pool.spend"] = flow(lo.A_POOL_SPEND)
    for c_i, c in enumerate(model.cohorts):
        S[f"inflow.{c}"] = flow(lo.A_INFLOW, c_i)
        S[f"escalations.{c}"] = flow(lo.A_ESC, c_i)
        S[f"exits.{c}"] = flow(lo.A_EXIT, c_i)
        top = model.pop_index(c, model.states[c][-1])
        S[f"crisis_person_months.{c}"] = flow(lo.A_PERSON_MONTHS, top)
        qalys = np.zeros_like(S[f"inflow.{c}"])
        for s in model.states[c]:
            i = model.pop_index(c, s)
            qalys = qalys + model.pop_utility[i] * flow(lo.A_PERSON_MONTHS, i) / 12.0
        S[f"qalys.{c}"] = qalys
    return Results(model, raw, S)
