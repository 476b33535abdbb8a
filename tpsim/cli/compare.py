"""``tpsim compare``: appraise scenarios against a counterfactual (Green Book), per agency.

Everything is computed before anything is written: a user error (exit status 2) leaves no file.
Files: ``comparison.json``, ``comparison.csv``, ``attribution.csv`` and each run's
``<scenario>/timeseries.csv`` (the counterfactual's too). docs/appraisal.md documents them.
"""
from __future__ import annotations

from pathlib import Path

import click

from tpsim import __version__
from tpsim.models import runner
from tpsim.analysis.appraisal import (PARLIAMENT_MONTHS, POOL_ROW, RECOMMENDED_OPTIMISM_BIAS, ROW_METRICS,
                         TOTAL_ROW, AppraisalSettings)
from tpsim.analysis.comparison import appraise_comparison
from tpsim.analysis.switching import switching_analysis
from tpsim.analysis import cashflow
from tpsim.errors import TpsimError
from tpsim.output import atomic_write_text, csv_text, json_text
from tpsim.present.wording import money
from tpsim.config.scenario import Scenario
from tpsim.cli.options import load, out_dir

_SETTINGS_COLUMNS = ("discount_rate", "health_discount_rate", "optimism_bias")


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--against", "counterfactual", required=True, type=click.Path(dir_okay=False),
              help="The counterfactual scenario every SCENARIO is compared with.")
@click.option("--horizon", type=click.IntRange(min=1),
              help="Months to simulate and appraise (default: the scenarios' horizon).")
@click.option("--optimism-bias", type=click.FloatRange(min=0.0),
              help="Uplift on costs, a fraction (default: each scenario's appraisal.optimism_bias; "
                   f"recommended {RECOMMENDED_OPTIMISM_BIAS:g}).")
@click.option("--method", type=click.Choice(["euler", "rk4"]), help="Integration method (default: the scenarios').")
@click.option("--dt", type=float, help="Time step in months (default: the scenarios').")
@click.option("--out", type=click.Path(file_okay=False),
              help="Output folder (default outputs/compare/).")
def compare(scenarios: tuple[str, ...], counterfactual: str, horizon: int | None,
            optimism_bias: float | None, method: str | None, dt: float | None,
            out: str | None) -> None:
    """Appraise each SCENARIO against the counterfactual: costs and savings per agency, Green
    Book NPV, BCR and payback, outcomes, and who pays / who gains; write comparison.json,
    comparison.csv, attribution.csv and every run's timeseries.csv."""
    cf = runner.with_time_settings(load(counterfactual), dt=dt, method=method, horizon=horizon)
    scs = [runner.with_time_settings(load(p), dt=dt, method=method, horizon=horizon) for p in scenarios]
    folders = _run_folders(scs, cf)
    runs, appraised = appraise_comparison(scs, cf, optimism_bias)
    batch = runs.batch
    report = {a.scenario.name: _scenario_json(a.scenario, folders[a.scenario.name], a.settings,
                                              optimism_bias, a.appraisal, a.flows, a.attribution)
              for a in appraised}
    switching = switching_analysis(runs, appraised, cf)
    for a in appraised:
        report[a.scenario.name]["section_114"] = cashflow.section_114_months(
            batch.series(runs.scenarios[a.index]), batch.series(runs.counterfactual),
            {g for g, ag in a.scenario.data["agencies"].items() if ag["type"] == "council"})
    for name, block in switching.items():
        report[name]["switching_values"] = block["switching_values"]
        report[name]["break_even"] = block["break_even"]

    document = {
        "tpsim_version": __version__,
        "counterfactual": {"scenario": cf.name, "title": cf.data.get("title") or "",
                           "file": _file(cf), "scenario_hash": cf.hash,
                           "timeseries": f"{folders[cf.name]}/timeseries.csv"},
        "settings": _settings(cf),
        "units": {
            "money": f"GBP, real terms at {cf.data['price_year']} prices; figures named pv_*, npv_* "
                     "and economic_npv_* are present values at the scenario's discount rates, "
                     "others are undiscounted sums",
            "time": "months (payback_month: 1 = the first simulated month)",
            "people": "people (escalations, exits) and person-months (crisis)",
            "qalys": "QALYs (quality-adjusted life years)",
        },
        "runs": {"runs": runs.n_runs, "kernel_calls": batch.kernel_calls,
                 "switching_runs": sum(b["runs"] + 2 for b in switching.values()),
                 "switching_kernel_calls": sum(b["kernel_calls"] + b["break_even"]["kernel_calls"]
                                               for b in switching.values())},
        "scenarios": report,
    }
    files = {Path("comparison.json"): json_text(document),
             Path("comparison.csv"): _comparison_csv(report, cf.name),
             Path("attribution.csv"): _attribution_csv(report, list(runs.counterfactual_model.agencies)),
             Path("cashflow.csv"): csv_text(cashflow.COLUMNS, [
                 row for a in appraised for row in cashflow.cashflow_rows(
                     a.scenario.name, a.flows, batch.series(runs.scenarios[a.index]),
                     a.scenario.data["time"]["start"],
                     {g for g, ag in a.scenario.data["agencies"].items() if ag["type"] == "council"},
                     batch.series(runs.counterfactual))])}
    seen = set()
    for i, sc in [(runs.counterfactual, cf)] + list(zip(runs.scenarios, scs)):
        if sc.name in seen:
            continue
        seen.add(sc.name)
        columns, rows = batch.table(i)
        files[Path(folders[sc.name]) / "timeseries.csv"] = csv_text(columns, rows)
    text = comparison_text(document)

    folder = out_dir(out, "compare")
    for relative, content in files.items():
        atomic_write_text(folder / relative, content)
    click.echo(text)
    click.echo(f"wrote {folder / 'comparison.json'}, {folder / 'comparison.csv'}, "
               f"{folder / 'attribution.csv'}, {folder / 'cashflow.csv'} and {len(seen)} "
               f"timeseries.csv files")


# ---------------------------------------------------------------------------------------------
# Building the outputs (no I/O)
# ---------------------------------------------------------------------------------------------


def _file(sc: Scenario) -> str | None:
    return str(sc.path) if sc.path is not None else None


def _run_folders(scs: list[Scenario], cf: Scenario) -> dict[str, str]:
    """Folder (relative to the output folder) of each run's timeseries.csv, by scenario name."""
    folders: dict[str, str] = {}
    hashes: dict[str, tuple[str, Scenario]] = {}
    for sc in [cf, *scs]:
        if sc.name in hashes and hashes[sc.name][0] != sc.hash:
            other = hashes[sc.name][1]
            raise TpsimError(f"two different scenarios are named '{sc.name}' (also "
                             f"{_file(other) or other.name}); give them different names",
                             file=_file(sc) or f"<{sc.name}>", key="name")
        hashes[sc.name] = (sc.hash, sc)
        folders[sc.name] = sc.name
    return folders


def _settings(cf: Scenario) -> dict:
    t = cf.data["time"]
    horizon = int(t["horizon"])
    return {"start": t["start"], "horizon_months": horizon,
            "parliament_months": min(PARLIAMENT_MONTHS, horizon),
            "parliament_complete": horizon >= PARLIAMENT_MONTHS,
            "dt_months": t["dt"], "method": t["method"], "price_year": cf.data["price_year"],
            "declining_discount_schedule": True, "appraisal_year": "months 1-12 are year 0 "
            "(undiscounted), months 13-24 year 1, ..."}


def _scenario_json(sc: Scenario, folder: str, settings: AppraisalSettings,
                   optimism_override: float | None, appraisal, flows, attribution: dict) -> dict:
    pool = dict(appraisal.rows[POOL_ROW])
    parliament = appraisal.parliament_months
    pool["transition_cost_change_parliament"] = float(flows.transition_change[:parliament].sum())
    pool["transition_cost_change_horizon"] = float(flows.transition_change.sum())
    return {
        "scenario": sc.name,
        "title": sc.data.get("title") or "",
        "file": _file(sc),
        "scenario_hash": sc.hash,
        "timeseries": f"{folder}/timeseries.csv",
        "discount_rate": settings.discount_rate,
        "health_discount_rate": settings.health_discount_rate,
        "optimism_bias": settings.optimism_bias,
        "optimism_bias_source": "command line" if optimism_override is not None else "scenario",
        "qaly_value": settings.qaly_value,
        "value_qalys": settings.value_qalys,
        "qaly_price_year": settings.qaly_price_year or sc.data["price_year"],
        "qaly_uprating": settings.qaly_uprating,
        "qaly_value_used": settings.qaly_value_used,
        "optimism_bias_detail": settings.optimism_bias_block(
            "command line" if optimism_override is not None else "scenario"),
        "transfers": sorted(v for v, sv in sc.data["services"].items() if sv.get("transfer")),
        **appraisal.headline(),
        "agencies": {a: appraisal.rows[a] for a in flows.agencies},
        "pool": pool,
        "total": appraisal.rows[TOTAL_ROW],
        "outcomes": appraisal.outcomes,
        "attribution": attribution,
        "reconciliation": appraisal.reconciliation,
    }


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _comparison_csv(report: dict, counterfactual: str) -> str:
    columns = ["scenario", "counterfactual", "row", *_SETTINGS_COLUMNS, *ROW_METRICS]
    rows = []
    for name, sc in report.items():
        blocks = [*sc["agencies"].items(), (POOL_ROW, sc["pool"]), (TOTAL_ROW, sc["total"])]
        for row, metrics in blocks:
            rows.append([name, counterfactual, row, *(sc[k] for k in _SETTINGS_COLUMNS),
                         *(_cell(metrics[k]) for k in ROW_METRICS)])
    return csv_text(columns, rows)


def _attribution_csv(report: dict, agencies: list[str]) -> str:
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
# The printed table
# ---------------------------------------------------------------------------------------------


def _m(value: float | None, width: int = 9) -> str:
    """£ as £m with one decimal and thousands separators, right-aligned."""
    if value is None:
        return f"{'-':>{width}}"
    return f"{round(value / 1e6, 1) + 0.0:>{width},.1f}"  # + 0.0: no "-0.0"


def _wrap(label: str, width: int) -> list[str]:
    """An id split at underscores into lines of at most ``width`` characters."""
    lines: list[str] = []
    for word in label.split("_"):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += "_" + word
        else:
            lines.append(word[:width])
    return lines


def _payback(month: int | None, in_parliament: bool | None) -> str:
    if month is None:
        return "not within horizon"
    if month == 0:
        return "immediate (no net outlay)"
    return f"month {month}" + (" (within the Parliament)" if in_parliament else "")


def comparison_text(document: dict) -> str:
    """A readable table per scenario: headline, per-agency costs and savings, attribution."""
    st = document["settings"]
    cf = document["counterfactual"]["scenario"]
    horizon, parliament = st["horizon_months"], st["parliament_months"]
    lines = []
    if not st["parliament_complete"]:
        lines.append(f"note: the horizon ({horizon} months) is shorter than a Parliament "
                     f"({PARLIAMENT_MONTHS} months); "
                     f"Parliament figures cover months 1-{horizon}")
    for name, sc in document["scenarios"].items():
        t = sc["total"]
        bcr = "n/a (no extra cost)" if sc["bcr"] is None else f"{sc['bcr']:.2f}"
        ob = sc["optimism_bias_detail"]
        transfers = ", ".join(sc["transfers"]) or "none marked"
        lines += [
            "",
            f"{name} against {cf}: {horizon} months from {st['start']}, {st['price_year']} prices, "
            f"£m; discount {sc['discount_rate']:.1%} a year (health {sc['health_discount_rate']:.1%}), "
            f"optimism bias {sc['optimism_bias']:.0%} ({sc['optimism_bias_source']}"
            + (f", {ob['category']} upper bound {ob['upper_bound']:.0%}" if ob["category"] else "")
            + (f", stepped down: {ob['reason']}" if ob["stepped_down"] else "") + ")",
            f"  NPSV {money(sc['npsv'])} over the horizon (headline; {money(sc['npsv_parliament'])} "
            f"over the Parliament); economic NPV {money(sc['economic_npv'])}; fiscal NPV "
            f"{money(sc['fiscal_npv'])} ({money(sc['npv_parliament'])} over the Parliament); "
            f"BCR {bcr}; payback {_payback(sc['payback_month'], sc['pays_back_in_parliament'])}",
            f"  NPSV = economic NPV + QALYs at £{sc['qaly_value_used']:,.0f} ({st['price_year']} "
            f"prices) + declared outcome values; economic NPV excludes transfers ({transfers})",
            "  optimism bias uplifted: " + "; ".join(ob["applied_to"])
            + f" (PV £{sc['total']['pv_optimism_bias_horizon'] / 1e6:,.1f}m)",
        ]
        if sc["optimism_bias"] == 0.0:
            lines.append(f"  note: no optimism bias; the recommended uplift for a commissioned "
                         f"preventive programme is {RECOMMENDED_OPTIMISM_BIAS:.0%} (docs/appraisal.md)")
        head = (f"  {'':<26}{'Parliament (' + str(parliament) + ' months)':^27}|"
                f"{'horizon (' + str(horizon) + ' months)':^27}|{'present value':^29}")
        sub = (f"  {'£m':<26}{'costs':>9}{'cashable':>9}{'non-cash':>9}|"
               f"{'costs':>9}{'cashable':>9}{'non-cash':>9}|"
               f"{'costs+OB':>9}{'cashable':>9}{'fiscal NPV':>11}  payback")
        lines += [head, sub]
        blocks = [*sc["agencies"].items(), ("pool (balance)", sc["pool"]), ("total", t)]
        for row, r in blocks:
            pb = r["payback_month"]
            pb_text = "" if row.startswith("pool") else (f">{horizon}" if pb is None else str(pb))
            lines.append(
                f"  {row:<26}{_m(r['costs_parliament'])}{_m(r['cashable_savings_parliament'])}"
                f"{_m(r['non_cashable_savings_parliament'])}|{_m(r['costs_horizon'])}"
                f"{_m(r['cashable_savings_horizon'])}{_m(r['non_cashable_savings_horizon'])}|"
                f"{_m(r['pv_uplifted_costs_horizon'])}{_m(r['pv_cashable_savings_horizon'])}"
                f"{_m(r['npv_horizon'], 11)}  {pb_text}")
        o = sc["outcomes"]["total"]
        valued = "in the NPSV" if sc["value_qalys"] else "not valued"
        lines.append(f"  payback: month the cumulative discounted fiscal net benefit turns "
                     f"non-negative; 0 = never a net outlay; >{horizon} = not within the horizon")
        lines.append(
            f"  outcomes over the horizon: escalations avoided {o['escalations_avoided_horizon']:,.0f}; "
            f"crisis person-months avoided {o['crisis_person_months_avoided_horizon']:,.0f}; "
            f"exits avoided {o['exits_avoided_horizon']:,.1f}; QALYs gained "
            f"{o['qalys_gained_horizon']:,.1f} (PV {o['pv_qalys_gained_horizon']:,.1f}, "
            f"£{o['pv_qaly_value_horizon'] / 1e6:,.1f}m at £{sc['qaly_value_used']:,.0f}, {valued})")
        lines += _attribution_lines(sc["attribution"]["cashable"])
        lines += _switching_lines(sc)
        s114 = [f"{a} month {m['month'] or '-'} (counterfactual {m['counterfactual_month'] or '-'})"
                for a, m in sc.get("section_114", {}).items()
                if m["month"] is not None or m["counterfactual_month"] is not None]
        if s114:
            lines.append("  section 114 (council reserves below zero; cashflow.csv has the "
                         "financial years): " + "; ".join(s114))
    return "\n".join(lines).lstrip("\n")


def _switching_lines(sc: dict) -> list[str]:
    """Switching values (NPSV and fiscal NPV) and the break-even horizon."""
    if "switching_values" not in sc:
        return []
    be = sc["break_even"]

    def month(m):
        return (f"not within {be['months_searched']} months" if m is None
                else "immediate" if m == 0 else f"month {m}")

    lines = [f"  break-even (cumulative discounted NPSV turns non-negative, up to "
             f"{be['months_searched']} months): {month(be['npsv_month'])}; fiscal NPV: "
             f"{month(be['fiscal_npv_month'])}",
             f"  switching values (the value at which the case is zero; model parameters set in "
             f"the option and the counterfactual):",
             f"  {'parameter':<44}{'central':>12}{'NPSV = 0':>14}{'fiscal = 0':>14}"]
    by_parameter: dict[str, dict] = {}
    for e in sc["switching_values"]:
        by_parameter.setdefault(e["parameter"], {"central": e["central"]})[e["case"]] = e

    def cell(e) -> str:
        if e is None:
            return f"{'n/a':>14}"
        if e["none_in_range"]:
            return f"{'none in range':>14}"
        return f"{e['value']:>14,.6g}"

    for name, row in by_parameter.items():
        lines.append(f"  {name:<44}{row['central']:>12,.6g}{cell(row.get('npsv'))}"
                     f"{cell(row.get('fiscal_npv'))}")
    return lines


def _attribution_lines(block: dict) -> list[str]:
    investors = block["investing_agencies"]
    agencies = list(block["total"])
    if not investors:
        return ["  who pays / who gains: no agency's preventive investment differs from the "
                "counterfactual"]
    width = 11
    heads = [_wrap(a, width - 1) for a in agencies]
    depth = max(len(h) for h in heads)
    lines = ["  who pays / who gains: PV of cashable savings over the horizon, £m "
             "(rows: investing agency; columns: agency that saves)"]
    for k in range(depth):
        last = k == depth - 1
        lines.append(f"  {'':<26}" + "".join(
            f"{(h[k - depth + len(h)] if k >= depth - len(h) else ''):>{width}}" for h in heads)
            + (f"{'total':>{width}}{'invested':>10}  wrong pocket" if last else ""))
    for a in investors:
        row = block["matrix"][a]
        share = block["wrong_pocket_share"][a]
        lines.append(f"  {a:<26}" + "".join(_m(row[b], width) for b in agencies)
                     + _m(block["row_totals"][a], width) + _m(block["pv_uplifted_costs"][a], 10)
                     + ("  -" if share is None else f"  {share:.0%}"))
    for label in ("remainder", "total"):
        values = block[label]
        lines.append(f"  {'interaction ' + label if label == 'remainder' else label:<26}"
                     + "".join(_m(values[b], width) for b in agencies)
                     + _m(sum(values.values()), width))
    return lines
