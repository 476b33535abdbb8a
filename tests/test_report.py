"""The HTML report: self-contained (no external reference), shaped like a business case, and
the `tpsim report`, `tpsim chart` and `tpsim demo` commands end to end."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import functools

from test_charts import (paying_back_comparison, shipped_charts, shipped_comparison, shipped_png,
                         two_agency_place)
from tpsim import __version__
from tpsim.present import charts, style
from tpsim.cli import main
from tpsim.output import MARKER
from tpsim.cli import demo as demo_command
from tpsim.errors import TpsimError
from tpsim.present.assumptions import key_assumptions
from tpsim.present.report import make_charts, render_html
from tpsim.present import wording
from tpsim.present.labels import scenario_label
import html

_VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class _Collector(HTMLParser):
    """Every tag with its attributes; checks that non-void tags are closed in order."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def _parse(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser


def assert_self_contained(text: str) -> None:
    """No http(s):// or protocol-relative reference in any src/href, no external CSS, script,
    font or frame; every image an embedded data URI."""
    parsed = _parse(text)
    assert not parsed.errors, parsed.errors[:3]
    assert not parsed.stack, parsed.stack
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "data", "action"):
            value = (attrs.get(name) or "").strip()
            assert not re.match(r"(?i)(https?:)?//", value), (tag, name, value[:80])
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,")
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)
    assert not re.search(r"(?i)@import|url\(\s*[\"']?(https?:)?//", text)


# ---------------------------------------------------------------------------------------------
# The report of the shipped scenarios
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _shipped_html() -> tuple[str, list]:
    comparison = shipped_comparison()
    chart_list = list(shipped_charts().values())
    return render_html(comparison, chart_list, shipped_png(), command="tpsim demo",
                       generated="2026-01-01 00:00 UTC"), chart_list


def test_report_html_is_self_contained_and_embeds_every_chart():
    text, chart_list = _shipped_html()
    assert_self_contained(text)
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(chart_list)
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_the_five_case_sections_and_headline_figures():
    text, _ = _shipped_html()
    comparison = shipped_comparison()
    headings = re.findall(r"<h2>(.*?)</h2>", text)
    assert headings == ["1. Executive summary", "2. Economic case", "3. Financial case",
                        "4. Who pays and who gains", "5. Outcomes for people",
                        "6. Uncertainty and sensitivity", "7. Key assumptions and their sources",
                        "8. Settings and version"]
    for case in comparison.cases:
        h = case.appraisal.headline()
        assert style.pounds_m(h["npsv"] / 1e6).lstrip("\u2212") in text
        assert style.pounds_m(h["fiscal_npv"] / 1e6) in text
        assert style.pounds_m(h["npv_parliament"] / 1e6) in text
        assert f"{h['bcr']:,.2f}" in text
        assert case.scenario.hash in text
    assert comparison.counterfactual.hash in text
    assert f"tpsim</td><td class=\"\">{__version__}" in text or f">{__version__}<" in text
    assert "tpsim demo" in text  # the command that produced it
    assert "2026-01-01 00:00 UTC" in text


def test_executive_summary_ranks_the_options_by_npsv_before_anything_else():
    text, _ = _shipped_html()
    comparison = shipped_comparison()
    summary = text[text.index('<section id="summary">'):text.index('<section id="economic">')]
    ranked = sorted(comparison.cases, key=lambda c: -c.appraisal.headline()["npsv"])
    rows = re.findall(r"<tr><td class=\"\">(\d)\. ([^<]+)</td>", summary)
    assert [(int(k), name) for k, name in rows] == [
        (k, scenario_label(c.scenario)) for k, c in enumerate(ranked, start=1)]
    for c in ranked:  # NPSV and fiscal NPV of each, signed, in the ranking table
        h = c.appraisal.headline()
        assert ("+" if h["npsv"] > 0 else "") + style.pounds_m(h["npsv"] / 1e6) in summary
        assert style.pounds_m(h["fiscal_npv"] / 1e6) in summary
    # the section 114 months the pooled option moves are said in words
    assert "brings Council children's services' section 114 month forward from 85 to 74" in \
        html.unescape(summary)
    # no raw ids in the summary's words
    for c in comparison.cases:
        assert c.scenario.name not in re.sub(r"<[^>]+>", " ", summary)


def _rows(table: str) -> dict[str, list[str]]:
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
        if cells:
            out[cells[0]] = cells
    return out


def test_agencies_that_invest_nothing_have_no_investment_to_pay_back():
    from tpsim.present.report import _agency_table

    comparison = shipped_comparison()
    cases = {c.scenario.name: c for c in comparison.cases}
    pooled = _rows(_agency_table(cases["pooled_prevention"]))
    # DWP bears no extra cost (its reactive spend changes): no investment, not "not within"
    assert pooled["Department for Work and Pensions"][-1] == "no investment"
    assert pooled["Police"][-1].startswith("month ")  # the one agency that pays back
    assert pooled["Council public health"][-1] == wording.NOT_WITHIN_HORIZON
    # agencies with no change at all are named once under the table, not listed as rows
    table = _agency_table(cases["pilots_plus"])
    assert "Police" not in _rows(table) and "Council children's services" not in _rows(table)
    assert "No change for" in table and "Police" in table.split("No change for")[1]


def test_key_assumptions_carry_the_scenario_files_comments_and_sources():
    comparison = shipped_comparison()
    case = comparison.cases[0]
    ka = key_assumptions(case.scenario, comparison.counterfactual)
    paths = {r["path"]: r for r in ka["differences"]}
    assert "pool.enabled" in paths
    assert paths["pool.enabled"]["value"] == "yes" and paths["pool.enabled"]["counterfactual"] == "no"
    assert "pooled_prevention.yaml" in paths["pool.enabled"]["where"]
    assert paths["pool.enabled"]["note"]  # the comment beside the key
    assert ka["sources"]  # cited source ids with their citations
    for sid, citation in ka["sources"].items():
        assert sid in case.scenario.data["sources"] or sid in comparison.counterfactual.data["sources"]
        assert citation
    effects = [r for r in ka["evidence"] if r["path"].endswith(".effect")]
    assert len(effects) == sum(1 for s in case.scenario.data["services"].values()
                               if s["kind"] == "preventive")
    assert {r["path"] for r in ka["appraisal"]} >= {"appraisal.discount_rate", "appraisal.optimism_bias"}
    text, _ = _shipped_html()
    assert "pool.contributions.nhs_acute" in text
    assert "Sources cited above" in text


def test_report_of_a_paying_back_comparison_states_the_payback_month():
    comparison = paying_back_comparison()
    chart_list = [c for c in make_charts(comparison) if c.stem == "net_benefit"]
    png = {c.stem: charts.figure_bytes(c.figure, "png") for c in chart_list}
    text = render_html(comparison, chart_list, png)
    payback = comparison.cases[0].appraisal.headline()["payback_month"]
    assert f"month {payback} (within the Parliament)" in text
    assert_self_contained(text)


# ---------------------------------------------------------------------------------------------
# Commands end to end (small scenarios, so they are quick)
# ---------------------------------------------------------------------------------------------


def _write(folder: Path, name: str, places: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(two_agency_place(places, name, horizon=36), sort_keys=False))
    return path


def test_report_command_writes_html_charts_and_comparison_files(tmp_path):
    cf = _write(tmp_path / "sc", "squeeze", 300.0)
    more = _write(tmp_path / "sc", "more_prevention", 600.0)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(more), "--against", str(cf), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("report.html", "comparison.json", "comparison.csv", "attribution.csv",
                 "squeeze/timeseries.csv", "more_prevention/timeseries.csv"):
        assert (out / name).is_file(), name
    stems = {"net_benefit", "who_pays_who_gains_more_prevention", "wrong_pocket_more_prevention",
             "spend_by_agency", "spend_by_kind", "people_by_need_state"}
    for stem in stems:
        assert (out / "charts" / f"{stem}.png").stat().st_size > 1000
        assert (out / "charts" / f"{stem}.svg").stat().st_size > 1000
    text = (out / "report.html").read_text(encoding="utf-8")
    assert_self_contained(text)
    # the report's headline agrees with comparison.json (the same appraisal)
    document = json.loads((out / "comparison.json").read_text())
    npv = document["scenarios"]["more_prevention"]["npv"]
    assert style.pounds_m(npv / 1e6) in text
    assert "wrote" in result.output


def test_report_command_user_error_writes_nothing(tmp_path):
    cf = _write(tmp_path / "sc", "squeeze", 300.0)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(tmp_path / "missing.yaml"), "--against",
                                       str(cf), "--out", str(out)])
    assert result.exit_code == 2
    assert "missing.yaml" in result.output
    assert not out.exists()


def test_chart_command_with_and_without_a_counterfactual(tmp_path):
    cf = _write(tmp_path / "sc", "squeeze", 300.0)
    more = _write(tmp_path / "sc", "more_prevention", 600.0)
    result = CliRunner().invoke(main, ["chart", str(cf), str(more), "--chart", "spend-by-kind",
                                       "--chart", "people", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != MARKER) == sorted(
        f"{s}.{f}" for s in ("spend_by_kind", "people_by_need_state") for f in ("png", "svg"))
    result = CliRunner().invoke(main, ["chart", str(more), "--against", str(cf), "--chart",
                                       "net-benefit", "--format", "png", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "b").iterdir() if p.name != MARKER] == ["net_benefit.png"]
    result = CliRunner().invoke(main, ["chart", str(more), "--chart", "wrong-pocket"])
    assert result.exit_code != 0 and "--against" in result.output


def test_demo_runs_a_folder_of_scenarios_with_an_uncertainty_analysis(tmp_path):
    folder = tmp_path / "scenarios"
    for name, places in (("baseline", 300.0), ("siloed_squeeze", 200.0),
                         ("pooled_prevention_uncertain", 600.0), ("pilots_plus", 450.0)):
        _write(folder, name, places)
    data = yaml.safe_load((folder / "pooled_prevention_uncertain.yaml").read_text())
    data["uncertainty"] = {"parameters": {"services.falls_prevention.effect": {
        "dist": "triangular", "low": 0.1, "mode": 0.2, "high": 0.3}}}
    (folder / "pooled_prevention_uncertain.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["demo", "--scenarios", str(folder), "--runs", "32",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_text(encoding="utf-8")
    assert_self_contained(text)
    assert scenario_label("pooled_prevention_uncertain") in text and scenario_label("pilots_plus") in text
    assert "32 runs" in text and "Runs with a positive NPSV" in text
    assert "Runs with a positive fiscal NPV" in text
    assert (out / "comparison.json").is_file()
    assert (out / "charts" / "tornado_npv_pooled_prevention_uncertain.png").is_file()
    # a short summary: the ranking, then the report's path on the last line
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"report: {out / 'report.html'}"
    assert any(line.startswith("  1. ") and "NPSV" in line for line in lines)
    assert len(lines) < 10, result.output


def test_demo_uses_the_shipped_scenarios_from_anywhere_and_names_a_missing_file(tmp_path,
                                                                               monkeypatch):
    from tpsim.config.shipped import shipped_folder

    monkeypatch.chdir(tmp_path)
    assert demo_command.scenario_folder() == shipped_folder()
    (tmp_path / "mine").mkdir()
    with pytest.raises(TpsimError) as err:
        demo_command.scenario_folder(str(tmp_path / "mine"))
    assert str(tmp_path / "mine") in str(err.value) and "pooled_prevention_uncertain.yaml" in str(err.value)


def test_uncertainty_section_has_fan_and_tornado_charts():
    from tpsim.analysis.comparison import compare_scenarios
    from tpsim.analysis.sensitivity import comparison_uncertainty
    from tpsim.present.report import uncertainty_section
    from tpsim.config.scenario import scenario_from_dict

    data = two_agency_place(600.0, "more_uncertain", horizon=36)
    data["uncertainty"] = {"parameters": {
        "services.falls_prevention.effect": {"dist": "triangular", "low": 0.1, "mode": 0.2,
                                             "high": 0.3},
        "services.residential_care.unit_cost": {"dist": "uniform", "low": 2500.0, "high": 3500.0}}}
    sc = scenario_from_dict(data, source="<more_uncertain>")
    cf = scenario_from_dict(two_agency_place(300.0, "tiny_cf", horizon=36), source="<tiny_cf>")
    comparison = compare_scenarios([sc], cf)
    runs = comparison_uncertainty([sc], cf, runs=64, seed=1)
    assert runs.has_factors and list(runs.tornados) == ["more_uncertain"]
    result = uncertainty_section(comparison, runs)
    stems = [c.stem for c in result.charts]
    assert stems == ["fan_spend_total_more_uncertain", "tornado_npv_more_uncertain"]
    fan, tornado = (c.figure for c in result.charts)
    assert charts.chart_title(fan).startswith("Change in total public spend")
    tornado_labels = [t.get_text().replace("\n", " ") for t in tornado.axes[0].get_yticklabels()]
    assert "Community falls prevention: effect" in tornado_labels
    assert len(result.rows) == 1 and result.rows[0][0] == "More uncertain"
    png = {c.stem: charts.figure_bytes(c.figure, "png") for c in result.charts}
    text = render_html(comparison, result.charts, png, uncertainty=result)
    assert_self_contained(text)
    assert "Fiscal NPV, 10th percentile" in text and "64 runs" in text
    assert "NPSV, 90th percentile" in text and "Runs with a positive NPSV" in text
    # the NPSV's sampled range, not only the fiscal NPV's
    metrics = result.metrics["more_uncertain"]
    for case in ("npv", "npsv"):
        for p in ("p10", "p90"):
            assert style.pounds_m(metrics[case]["percentiles"][p] / 1e6) in text
    assert metrics["npsv"]["percentiles"]["p10"] != metrics["npv"]["percentiles"]["p10"]
