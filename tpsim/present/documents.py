"""The content of the comparison and ensemble files, built in one place each (no I/O):

* :func:`comparison_files`: ``comparison.json``, ``comparison.csv``, ``attribution.csv``,
  ``cashflow.csv`` and
  each run's ``<scenario>/timeseries.csv`` of a ready
  :class:`~tpsim.analysis.comparison.Comparison` (``tpsim compare`` and ``tpsim report`` write
  these same texts); :func:`scenario_entry` is one scenario's block of ``comparison.json``,
  which the report reads its figures from;
* :func:`ensemble_document` and :func:`quantiles_csv`: ``ensemble.json`` and
  ``quantiles.csv`` of an ensemble.

docs/appraisal.md and docs/uncertainty.md document the fields.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tpsim import __version__
from tpsim.analysis import cashflow
from tpsim.analysis.appraisal import PARLIAMENT_MONTHS, POOL_ROW, ROW_METRICS, TOTAL_ROW
from tpsim.errors import TpsimError
from tpsim.output import csv_text, json_text
from tpsim.present.wording import SENSITIVITY_OUTPUTS, sig
from tpsim.config.scenario import Scenario

_SETTINGS_COLUMNS = ("discount_rate", "health_discount_rate", "optimism_bias")


def _file(sc: Scenario) -> str | None:
    return str(sc.path) if sc.path is not None else None


# ---------------------------------------------------------------------------------------------
# comparison.json, comparison.csv, attribution.csv
# ---------------------------------------------------------------------------------------------


def run_folders(scenarios: list[Scenario], counterfactual: Scenario) -> dict[str, str]:
    """Folder (relative to the output folder) of each run's timeseries.csv, by scenario name;
    a TpsimError when two different scenarios share a name (their files would collide)."""
    folders: dict[str, str] = {}
    hashes: dict[str, tuple[str, Scenario]] = {}
    for sc in [counterfactual, *scenarios]:
        if sc.name in hashes and hashes[sc.name][0] != sc.hash:
            other = hashes[sc.name][1]
            raise TpsimError(f"two different scenarios are named '{sc.name}' (also "
                             f"{_file(other) or other.name}); give them different names",
                             file=_file(sc) or f"<{sc.name}>", key="name")
        hashes[sc.name] = (sc.hash, sc)
        folders[sc.name] = sc.name
    return folders


def settings_entry(cf: Scenario) -> dict:
    """The ``settings`` block: time and price settings of the comparison (the counterfactual's,
    which every scenario shares)."""
    t = cf.time
    horizon = int(t.horizon)
    return {"start": t.start, "horizon_months": horizon,
            "parliament_months": min(PARLIAMENT_MONTHS, horizon),
            "parliament_complete": horizon >= PARLIAMENT_MONTHS,
            "dt_months": t.dt, "method": t.method, "price_year": cf.price_year,
            "declining_discount_schedule": True, "appraisal_year": "months 1-12 are year 0 "
            "(undiscounted), months 13-24 year 1, ..."}


def scenario_entry(case, folder: str | None = None) -> dict:
    """One scenario's block of ``comparison.json`` (a
    :class:`~tpsim.analysis.comparison.Case`): settings, headline, per-agency rows, pool,
    total, outcomes, attribution and reconciliation; ``folder`` holds its timeseries.csv
    (default: the scenario's name)."""
    sc, settings, appraisal, flows = case.scenario, case.settings, case.appraisal, case.flows
    pool = dict(appraisal.rows[POOL_ROW])
    parliament = appraisal.parliament_months
    pool["transition_cost_change_parliament"] = float(flows.transition_change[:parliament].sum())
    pool["transition_cost_change_horizon"] = float(flows.transition_change.sum())
    return {
        "scenario": sc.name,
        "title": sc.title or "",
        "file": _file(sc),
        "scenario_hash": sc.hash,
        "timeseries": f"{folder or sc.name}/timeseries.csv",
        "discount_rate": settings.discount_rate,
        "health_discount_rate": settings.health_discount_rate,
        "optimism_bias": settings.optimism_bias,
        "optimism_bias_source": "command line" if case.optimism_bias_from_caller else "scenario",
        "qaly_value": settings.qaly_value,
        "value_qalys": settings.value_qalys,
        "qaly_price_year": settings.qaly_price_year or sc.price_year,
        "qaly_uprating": settings.qaly_uprating,
        "qaly_value_used": settings.qaly_value_used,
        "optimism_bias_detail": settings.optimism_bias_block(
            "command line" if case.optimism_bias_from_caller else "scenario"),
        "transfers": sorted(v for v, sv in sc.services.items() if sv.get("transfer")),
        **appraisal.headline(),
        "agencies": {a: appraisal.rows[a] for a in flows.agencies},
        "pool": pool,
        "total": appraisal.rows[TOTAL_ROW],
        "outcomes": appraisal.outcomes,
        "attribution": case.attribution,
        **({} if case.by_service is None else {"attribution_by_service": {
            k: case.by_service[k] for k in ("cashable", "economic")}}),
        "reconciliation": appraisal.reconciliation,
        **({} if case.switching is None else {
            "switching_values": case.switching["switching_values"],
            "break_even": case.switching["break_even"]}),
        **({} if case.section_114 is None else {"section_114": case.section_114}),
    }


def comparison_document(comparison) -> dict:
    """The content of ``comparison.json`` for a ready
    :class:`~tpsim.analysis.comparison.Comparison`."""
    cf = comparison.counterfactual
    folders = run_folders(comparison.scenarios_given or [c.scenario for c in comparison.cases], cf)
    return {
        "tpsim_version": __version__,
        "counterfactual": {"scenario": cf.name, "title": cf.title or "",
                           "file": _file(cf), "scenario_hash": cf.hash,
                           "timeseries": f"{folders[cf.name]}/timeseries.csv"},
        "settings": settings_entry(cf),
        "units": {
            "money": f"GBP, real terms at {cf.price_year} prices; figures named pv_*, npv_* "
                     "and economic_npv_* are present values at the scenario's discount rates, "
                     "others are undiscounted sums",
            "time": "months (payback_month: 1 = the first simulated month)",
            "people": "people (escalations, exits) and person-months (crisis)",
            "qalys": "QALYs (quality-adjusted life years)",
        },
        "runs": {"runs": comparison.n_runs, "kernel_calls": comparison.kernel_calls,
                 "attribution_by_service_runs": sum(c.by_service["cashable"]["runs"]
                                                    for c in comparison.cases if c.by_service),
                 "switching_runs": sum(c.switching["runs"] + 2 for c in comparison.cases
                                       if c.switching),
                 "switching_kernel_calls": sum(
                     c.switching["kernel_calls"] + c.switching["break_even"]["kernel_calls"]
                     for c in comparison.cases if c.switching)},
        "scenarios": {c.scenario.name: {**scenario_entry(c, folders[c.scenario.name]),
                                        **distribution_entry(c, comparison)}
                      for c in comparison.cases},
    }


def distribution_entry(case, comparison) -> dict:
    """``{"distribution": ...}`` for a scenario whose cohorts carry a deprivation band
    (:func:`tpsim.analysis.distribution.case_distribution`: outcomes and NPSV by band, the
    weighted NPSV beside the unweighted one), else ``{}``."""
    from tpsim.analysis.distribution import case_distribution

    cf = {name: arr[comparison.counterfactual_run]
          for name, arr in comparison.counterfactual_results.series.items()}
    block = case_distribution(case, cf)
    return {} if block is None else {"distribution": block}


def comparison_files(comparison, document: dict | None = None) -> dict[Path, str]:
    """Every file of ``tpsim compare`` (relative path -> text): ``comparison.json``,
    ``comparison.csv``, ``attribution.csv`` and ``<scenario>/timeseries.csv`` of the
    counterfactual and each scenario (``document``: :func:`comparison_document`'s, if the
    caller has it already)."""
    document = comparison_document(comparison) if document is None else document
    report = document["scenarios"]
    cf = comparison.counterfactual
    agencies = list(comparison.runs.counterfactual_model.agencies)
    files = {Path("comparison.json"): json_text(document),
             Path("comparison.csv"): comparison_csv(report, cf.name),
             Path("attribution.csv"): attribution_csv(report, agencies),
             Path("cashflow.csv"): cashflow_csv(comparison)}
    for sc, columns, rows in comparison.timeseries_tables():
        files[Path(sc.name) / "timeseries.csv"] = csv_text(columns, rows)
    return files


def cashflow_csv(comparison) -> str:
    """``cashflow.csv``: the financial case of every scenario (:mod:`tpsim.analysis.cashflow`)."""
    return csv_text(cashflow.COLUMNS, cashflow.comparison_cashflow(comparison))


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def comparison_csv(report: dict, counterfactual: str) -> str:
    """``comparison.csv``: one row per scenario and agency (and the pool and total rows)."""
    columns = ["scenario", "counterfactual", "row", *_SETTINGS_COLUMNS, *ROW_METRICS]
    rows = []
    for name, sc in report.items():
        blocks = [*sc["agencies"].items(), (POOL_ROW, sc["pool"]), (TOTAL_ROW, sc["total"])]
        for row, metrics in blocks:
            rows.append([name, counterfactual, row, *(sc[k] for k in _SETTINGS_COLUMNS),
                         *(_cell(metrics[k]) for k in ROW_METRICS)])
    return csv_text(columns, rows)


def attribution_csv(report: dict, agencies: list[str]) -> str:
    """``attribution.csv``: the who-pays / who-gains matrices, one row per investing agency."""
    columns = ["scenario", "measure", "investing_agency", *(f"savings.{a}" for a in agencies),
               "row_total", "pv_uplifted_costs", "wrong_pocket_share"]
    rows = []
    for name, sc in report.items():
        for measure, block in sc["attribution"].items():
            for a in block["investing_agencies"]:
                rows.append([name, measure, a, *(block["matrix"][a][b] for b in agencies),
                             block["row_totals"][a], block["pv_uplifted_costs"][a],
                             _cell(block["wrong_pocket_share"][a])])
            for label in ("remainder", "total"):
                values = [block[label][b] for b in agencies]
                rows.append([name, measure, label, *values, sum(values), "", ""])
    return csv_text(columns, rows)


# ---------------------------------------------------------------------------------------------
# ensemble.json, quantiles.csv
# ---------------------------------------------------------------------------------------------


def ensemble_document(job, summary, scenarios, counterfactual, *,
                      engine: str, chunk_runs: int, seconds: float,
                      optimism_bias: float | None) -> dict:
    """The content of ``ensemble.json``. Everything but ``run`` is independent of the engine
    and chunk size."""
    from tpsim.analysis.ensemble import PAD
    from tpsim.analysis.sampling import BLOCK
    from tpsim.config.uncertainty import EPS

    plan = job.plan
    factors = []
    for f_i, factor in enumerate(plan.factors):
        uses = {}
        for k, rows in enumerate(plan.assignments):
            for a in rows:
                if a.factor == f_i:
                    spec = a.dist.spec
                    uses[job.names[k]] = {"distribution": a.dist.describe(),
                                          "relative": a.relative,
                                          "source": spec.get("source")}
        factors.append({"factor": factor.label, "path": factor.path,
                        "shared": factor.scenario is None, "scenarios": uses})
    correlation = None if plan.correlation is None else plan.correlation.tolist()
    return {
        "tpsim_version": __version__,
        "counterfactual": {"scenario": counterfactual.name, "file": _file(counterfactual),
                           "scenario_hash": counterfactual.hash},
        "scenarios": [{"scenario": s.name, "file": _file(s), "scenario_hash": s.hash,
                       "appraisal": dataclasses.asdict(job.settings[k])}
                      for k, s in enumerate(scenarios, start=1)],
        "settings": {
            "runs": job.n_runs, "seed": job.seed, "sampler": job.sampler, "block_size": BLOCK,
            "horizon_months": job.n_months, "dt_months": job.models[0].dt,
            "method": job.models[0].method, "series": list(dict.fromkeys(s for s, _, _ in job.tracked)),
            "bins": job.bins, "metric_bins": job.metric_bins, "pilot_pad": PAD,
            "optimism_bias": optimism_bias, "percentiles": list(summary.percentiles),
            "price_year": counterfactual.price_year,
        },
        "factors": factors,
        "correlation": {"factors": plan.labels, "matrix": correlation},
        "warnings": list(plan.warnings),
        "units": {"money": f"GBP, real terms at {counterfactual.price_year} prices; npv "
                           "figures are present values (Green Book), fiscal (cashable savings "
                           "minus costs with optimism bias), all agencies and the pool",
                  "payback": "month (1 = the first simulated month; 0 = never a net outlay)"},
        "method": {
            "quantiles": "fixed-bin histograms with edges from a pilot (block 0) widened by "
                         f"{PAD:g} of its range on each side; each percentile is within "
                         "its error_bound of numpy.percentile (linear) of the same runs",
            "means": "exact (per-block sums added in block order)",
            "monte_carlo_error": "standard_error_of_mean = sd / sqrt(runs) (for random "
                                 "sampling; lhs and sobol are usually more precise)",
            "eps": EPS,
        },
        "results": summary.metrics,
        "quantiles_file": "quantiles.csv",
        "run": {"engine": engine, "chunk_runs": chunk_runs, "seconds": seconds,
                "runs_per_second": job.n_runs / seconds if seconds > 0 else None,
                "kernel_runs": job.n_runs * len(job.models)},
    }


def quantiles_csv(job, summary) -> str:
    """``series, scenario, month, mean, p2.5 ... p97.5, error_bound, bin_width``; the scenario
    column is ``<scenario> - <counterfactual>`` for the paired difference."""
    cols = ["series", "scenario", "month", "mean"] + [f"p{p:g}" for p in summary.percentiles] \
        + ["error_bound", "bin_width"]
    rows = []
    for t, (name, k, diff) in enumerate(job.tracked):
        who = job.names[k] + (f" - {job.names[0]}" if diff else "")
        for m in range(job.n_months):
            rows.append([name, who, m + 1, float(summary.means[t, m]),
                         *map(float, summary.quantiles[t, m]),
                         float(np.nanmax(summary.quantile_bounds[t, m])),
                         float(summary.bin_widths[t, m])])
    return csv_text(cols, rows)


# ---------------------------------------------------------------------------------------------
# sensitivity.json, tornado.csv, sobol.csv
# ---------------------------------------------------------------------------------------------


def _describe(job, j: int) -> str:
    for a in job.plan.assignments[1]:
        if a.factor == j:
            return a.dist.describe() + (" (relative)" if a.relative else "")
    return ""


def _value(job, j: int, u: float) -> float | None:
    """The scenario's parameter value (or multiplier, for a relative draw) at quantile u."""
    for a in job.plan.assignments[1]:
        if a.factor == j:
            return float(a.dist.ppf(np.array([u]))[0])
    return None


def sensitivity_files(job, scenario, counterfactual, method: str, result: dict, *, month: int,
                      swing: float, n_base: int, scenario_file: str,
                      counterfactual_file: str) -> tuple[dict, dict[str, str]]:
    """``sensitivity.json`` (as a dict and as text) with ``tornado.csv`` (``method`` "oat":
    ``result`` of :func:`tpsim.analysis.sensitivity.one_at_a_time`) or ``sobol.csv``
    (``method`` "sobol": of :func:`tpsim.analysis.sensitivity.sobol`); outputs in £."""
    from tpsim.analysis.sensitivity import OUTPUTS

    sc, cf = scenario, counterfactual
    d = job.plan.d
    labels = job.plan.labels
    document = {
        "tpsim_version": __version__,
        "scenario": {"scenario": sc.name, "file": scenario_file, "scenario_hash": sc.hash},
        "counterfactual": {"scenario": cf.name, "file": counterfactual_file,
                           "scenario_hash": cf.hash},
        "method": method,
        "outputs": {k: v[0].format(month=month) for k, v in SENSITIVITY_OUTPUTS.items()},
        "factors": [{"factor": f.label, "distribution": _describe(job, j)}
                    for j, f in enumerate(job.plan.factors)],
    }
    files: dict[str, str] = {}
    if method == "oat":
        document["swing"] = swing
        document["runs"] = 1 + 2 * d
        document["central"] = result["base"]
        rows = []
        document["swings"] = {}
        for name in OUTPUTS:
            low, high = result["low"][name], result["high"][name]
            order = np.argsort(-np.abs(high - low), kind="stable")
            document["swings"][name] = [
                {"factor": labels[j], "low_value": _value(job, j, swing),
                 "high_value": _value(job, j, 1 - swing), "output_at_low": float(low[j]),
                 "output_at_high": float(high[j]), "swing": float(abs(high[j] - low[j]))}
                for j in order]
            for j in order:
                rows.append([name, labels[j], _value(job, j, swing), _value(job, j, 1 - swing),
                             float(result["base"][name]), float(low[j]), float(high[j]),
                             float(abs(high[j] - low[j]))])
        files["tornado.csv"] = csv_text(["output", "factor", "low_value", "high_value", "central",
                                         "output_at_low", "output_at_high", "swing"], rows)
    else:
        document["n"] = n_base
        document["runs"] = result["runs"]
        document["indices"] = {}
        rows = []
        for name in OUTPUTS:
            r = result[name]
            entries = []
            for j in range(d):
                entry = {"factor": labels[j], "first_order": float(r["first_order"][j]),
                         "total_order": float(r["total_order"][j]),
                         "first_order_ci95": [float(r["first_order_ci"][0][j]), float(r["first_order_ci"][1][j])],
                         "total_order_ci95": [float(r["total_order_ci"][0][j]), float(r["total_order_ci"][1][j])]}
                entries.append(entry)
                rows.append([name, labels[j], entry["first_order"], entry["total_order"],
                             *entry["first_order_ci95"], *entry["total_order_ci95"]])
            document["indices"][name] = sorted(entries, key=lambda e: -np.nan_to_num(e["total_order"]))
        files["sobol.csv"] = csv_text(["output", "factor", "first_order", "total_order",
                                       "first_order_ci_low", "first_order_ci_high",
                                       "total_order_ci_low", "total_order_ci_high"], rows)
    files["sensitivity.json"] = json_text(document)
    return document, files


# ---------------------------------------------------------------------------------------------
# des_timeseries.csv, des_summary.json
# ---------------------------------------------------------------------------------------------


def des_timeseries_table(results) -> tuple[list[str], np.ndarray]:
    """``des_timeseries.csv`` of ``tpsim des``: each series' mean over replications with its
    95% confidence interval."""
    columns = ["month"]
    blocks = [results.months.astype(float)]
    for name in results.series:
        low, high = results.confidence_interval(name)
        columns += [name, f"{name}.ci95_low", f"{name}.ci95_high"]
        blocks += [results.mean(name), low, high]
    return columns, np.column_stack(blocks)


def des_summary(scenario, results, crosscheck: dict, settings: dict) -> dict:
    """``des_summary.json`` of ``tpsim des``: ``settings`` as run, the scale of the sample,
    the capacity-limited services, the measured speed, waiting times (months) and the verdict
    of the cross-check against the aggregate model."""
    sc, report = scenario, crosscheck
    counts: dict = {}
    for o in results.outputs:
        for k, v in o.event_counts.items():
            counts[k] = counts.get(k, 0) + v
    return {
        "scenario": sc.name, "scenario_hash": sc.hash, "tpsim_version": __version__,
        "settings": settings,
        "scale": {"people_in_place_at_month_0": float(results.plan.initial.sum()),
                  "place_people_per_simulated_person": results.plan.weight},
        "capacity_limited_services": {
            name: {"servers": int(results.plan.servers[q]),
                   "mean_service_time_months_month_1": float(results.plan.service_time[0, q])}
            for q, name in enumerate(results.spend.queued_names)},
        "performance": {"events": results.events, "wall_seconds": results.seconds,
                        "events_per_second": results.events_per_second,
                        "events_per_cpu_second": results.events_per_cpu_second,
                        "event_counts": counts},
        "waiting_times": results.waiting_overall(),
        "crosscheck": {k: report.get(k) for k in ("pass", "threshold", "max_abs_z", "failed")},
    }


# ---------------------------------------------------------------------------------------------
# calibrated.yaml, fit_series.csv
# ---------------------------------------------------------------------------------------------


def calibrated_yaml(cfg, scenario, data, result, extends: str, config: str,
                    budgets=None) -> str:
    """``calibrated.yaml`` of ``tpsim calibrate``: a scenario that ``extends`` the original
    (a path relative to the output folder) and sets the fitted values, each commented with its
    standard error and 95% interval; and, with ``budgets`` (a
    :class:`tpsim.place.build.Rebudget`), the re-derived budgets with their notes."""
    from tpsim.analysis.calibration import calibrated_scenario_yaml
    from tpsim.config.localdata import month_label

    st = result.statistics
    problem = result.problem
    comments = {}
    for j, q in enumerate(problem.parameters):
        lo, hi = st["interval"][j]
        comments[q.path] = (f"fitted; se {sig(st['standard_error'][j], 3)}, 95% interval "
                            f"[{sig(lo)}, {sig(hi)}]; was {sig(q.scenario_value, 6)}")
    first = month_label(scenario.time.start, 1)
    last = month_label(scenario.time.start, problem.fit_model.n_months)
    header = [
        f"Calibrated scenario written by `tpsim calibrate {config}` (tpsim {__version__}).",
        "It extends the original scenario and sets only the fitted parameters below.",
        f"Fitted to {data.path}: {problem.n_observations} observations in "
        f"{len(problem.targets)} series, {first} to {last}, by weighted least squares.",
        "Estimates, standard errors, 95% intervals, correlations and fit statistics:",
        "fit_report.json next to this file.",
    ]
    values = dict(result.estimates)
    if budgets is not None:
        values.update(budgets.overrides)
        comments.update(budgets.notes)
        header += ["Budgets and reserves are re-derived from the calibrated month 0 (tpsim "
                   "calibrate --rebudget),", "so runs differ from fit_series.csv, which used "
                   "the original budgets."]
    if st["warnings"]:
        header += ["", "Warnings from the fit:"] + [f"- {w}" for w in st["warnings"]]
    title = cfg.title or f"{scenario.title or scenario.name} (calibrated)"
    note = (f"Fitted by tpsim calibrate to local data {data.path} ({first} to {last}); "
            f"see fit_report.json")
    return calibrated_scenario_yaml(cfg.name or f"{scenario.name}_calibrated", extends,
                                    values, comments, header, title=title,
                                    source_note=note)


def fit_series_csv(result, start: str) -> str:
    """``fit_series.csv``: observed, initial and fitted values at every observation."""
    from tpsim.config.localdata import month_label

    rows = []
    for target in result.problem.targets:
        traj = result.trajectories[target.name]
        for k, m in enumerate(target.months):
            fitted = traj[1, m - 1]
            rows.append([month_label(start, int(m)), target.name, float(target.observed[k]),
                         float(traj[0, m - 1]), float(fitted),
                         float((fitted - target.observed[k]) * target.factor[k])])
    return csv_text(["month", "series", "observed", "simulated_initial", "simulated_fitted",
                     "weighted_residual"], rows)
