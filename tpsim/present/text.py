"""The plain-text summaries the commands print: a run's spend table, a comparison's table per
scenario (with who pays / who gains) and an ensemble's NPV ranges. Money in £ (``£m`` columns
in the comparison table); months 1 = the first simulated month."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tpsim.analysis.appraisal import PARLIAMENT_MONTHS, RECOMMENDED_OPTIMISM_BIAS
from tpsim.present.wording import bcr, fixed, money, payback, payback_cell, payback_legend, sig

if TYPE_CHECKING:
    from tpsim.models.results import Results


def run_summary_text(summary: dict, results: Results) -> str:
    """A short table: spend by agency and kind over the horizon, and any s114 month."""
    t = summary["totals"]
    months = summary["settings"]["horizon_months"]
    lines = [f"{summary['scenario']} ({summary['scenario_hash']}): {months} months, "
             f"{summary['settings']['method']} dt={summary['settings']['dt_months']}, "
             f"prices {summary['settings']['price_year']}",
             f"  {'agency':<28}{'spend':>12}{'final reserves':>16}"]
    for a, spend in t["spend_by_agency"].items():
        lines.append(f"  {a:<28}{money(spend):>12}{money(t['final_reserves'][a]):>16}")
    lines.append(f"  {'preventive spend':<28}{money(t['spend_by_kind']['preventive']):>12}")
    lines.append(f"  {'reactive spend':<28}{money(t['spend_by_kind']['reactive']):>12}")
    lines.append(f"  {'total public spend':<28}{money(t['spend_total']):>12}")
    for a, month in summary["section_114_month"].items():
        if month is not None:
            lines.append(f"  {a}: reserves below zero from month {month} (section 114)")
    return "\n".join(lines)


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
            f"BCR {bcr(sc['bcr'])}; payback "
            f"{payback(sc['payback_month'], sc['pays_back_in_parliament'])}",
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
            pb_text = ("" if row.startswith("pool") else
                       payback_cell(pb, horizon, r["pv_uplifted_costs_horizon"] > 500.0))
            lines.append(
                f"  {row:<26}{_m(r['costs_parliament'])}{_m(r['cashable_savings_parliament'])}"
                f"{_m(r['non_cashable_savings_parliament'])}|{_m(r['costs_horizon'])}"
                f"{_m(r['cashable_savings_horizon'])}{_m(r['non_cashable_savings_horizon'])}|"
                f"{_m(r['pv_uplifted_costs_horizon'])}{_m(r['pv_cashable_savings_horizon'])}"
                f"{_m(r['npv_horizon'], 11)}  {pb_text}")
        o = sc["outcomes"]["total"]
        valued = "in the NPSV" if sc["value_qalys"] else "not valued"
        lines.append("  " + payback_legend(horizon))
        lines.append(
            f"  outcomes over the horizon: escalations avoided {o['escalations_avoided_horizon']:,.0f}; "
            f"crisis person-months avoided {o['crisis_person_months_avoided_horizon']:,.0f}; "
            f"exits avoided {o['exits_avoided_horizon']:,.1f}; QALYs gained "
            f"{o['qalys_gained_horizon']:,.1f} (PV {o['pv_qalys_gained_horizon']:,.1f}, "
            f"£{o['pv_qaly_value_horizon'] / 1e6:,.1f}m at £{sc['qaly_value_used']:,.0f}, {valued})")
        lines += _attribution_lines(sc["attribution"]["cashable"])
        if "attribution_by_service" in sc:
            lines += _service_lines(sc["attribution_by_service"]["cashable"])
        lines += _switching_lines(sc)
        s114 = [f"{a} month {m['month'] or '-'} (counterfactual {m['counterfactual_month'] or '-'})"
                for a, m in sc.get("section_114", {}).items()
                if m["month"] is not None or m["counterfactual_month"] is not None]
        if s114:
            lines.append("  section 114 (council reserves below zero; cashflow.csv has the "
                         "financial years): " + "; ".join(s114))
    return "\n".join(lines).lstrip("\n")


def _service_lines(block: dict) -> list[str]:
    """Who pays / who gains by preventive service: Shapley rows, the part not attributed."""
    if not block["services"]:
        return ["  by service: no preventive service's investment differs from the counterfactual"]
    agencies = list(block["total"])
    width = 11
    heads = [_wrap(a, width - 1) for a in agencies]
    depth = max(len(h) for h in heads)
    se = block["shapley_standard_error"]
    lines = [f"  by service (Shapley values, {block['method']}; interactions shared out): PV of "
             "cashable savings over the horizon, £m (rows: preventive service and who funds it)"]
    for k in range(depth):
        lines.append(f"  {'':<26}" + "".join(
            f"{(h[k - depth + len(h)] if k >= depth - len(h) else ''):>{width}}" for h in heads)
            + (f"{'total':>{width}}" + ("  ± s.e." if se else "") + "  funded by"
               if k == depth - 1 else ""))
    for v in block["services"]:
        row = block["shapley"][v]
        error = f"  ±{sum(se[v].values()) / 1e6:.1f}" if se else ""
        lines.append(f"  {v[:26]:<26}" + "".join(_m(row[b], width) for b in agencies)
                     + _m(block["row_totals"][v], width) + error + f"  {block['funded_by'][v]}")
    for label, key in (("not service investment", "not_attributed"), ("total", "total")):
        values = block[key]
        lines.append(f"  {label:<26}" + "".join(_m(values[b], width) for b in agencies)
                     + _m(sum(values.values()), width))
    return lines


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
             "  switching values (the value at which the case is zero; model parameters set in "
             "the option and the counterfactual):",
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


def ensemble_text(document: dict) -> str:
    """A short plain-text summary for the terminal."""
    s = document["settings"]
    lines = [f"ensemble: {s['runs']:,} runs, seed {s['seed']}, {s['sampler']} sampling, "
             f"{len(document['factors'])} uncertain factors; against "
             f"{document['counterfactual']['scenario']}"]
    def figures(m: dict) -> str:
        p = m["percentiles"]
        central = "n/a" if m.get("deterministic") is None else money(m["deterministic"])
        return (f"deterministic {central}, mean {money(m['mean'])}, median {money(p['p50'])} "
                f"(P10 {money(p['p10'])}, P90 {money(p['p90'])})")

    for name, r in document["results"].items():
        if "npsv" in r:  # the headline: net present social value
            lines.append(f"  {name}: NPSV {figures(r['npsv'])}; P(NPSV > 0) = "
                         f"{r['probability_npsv_positive']:.3f}")
            lines.append(f"  {' ' * len(name)}  economic NPV {figures(r['economic_npv'])}")
            lead = f"  {' ' * len(name)}  fiscal NPV"
        else:
            lead = f"  {name}: NPV"
        lines.append(f"{lead} {figures(r['npv'])}; P(NPV > 0) = "
                     f"{r['probability_beats_counterfactual']:.3f}; payback within the "
                     f"Parliament {r['payback']['probability_within_parliament']:.3f}")
    return "\n".join(lines)


def sensitivity_text(document: dict) -> str:
    """The largest NPV swings (oat) or Sobol indices (sobol), five at most."""
    lines = [f"sensitivity ({document['method']}): {document['scenario']['scenario']} against "
             f"{document['counterfactual']['scenario']}, {document['runs']} runs"]
    if document["method"] == "oat":
        for e in document["swings"]["npv"][:5]:
            lines.append(f"  NPV swing {money(e['swing'])}: {e['factor']}")
    else:
        for e in document["indices"]["npv"][:5]:
            lines.append(f"  NPV: S1 {e['first_order']:.3f}, ST {e['total_order']:.3f}: {e['factor']}")
    return "\n".join(lines)


def calibration_text(result, scenario_name: str, data_path: str, unused) -> str:
    """The printed summary of a fit: estimates with standard errors and intervals, and the
    fit statistics per series."""
    st = result.statistics
    problem = result.problem
    width = max(len(n) for n in problem.names + [t.name for t in problem.targets] + ["parameter"])
    out = [f"calibrated {scenario_name} to {data_path}: {st['n_observations']} observations, "
           f"{len(problem.targets)} series, {st['n_parameters']} parameters, "
           f"{len(result.starts)} starts, {result.elapsed:.1f} s"]
    out.append(f"  {'parameter':<{width}}  {'estimate':>11}  {'std error':>10}  "
               f"{'95% interval':>25}  {'start':>10}")
    for j, q in enumerate(problem.parameters):
        lo, hi = st["interval"][j]
        interval = f"[{sig(lo)}, {sig(hi)}]"
        out.append(f"  {q.path:<{width}}  {sig(st['estimate'][j], 6):>11}  "
                   f"{sig(st['standard_error'][j], 3):>10}  {interval:>25}  "
                   f"{sig(q.initial, 6):>10}")
    out.append(f"  {'series':<{width}}  {'MAPE %':>7}  {'RMSE':>10}  {'R^2':>6}  {'U^M':>5}  "
               f"{'U^S':>5}  {'U^C':>5}")
    for t in problem.targets:
        s = result.series[t.name]["fitted"]
        out.append(f"  {t.name:<{width}}  {sig(s['mape_percent'], 3):>7}  {sig(s['rmse'], 4):>10}  "
                   f"{fixed(s['r_squared'], 3):>6}  {fixed(s['theil_UM'], 2):>5}  "
                   f"{fixed(s['theil_US'], 2):>5}  {fixed(s['theil_UC'], 2):>5}")
    if unused:
        out.append(f"  not matched (not listed in the config): {', '.join(unused)}")
    if st["warnings"]:
        out.append("warnings:")
        out += [f"  - {w}" for w in st["warnings"]]
    return "\n".join(out)


def report_summary_text(comparison, document: dict, uncertainty=None) -> str:
    """A few lines for the terminal after a report: the options ranked by NPSV, each with its
    fiscal NPV, cash payback and (with an uncertainty analysis) the share of runs with a
    positive fiscal NPV."""
    from tpsim.present.labels import scenario_label
    from tpsim.present.summary import options
    from tpsim.present.wording import month_words

    st = document["settings"]
    metrics = uncertainty.metrics if uncertainty is not None else None
    runs = uncertainty.runs if uncertainty is not None else None
    opts = options(comparison, document["scenarios"], metrics, runs)
    lines = [f"{len(opts)} option{'s' if len(opts) != 1 else ''} against "
             f"{scenario_label(comparison.counterfactual)}: {st['horizon_months']} months from "
             f"{month_words(st['start'])}, {st['price_year']} prices; ranked by NPSV"]
    for o in opts:
        def signed(v: float) -> str:
            return ("+" if v > 0 else "") + money(v)
        pb = payback(o.payback_month, o.pays_back_in_parliament)
        line = (f"  {o.rank}. {o.label}: NPSV {signed(o.npsv)}; fiscal NPV {signed(o.fiscal_npv)}; "
                f"cash payback {pb}")
        if o.npsv_probability_positive is not None:
            line += (f"; NPSV positive in {o.npsv_probability_positive:.0%} and fiscal NPV in "
                     f"{o.probability_positive:.0%} of {o.runs:,} runs")
        lines.append(line)
    return "\n".join(lines)
