"""Labelled results: turn kernel snapshots into named monthly series.

Month ``m`` (1..horizon) reports stocks at the end of month ``m`` and flows summed over month
``m`` (from ``m - 1`` to ``m``). Money is £ in the month at the scenario's price year; people are
counts; activity is events in the month (reactive) or people covered, averaged over the month
(preventive). Every column is defined once in :mod:`tpsim.models.series` and documented in
docs/outputs.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tpsim.models.series import FAMILIES, column_name, dim_labels, evaluate_all, parse
from tpsim.models.series import family as family_of
from tpsim.models.structure import Model
from tpsim.models.simulate import RawRun


@dataclass
class Results:
    """Named monthly series for every run of a batch: ``results["spend.total"]`` is runs x months."""

    model: Model
    raw: RawRun
    series: dict[str, np.ndarray] = field(default_factory=dict)
    #: the seed the runs were asked for (int, SeedSequence or Generator), kept even when the
    #: model is deterministic so a notebook can record what it asked for
    seed: object = None
    #: parameters varied across runs: dotted path -> one value per run
    varied: dict[str, np.ndarray] = field(default_factory=dict)

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

    def family(self, name: str) -> dict:
        """A family's columns by label (``results.family("spend.agency")["police"]``, runs x
        months): read series by dimension instead of building column names."""
        fam = family_of(name)
        return {label: self.series[column_name(fam, label)]
                for label in dim_labels(self.model, fam.dim)}

    def to_xarray(self):
        """The series as an ``xarray.Dataset``: one variable per series family (``spend_agency``
        with dims (run, month, agency), ``spend_total`` with (run, month), ...), units and
        descriptions in each variable's attrs, labelled coordinates. Services use three
        dimensions, ``service`` (all), ``reactive_service`` and ``preventive_service``, so no
        variable is padded. ``population`` has dims (run, month, cohort, state) with ``state``
        the union of every cohort's states in order and NaN where a cohort has no such state.
        Parameters varied across runs are coordinates along ``run``."""
        import xarray as xr

        m = self.model
        states = list(dict.fromkeys(s for c in m.cohorts for s in m.states[c]))
        coords = {"run": np.arange(self.n_runs), "month": self.months,
                  "agency": list(m.agencies), "service": list(m.services),
                  "reactive_service": list(m.reactive), "preventive_service": list(m.preventive),
                  "kind": ["preventive", "reactive"], "cohort": list(m.cohorts), "state": states}
        for path, values in self.varied.items():
            coords[path] = ("run", np.asarray(values, dtype=float))
        variables = {}
        shape = (self.n_runs, len(self.months))
        for fam in FAMILIES:
            labels = dim_labels(m, fam.dim)
            if fam.dim is None:
                dims, data = ("run", "month"), self.series[column_name(fam, None)]
            elif fam.dim == "cohort_state":
                dims = ("run", "month", "cohort", "state")
                data = np.full(shape + (len(m.cohorts), len(states)), np.nan)
                for c, s in labels:
                    data[:, :, m.cohorts.index(c), states.index(s)] = \
                        self.series[column_name(fam, (c, s))]
            else:
                dims = ("run", "month", fam.dim)
                data = (np.stack([self.series[column_name(fam, lab)] for lab in labels], axis=-1)
                        if labels else np.zeros(shape + (0,)))
            variables[fam.variable] = (dims, data, {
                "units": fam.unit, "description": fam.description, "kind": fam.kind,
                "series": fam.name + ("" if fam.dim is None else f".<{fam.dim}>")})
        attrs = {"scenario": m.name, "month": "1 is the scenario's time.start month; stocks at "
                 "month end, flows summed over the month",
                 "seed": "" if self.seed is None else repr(self.seed)}
        return xr.Dataset(variables, coords=coords, attrs=attrs)

    def to_dataframe(self):
        """The series as a tidy ``pandas.DataFrame``: one row per run, month and series, with
        columns ``run, month, series`` (the dotted timeseries.csv name), ``family``, the
        dimension labels ``agency, service, kind, cohort, state`` (None where a family has no
        such dimension), ``value`` and ``unit``."""
        import pandas as pd

        names = self.columns
        n_runs, n_months = self.n_runs, len(self.months)
        label_cols = {k: [] for k in ("agency", "service", "kind", "cohort", "state")}
        families, units = [], []
        for name in names:
            fam, label = parse(self.model, name)
            families.append(fam.name)
            units.append(fam.unit)
            row = dict.fromkeys(label_cols)
            if fam.dim == "cohort_state":
                row["cohort"], row["state"] = label
            elif fam.dim in ("service", "reactive_service", "preventive_service"):
                row["service"] = label
            elif fam.dim is not None:
                row[fam.dim] = label
            for k in label_cols:
                label_cols[k].append(row[k])
        values = np.stack([self.series[n] for n in names])  # series x runs x months
        per_series = n_runs * n_months
        frame = {"run": np.tile(np.repeat(np.arange(n_runs), n_months), len(names)),
                 "month": np.tile(self.months, n_runs * len(names)),
                 "series": np.repeat(np.array(names, dtype=object), per_series),
                 "family": np.repeat(np.array(families, dtype=object), per_series)}
        for k, v in label_cols.items():
            frame[k] = np.repeat(np.array(v, dtype=object), per_series)
        frame["value"] = values.reshape(-1)
        frame["unit"] = np.repeat(np.array(units, dtype=object), per_series)
        return pd.DataFrame(frame)

    def table(self, run: int = 0) -> tuple[list[str], np.ndarray]:
        """Column names (``month`` first) and a months x columns array for one run."""
        cols = ["month"] + self.columns
        data = np.column_stack([self.months] + [self.series[c][run] for c in self.columns])
        return cols, data

    def totals(self, run: int = 0) -> dict:
        """Totals over the horizon for one run (money in £, people in counts)."""
        def sums(name: str) -> dict[str, float]:
            return {label: float(v[run].sum()) for label, v in self.family(name).items()}

        out = {
            "spend_by_agency": sums("spend.agency"),
            "spend_by_kind": sums("spend.kind"),
            "spend_total": float(self.series["spend.total"][run].sum()),
            "escalations": sums("escalations"),
            "crisis_person_months": sums("crisis_person_months"),
            "exits": sums("exits"),
            "final_reserves": {a: float(v[run][-1]) for a, v in self.family("reserves.agency").items()},
        }
        return out

    def s114_months(self, run: int = 0) -> dict[str, int | None]:
        """First month each council's reserves are below zero (a section 114 notice), or None."""
        out = {}
        reserves = self.family("reserves.agency")
        for a, kind in zip(self.model.agencies, self.model.agency_types):
            if kind != "council":
                continue
            below = np.flatnonzero(reserves[a][run] < 0.0)
            out[a] = int(self.months[below[0]]) if below.size else None
        return out


def build_results(model: Model, raw: RawRun, seed=None) -> Results:
    """Label a :class:`RawRun` recorded with ``record=True``: every series of
    :mod:`tpsim.models.series`, in timeseries.csv order."""
    if raw.record_index.size != model.nstate:
        raise ValueError("build_results needs every state entry recorded (record=True)")
    return Results(model, raw, evaluate_all(model, raw), seed=seed)
