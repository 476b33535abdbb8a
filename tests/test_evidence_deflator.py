"""The one GDP-deflator series of the repository (scenarios/data/gdp_deflator.csv): its source
and date, its gaps left empty, the evidence table's index agreeing with it, and every deflator
factor written in a shipped scenario's comments checked against it (a sourced year's own
factor, or for "deflator LB" the documented gap convention: the next later sourced year's)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tpsim.config.evidence import DEFLATOR_CSV, load_evidence, read_deflator_csv
from tpsim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if p.name != "evidence.yaml")

# "2012/13", "2015-16" (a financial year) or, in a source id, "refcost1617"
_YEAR = re.compile(r"\b(20\d{2})[-/](\d{2})\b")
_ID_YEAR = re.compile(r"\b[a-z_]+(\d{2})(\d{2})\b")
# "x 1.2691 (deflator LB)", "x 1.4961 (deflator [S])", "deflator LB (x1.0)"
_FACTOR = re.compile(r"x\s*(\d\.\d+)\s*\(deflator (LB|\[S\])\)|deflator (LB) \(x(\d\.\d+)\)")


@pytest.fixture(scope="module")
def series():
    return read_deflator_csv()


def test_the_series_names_its_source_and_date_and_leaves_gaps_empty(series):
    assert DEFLATOR_CSV == ROOT / "scenarios" / "data" / "gdp_deflator.csv"
    header = " ".join(series.header)
    assert "HM Treasury" in header and "2026-03-31" in header and "L8GG" in header
    assert "NOT available offline" in header and "deflator LB" in header
    sourced = {y: f for y, f in series.factors.items() if f is not None}
    assert sourced == {"2008-09": 1.4961, "2018-19": 1.2691, "2022-23": 1.0953, "2024-25": 1.0}
    assert list(series.factors) == [f"{y}-{(y + 1) % 100:02d}" for y in range(2008, 2025)]
    with pytest.raises(ScenarioError, match="2015-16"):
        series.factor("2015-16")
    assert series.lower_bound_factor("2015-16") == 1.2691
    assert series.lower_bound_factor("2019-20") == 1.0953
    assert series.lower_bound_factor("2023-24") == 1.0
    assert series.lower_bound_factor("2018-19") == 1.2691
    with pytest.raises(ScenarioError, match="outside"):
        series.lower_bound_factor("2001-02")


def test_the_evidence_table_agrees_with_the_series(series):
    """evidence.yaml's sourced index points are the CSV's factors (100 / index, 4 d.p.); its
    other years are the [E] estimates it documents, never used by a scenario value."""
    deflator = load_evidence().deflator
    assert set(deflator.sourced) == {y for y, f in series.factors.items() if f is not None}
    for year, factor in series.factors.items():
        assert year in deflator.index
        if factor is not None:
            assert 100.0 / deflator.index[year] == pytest.approx(factor, abs=5e-5), year


def _deflator_comments():
    """(file:line, comment) of every scenario comment that writes a deflator factor or mark."""
    for path in SCENARIOS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "#" not in line or line.lstrip().startswith("#"):
                continue
            key, comment = line.split("#", 1)
            if key.strip().startswith(("qaly_uprating", "deflator:")):
                continue          # checked below / the sources entry
            if re.search(r"deflator (LB|\[S\])|\(deflator", comment):
                yield f"{path.name}:{number}", comment


def _year_before(text: str) -> str | None:
    years = [f"{m.group(1)}-{m.group(2)}" for m in _YEAR.finditer(text)]
    if years:
        return years[-1]
    ids = [f"20{m.group(1)}-{m.group(2)}" for m in _ID_YEAR.finditer(text)
           if (int(m.group(1)) + 1) % 100 == int(m.group(2))]
    return ids[-1] if ids else None


def test_every_deflator_factor_in_the_scenarios_is_the_series_factor(series):
    checked = marks = 0
    for where, comment in _deflator_comments():
        found = list(_FACTOR.finditer(comment))
        if not found:
            year = _year_before(comment)
            if year is not None:       # "x deflator LB" without a number: the year is covered
                series.lower_bound_factor(year)
                marks += 1
            continue
        for match in found:
            factor = float(match.group(1) or match.group(4))
            tag = match.group(2) or match.group(3)
            year = _year_before(comment[:match.start()])
            assert year is not None, f"{where}: no price year before the deflator factor"
            if tag == "[S]":
                assert factor == series.factor(year), f"{where}: {year} factor {factor}"
            else:
                assert factor == series.lower_bound_factor(year), \
                    f"{where}: {year} 'deflator LB' should be {series.lower_bound_factor(year)}"
            checked += 1
    assert checked >= 14 and marks >= 3, (checked, marks)


def test_the_qaly_uprating_follows_the_gap_convention(series):
    appraisal = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())["appraisal"]
    assert appraisal["qaly_uprating"] == series.lower_bound_factor(appraisal["qaly_price_year"])


def test_a_wrong_factor_in_a_comment_is_caught(series):
    """Guard: the parser reads the factor and year the check needs."""
    comment = " GBP 148 (refcost1617 [S]) x 1.3116 (deflator LB)"
    (match,) = _FACTOR.finditer(comment)
    year = _year_before(comment[:match.start()])
    assert year == "2016-17" and float(match.group(1)) != series.lower_bound_factor(year)


def test_a_broken_series_names_the_file_and_row(tmp_path):
    bad = tmp_path / "gdp_deflator.csv"
    bad.write_text("financial_year,factor_to_2024_25,index_2024_25_100,status\n"
                   "2008-09,abc,,x\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"row 1 \(2008-09\)"):
        read_deflator_csv(bad)
