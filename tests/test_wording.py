"""Money, payback and month phrases: one function each, and every output uses them."""
from __future__ import annotations

import re

from test_charts import paying_back_comparison, shipped_comparison
from tpsim.present import text, wording
from tpsim.present.documents import comparison_document
from tpsim.present.report import make_charts, render_html


def test_payback_phrases():
    assert wording.payback(None) == "not within the horizon"
    assert wording.payback(None, True) == wording.NOT_WITHIN_HORIZON
    assert wording.payback(0) == "immediately (no net outlay)"
    assert wording.payback(27, True) == "month 27 (within the Parliament)"
    assert wording.payback(70, False) == "month 70"
    assert wording.payback_cell(None, 120) == ">120" and wording.payback_cell(0, 120) == "0"
    assert ">120 = not within the horizon; - = no investment" in wording.payback_legend(120)
    assert wording.payback_cell(None, 120, invests=False) == "-"
    assert wording.agency_payback(None, invests=False) == "no investment"
    assert wording.agency_payback(None, invests=True) == wording.NOT_WITHIN_HORIZON
    assert wording.payback_sentence(None, None) == "It does not pay back within the horizon."
    assert wording.payback_sentence(0, None) == "There is no net outlay to pay back."
    assert wording.payback_sentence(12, True) == "It pays back in month 12, within the Parliament."
    assert wording.payback_sentence(90, False) == "It pays back in month 90, after the Parliament."


def test_money_bcr_and_month_words():
    assert wording.money(1_234_567_890) == "£1.23bn"
    assert wording.money(-12_345_678) == "-£12.3m"
    assert wording.money(-456_000, minus="\u2212") == "\u2212£456k"
    assert wording.money(789) == "£789"
    assert wording.bcr(None) == "n/a (no extra cost)" and wording.bcr(1234.5) == "1,234.50"
    assert wording.month_words("2026-04") == "April 2026"
    assert wording.month_words("month 3") == "month 3" and wording.month_words(None) == ""


def _outputs(comparison) -> tuple[str, str]:
    printed = text.comparison_text(comparison_document(comparison))
    page = render_html(comparison, make_charts(comparison), {})
    return printed, page


def test_the_table_and_the_report_say_the_same_about_a_payback_not_within_the_horizon():
    comparison = shipped_comparison()
    assert any(c.appraisal.headline()["payback_month"] is None for c in comparison.cases)
    printed, page = _outputs(comparison)
    for output in (printed, page):
        assert "not within the horizon" in output
        assert not re.search(r"not within horizon", output)
    for case in comparison.cases:
        h = case.appraisal.headline()
        phrase = wording.payback(h["payback_month"], h["pays_back_in_parliament"])
        assert f"payback {phrase}" in printed
        assert f">{phrase}</td>" in page


def test_a_paying_back_comparison_is_worded_alike_in_the_table_and_the_report():
    comparison = paying_back_comparison()
    printed, page = _outputs(comparison)
    h = comparison.cases[0].appraisal.headline()
    assert h["payback_month"] not in (None, 0)
    phrase = wording.payback(h["payback_month"], h["pays_back_in_parliament"])
    assert f"payback {phrase}" in printed and f">{phrase}</td>" in page
    assert wording.payback_sentence(h["payback_month"], h["pays_back_in_parliament"]) in page
