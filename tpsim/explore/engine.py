"""The explorer's warm model: validated settings in, the view's figures out.

* :class:`KernelBatcher` is one thread that owns the kernel: request threads hand it compiled
  runs and wait; it simulates every run waiting at that moment in one batched call (grouped
  by structure, as :func:`tpsim.analysis.comparison.simulate_specs` does for a comparison). A
  block of the kernel computes 64 runs whatever the batch, so twenty sessions cost about what
  one does.
* :class:`Explorer` holds the option and counterfactual files, their sliders, and caches of
  validated scenarios and simulated arms keyed by their overrides (an assumption the
  counterfactual shares is simulated once for every session; an appraisal-only slider, such
  as the QALY value, simulates nothing). :meth:`Explorer.view` is the appraisal of one
  session's settings with the same functions ``tpsim compare`` uses, so the NPSV shown is
  ``tpsim compare``'s on the saved files.
* :meth:`Explorer.uncertainty` runs the Monte Carlo ensemble of the settings (``tpsim
  ensemble``'s functions) for the band on people by need state and the fiscal NPV's range;
  :meth:`Explorer.scenario_yaml` and :meth:`Explorer.report_html` give the saved files and
  the business-case report.

Money is £ at the scenarios' price year; months count from 1.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tpsim.analysis.appraisal import Accounts, AppraisalSettings, appraise, monthly_flows
from tpsim.analysis.cashflow import councils, section_114_months
from tpsim.analysis.comparison import (base_spec, check_comparable, new_place_shares,
                                       simulate_specs, valued_series)
from tpsim.config.scenario import Scenario
from tpsim.errors import ScenarioError, TpsimError
from tpsim.explore.controls import Control, Resolved, SettingsError, controls_for, scenarios_for
from tpsim.models.structure import Model, compile_scenario
from tpsim.present import wording
from tpsim.present.labels import agency_label, short_label

__all__ = ["Explorer", "KernelBatcher", "LRU", "Arm"]


class LRU:
    """A small thread-safe least-recently-used cache (``get`` / ``put``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class Arm:
    """One simulated arm: its scenario, compiled model and labelled monthly series."""

    scenario: Scenario
    model: Model
    series: dict[str, np.ndarray]


class _Job:
    __slots__ = ("model", "rates", "done", "series", "error")

    def __init__(self, model: Model, rates: tuple[float, float]) -> None:
        self.model, self.rates = model, rates
        self.done = threading.Event()
        self.series = None
        self.error = None


class KernelBatcher:
    """The thread that calls the kernel: each call simulates every run waiting (see the
    module docstring). ``calls`` and ``runs`` count the kernel calls and runs made."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="tpsim-explore-kernel",
                                        daemon=True)
        self.calls = 0
        self.runs = 0
        self._thread.start()

    def simulate(self, model: Model, rates: tuple[float, float]) -> dict[str, np.ndarray]:
        """The labelled series of ``model``'s own run (blocks until its batch is done)."""
        job = _Job(model, rates)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.series

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while True:  # every run that arrived while the last batch ran
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            by_rates: dict[tuple, list[_Job]] = {}
            for job in jobs:
                by_rates.setdefault(job.rates, []).append(job)
            for rates, group in by_rates.items():
                try:
                    batch = simulate_specs([base_spec(j.model) for j in group], *rates)
                    self.calls += batch.kernel_calls
                    self.runs += len(group)
                    for i, job in enumerate(group):
                        job.series = {k: np.array(v) for k, v in batch.series(i).items()}
                except Exception as err:  # handed to the waiting request, never lost
                    for job in group:
                        job.error = err
                for job in group:
                    job.done.set()
            if stop:
                return


def _rounded(values: np.ndarray, digits: int = 6) -> list[float]:
    """A chart's values to ``digits`` significant figures of the series' largest magnitude
    (a smaller JSON; the headline figures are sent unrounded)."""
    values = np.asarray(values, dtype=float)
    top = float(np.max(np.abs(values), initial=0.0))
    if top == 0.0 or not np.isfinite(top):
        return values.tolist()
    decimals = int(digits - 1 - np.floor(np.log10(top)))
    return np.round(values, decimals).tolist()


class Explorer:
    """The options and counterfactual being explored, warm (compiled and simulated once at
    start). One instance serves every session; it keeps no session's settings itself."""

    def __init__(self, options: Sequence[Scenario], counterfactual: Scenario,
                 cache_size: int = 256) -> None:
        if not options:
            raise TpsimError("give at least one scenario to explore")
        names = [o.name for o in options]
        if len(set(names)) != len(names) or counterfactual.name in names:
            raise TpsimError("the scenarios explored and the counterfactual need different "
                             "names")
        for o in options:
            check_comparable(o, counterfactual)
        self.options = {o.name: o for o in options}
        self.counterfactual = counterfactual
        # The live views validate the settings without the uncertainty section: checking a
        # section re-validates the scenario at every distribution's extremes (about 0.3 s),
        # and the section changes nothing in a single run. Saves, reports and ensembles
        # validate the full scenario.
        self._live = {o.name: _without_uncertainty(o) for o in options}
        self._live_cf = _without_uncertainty(counterfactual)
        self.controls = {o.name: {c.id: c for c in controls_for(o, counterfactual)}
                         for o in options}
        self.batcher = KernelBatcher()
        self._scenarios = LRU(cache_size)
        self._arms = LRU(cache_size)
        self._report_lock = threading.Lock()
        self._ensemble_lock = threading.Lock()
        ap = counterfactual.appraisal
        self.rates = (float(ap["discount_rate"]), float(ap["health_discount_rate"]))
        for name in self.options:  # compile and simulate once: the kernel is loaded, warm
            self.view(name, {})

    def close(self) -> None:
        self.batcher.close()

    # -- settings --------------------------------------------------------------------------

    def default_option(self) -> str:
        return next(iter(self.options))

    def option_controls(self, option: str) -> dict[str, Control]:
        if option not in self.options:
            raise SettingsError(f"unknown option {option!r}; the options are "
                                f"{', '.join(self.options)}")
        return self.controls[option]

    def resolve(self, option: str, settings: Mapping[str, float], live: bool = False
                ) -> Resolved:
        """Validated scenarios for ``settings`` of ``option`` (SettingsError when refused);
        ``live``: without their uncertainty sections (what a view simulates)."""
        controls = self.option_controls(option)
        if live:
            return scenarios_for(controls, settings, self._live[option], self._live_cf,
                                 self._scenarios)
        return scenarios_for(controls, settings, self.options[option], self.counterfactual,
                             self._scenarios)

    def schema(self) -> dict:
        """What the page needs to draw its sliders: per option its controls, and the names."""
        cf = self.counterfactual
        return {
            "counterfactual": {"name": cf.name, "title": cf.title or cf.name},
            "options": [{"name": n, "title": o.title or n,
                         "controls": [c.to_dict() for c in self.controls[n].values()]}
                        for n, o in self.options.items()],
            "horizon": int(cf.time.horizon),
            "start": cf.time.start,
        }

    # -- simulation ------------------------------------------------------------------------

    def arm(self, scenario: Scenario, overrides: tuple) -> Arm:
        """The simulated run of ``scenario`` (validated, with ``overrides`` applied)."""
        key = (scenario.name, overrides)
        found = self._arms.get(key)
        if found is None:
            model = compile_scenario(scenario)
            found = Arm(scenario, model, self.batcher.simulate(model, self.rates))
            self._arms.put(key, found)
        return found

    def view(self, option: str, settings: Mapping[str, float]) -> dict:
        """The figures the page shows for ``settings`` of ``option`` (see the module docs)."""
        started = time.perf_counter()
        r = self.resolve(option, settings, live=True)
        cf = self.arm(r.counterfactual, r.counterfactual_overrides)
        opt = self.arm(r.simulated_option, r.option_overrides)
        sc = r.option
        accounts = Accounts.from_model(opt.model, sc.data)
        appraisal_settings = AppraisalSettings.from_appraisal(sc.appraisal)
        flows = monthly_flows(opt.series, cf.series, accounts,
                              new_place_shares(opt.model, cf.model),
                              valued_series(appraisal_settings))
        ap = appraise(flows, appraisal_settings)
        head = ap.headline()
        s114 = section_114_months(opt.series, cf.series, councils(sc))
        out = {
            "option": option,
            "counterfactual": self.counterfactual.name,
            "headline": {k: head[k] for k in ("npsv", "npsv_parliament", "economic_npv",
                                              "fiscal_npv", "bcr", "economic_bcr",
                                              "social_bcr", "payback_month",
                                              "pays_back_in_parliament")},
            "text": {
                "npsv": wording.money(head["npsv"]),
                "npsv_parliament": wording.money(head["npsv_parliament"]),
                "economic_npv": wording.money(head["economic_npv"]),
                "fiscal_npv": wording.money(head["fiscal_npv"]),
                "social_bcr": wording.bcr(head["social_bcr"]),
                "payback": wording.payback(head["payback_month"],
                                           head["pays_back_in_parliament"]),
            },
            "agencies": [{"id": a, "label": agency_label(sc, a), "fiscal_npv": v,
                          "text": wording.money(v)}
                         for a, v in head["fiscal_npv_by_agency"].items()],
            "jcurve": {"parliament": int(ap.parliament_months),
                       "npsv": _rounded(np.cumsum(ap.discounted_npsv)),
                       "fiscal": _rounded(np.cumsum(ap.discounted_net))},
            "states": self._state_differences(opt, cf),
            "section_114": [{"council": a, "label": agency_label(sc, a),
                             "month": m["month"], "counterfactual_month":
                                 m["counterfactual_month"]} for a, m in s114.items()],
            "start": sc.time.start,
        }
        out["elapsed_ms"] = round(1000 * (time.perf_counter() - started), 2)
        return out

    def _state_differences(self, opt: Arm, cf: Arm) -> list[dict]:
        """People in each need state, scenario minus counterfactual, by month."""
        out = []
        cohorts = opt.scenario.cohorts
        for c in opt.model.cohorts:
            label = short_label(cohorts[c].get("label") or c, 40)
            for s in opt.model.states[c]:
                name = f"population.{c}.{s}"
                out.append({"cohort": c, "cohort_label": label, "state": s,
                            "series": name,
                            "delta": _rounded(opt.series[name] - cf.series[name], 5)})
        return out

    # -- uncertainty -----------------------------------------------------------------------

    def uncertainty(self, option: str, settings: Mapping[str, float], runs: int = 2000,
                    seed: int = 0) -> dict:
        """The Monte Carlo ensemble of the settings under the uncertainty section (the
        option's, else the counterfactual's): the 5th-95th percentile band of each need
        state's difference by month, and the fiscal NPV's percentiles. One ensemble runs at
        a time (the others wait), in chunks so the sliders stay quick meanwhile."""
        from tpsim.analysis import ensemble as en

        r = self.resolve(option, settings)
        cohorts = r.option.cohorts
        series = tuple(f"population.{c}.{s}" for c in cohorts for s in cohorts[c]["states"])
        with self._ensemble_lock:
            started = time.perf_counter()
            job = en.prepare([r.option], r.counterfactual, runs=runs, seed=seed,
                             series=series)
            if job.plan.d == 0:
                raise SettingsError(f"{r.option.name} and {r.counterfactual.name} have no "
                                    "uncertainty section: nothing to vary (docs/"
                                    "uncertainty.md)")
            job.edges = en.pilot_edges(job)
            partial = en.run_ensemble(job, "local", en.BLOCK)
            summary = en.summarise(job, partial)
        pct = list(summary.percentiles)
        lo, mid, hi = pct.index(5.0), pct.index(50.0), pct.index(95.0)
        bands = {}
        for t, (name, k, is_diff) in enumerate(job.tracked):
            if is_diff and k == 1:
                q = summary.quantiles[t]
                bands[name] = {"p5": _rounded(q[:, lo], 5), "p50": _rounded(q[:, mid], 5),
                               "p95": _rounded(q[:, hi], 5)}
        npv = summary.metrics[r.option.name]["npv"]
        return {"runs": runs, "seed": seed, "bands": bands,
                "fiscal_npv": {"p5": npv["percentiles"]["p5"], "p50": npv["percentiles"]["p50"],
                               "p95": npv["percentiles"]["p95"], "mean": npv["mean"]},
                "text": {k: wording.money(npv["percentiles"][k]) for k in ("p5", "p50", "p95")},
                "parameters": list(job.plan.labels),
                "elapsed_s": round(time.perf_counter() - started, 2)}

    # -- saving and the report -------------------------------------------------------------

    def saved_names(self, option: str) -> tuple[str, str]:
        """The names (and file stems) of the saved option and counterfactual."""
        return f"{option}_explored", f"{self.counterfactual.name}_explored"

    def scenario_yaml(self, option: str, settings: Mapping[str, float], arm: str) -> str:
        """The saved option (``arm="option"``) or counterfactual as a stand-alone scenario
        file: the full resolved scenario, each value the explorer changed marked so, the
        others with their comment from the file they came from."""
        from tpsim.place.yamltext import display_path, scenario_yaml

        r = self.resolve(option, settings)
        opt_name, cf_name = self.saved_names(option)
        if arm == "option":
            base, sc, name = self.options[option], r.option, opt_name
            changed = dict(r.option_overrides)
            changed.update({f"appraisal.{k}": v for k, v in r.appraisal_overrides})
        elif arm == "counterfactual":
            base, sc, name = self.counterfactual, r.counterfactual, cf_name
            changed = dict(r.counterfactual_overrides)
        else:
            raise SettingsError(f"unknown arm {arm!r}: option or counterfactual")
        data = sc.as_dict()
        data["name"] = name
        renamed = Scenario(name, base.path, data, base.locations)
        origin = {p: f"set in tpsim explore (the file has {_num(base, p)})" for p in changed}
        where = display_path(base.path) if base.path is not None else base.name
        header = [f"{name}: {base.name} ({where}) with the settings of tpsim explore.",
                  f"Reproduce the explorer's figures with: tpsim compare {opt_name}.yaml "
                  f"--against {cf_name}.yaml",
                  f"{len(changed)} value(s) differ from {where}; they say 'set in tpsim "
                  "explore'.", ""]
        return scenario_yaml(renamed, origin, base, header)

    def report_html(self, option: str, settings: Mapping[str, float]) -> str:
        """The business-case report (tpsim/present/report.py) of the settings against the
        counterfactual, one self-contained HTML page."""
        from tpsim.analysis.comparison import compare_scenarios
        from tpsim.present import charts
        from tpsim.present.report import make_charts, render_html

        r = self.resolve(option, settings)
        opt_name, cf_name = self.saved_names(option)
        with self._report_lock:  # matplotlib's font and text caches are not thread-safe
            comparison = compare_scenarios([r.option], r.counterfactual)
            chart_list = make_charts(comparison)
            png = {c.stem: charts.figure_bytes(c.figure, "png") for c in chart_list}
            return render_html(comparison, chart_list, png,
                               command=f"tpsim explore (saved as: tpsim compare {opt_name}.yaml "
                                       f"--against {cf_name}.yaml)")


def _without_uncertainty(scenario: Scenario) -> Scenario:
    """``scenario`` with an empty uncertainty section (its runs are the same)."""
    if not scenario.uncertainty:
        return scenario
    data = scenario.as_dict()
    data["uncertainty"] = {}
    return Scenario(scenario.name, scenario.path, data, scenario.locations)


def _num(scenario: Scenario, path: str) -> str:
    try:
        node = scenario.get(path)
    except ScenarioError:
        node = None
    return repr(node) if node is not None else "no value"
