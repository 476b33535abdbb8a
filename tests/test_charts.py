"""Charts: every chart renders on the shipped scenarios, and its content (titles, axis labels,
series, the payback marker) matches the numbers it was drawn from."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from conftest import make_tiny_scenario_dict
from tpsim.present import charts, style
from tpsim.analysis.comparison import compare_scenarios
from tpsim.present.report import make_charts, trajectory_charts
from tpsim.present import charts_case
from tpsim.present.labels import agency_label, scenario_label
from tpsim.config.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


# ---------------------------------------------------------------------------------------------
# Shared comparisons (built once per test session; test_report.py uses them too)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def shipped_comparison():
    """pooled_prevention and pilots_plus against siloed_squeeze, the baseline for context."""
    load = lambda name: load_scenario(SCENARIOS / f"{name}.yaml")  # noqa: E731
    return compare_scenarios([load("pooled_prevention"), load("pilots_plus")],
                            load("siloed_squeeze"), context=[load("baseline")])


def two_agency_place(places: float, name: str, horizon: int = 72) -> dict:
    """The tiny test place plus an NHS agency whose admissions fall when the council's falls
    prevention works (a wrong pocket); ``places`` sets the falls prevention places."""
    d = make_tiny_scenario_dict()
    d["name"] = name
    d["time"]["horizon"] = horizon
    d["agencies"]["nhs_acute"] = {
        "label": "NHS acute trusts", "type": "nhs", "budget": 100_000.0, "reserves": 0.0,
        "overhead": 0.05, "perception_delay": 6.0}
    d["services"]["emergency_admissions"] = {
        "label": "Emergency admissions", "agency": "nhs_acute", "cohort": "older_people",
        "kind": "reactive", "unit_cost": 3000.0, "utilisation": {"high_need": 0.1}}
    d["services"]["falls_prevention"]["places"] = places
    return d


@functools.lru_cache(maxsize=None)
def paying_back_comparison():
    """A small comparison that pays back within its horizon (more falls prevention places)."""
    cf = scenario_from_dict(two_agency_place(300.0, "tiny_cf"), source="<tiny_cf>")
    sc = scenario_from_dict(two_agency_place(600.0, "tiny_more"), source="<tiny_more>")
    return compare_scenarios([sc], cf)


@functools.lru_cache(maxsize=None)
def shipped_charts():
    return {c.stem: c for c in make_charts(shipped_comparison())}


@functools.lru_cache(maxsize=None)
def shipped_level_charts():
    """The charts over time as levels (``tpsim chart`` without a counterfactual) of the
    shipped comparison's runs."""
    comparison = shipped_comparison()
    return {c.stem: c for c in trajectory_charts(
        comparison.trajectories(), counterfactual=comparison.counterfactual.name,
        context=[sc.name for sc, _, _ in comparison.context])}


@functools.lru_cache(maxsize=None)
def shipped_png() -> dict:
    """Each shipped chart rendered once as PNG (stem -> bytes)."""
    return {stem: charts.figure_bytes(c.figure, "png") for stem, c in shipped_charts().items()}


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _data_lines(ax):
    """Lines that are data series (not the Parliament marker, not payback markers)."""
    return [ln for ln in ax.get_lines() if ln.get_gid() not in (charts.GID_PARLIAMENT, charts.GID_PAYBACK)
            and len(ln.get_xdata()) > 2]


def _parliament_x(ax):
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == charts.GID_PARLIAMENT]
    return [float(np.asarray(ln.get_xdata())[0]) for ln in lines]


# ---------------------------------------------------------------------------------------------
# Every chart renders, carries a title, a source line and fits A4
# ---------------------------------------------------------------------------------------------


def test_every_report_chart_renders_to_png_and_svg():
    chart_list = shipped_charts()
    comparison = shipped_comparison()
    names = [c.scenario.name for c in comparison.cases]
    expected = {"net_benefit", "spend_by_agency", "spend_by_kind", "people_by_need_state",
                "switching_values", "cashflow"}
    expected |= {f"who_pays_who_gains_{n}" for n in names} | {f"wrong_pocket_{n}" for n in names}
    assert expected <= set(chart_list)
    for stem, chart in chart_list.items():
        fig = chart.figure
        png = shipped_png()[stem]
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        # A4 text width at the PNG resolution
        width = int.from_bytes(png[16:20], "big")
        assert width == round(style.A4_TEXT_WIDTH_IN * style.PNG_DPI)
        assert charts.chart_title(fig), stem
        source = charts.chart_source(fig)
        assert source.startswith("Source: tpsim "), stem
        assert fig.get_figwidth() == pytest.approx(style.A4_TEXT_WIDTH_IN)
    svg = charts.figure_bytes(chart_list["net_benefit"].figure, "svg").decode("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Cumulative value of each option" in svg  # text stays text in SVG


def test_source_line_names_tpsim_each_scenario_and_its_hash():
    comparison = shipped_comparison()
    fig = shipped_charts()["net_benefit"].figure
    source = charts.chart_source(fig)
    assert "tpsim" in source
    for c in comparison.cases:
        assert f"{c.scenario.name} (hash {c.scenario.hash})" in source
    cf = comparison.counterfactual
    assert f"against {cf.name} (hash {cf.hash})" in source
    assert "2024-25 prices" in source


def test_save_figure_writes_png_and_svg(tmp_path):
    fig = shipped_charts()["spend_by_kind"].figure
    paths = charts.save_figure(fig, tmp_path / "out", "spend")
    assert [p.name for p in paths] == ["spend.png", "spend.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["spend.png", "spend.svg"]


# ---------------------------------------------------------------------------------------------
# Charts over time
# ---------------------------------------------------------------------------------------------


def test_spend_by_agency_one_panel_per_scenario_stacked_by_agency():
    comparison = shipped_comparison()
    fig = shipped_level_charts()["spend_by_agency"].figure
    runs = comparison.trajectories()
    axes = _visible_axes(fig)
    assert [ax.get_title(loc="left") for ax in axes] == [scenario_label(sc) for sc, _, _ in runs]
    agencies = runs[0][1].model.agencies
    colours = style.agency_colours(agencies)
    for ax, (sc, res, k) in zip(axes, runs):
        stacks = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(stacks) == len(agencies)
        assert [c.get_label() for c in stacks] == [charts.short_label(sc.data["agencies"][a]["label"])
                                                   for a in agencies]
        for c, a in zip(stacks, agencies):  # the fixed agency colour
            assert np.allclose(c.get_facecolor()[0][:3],
                               tuple(int(colours[a][i:i + 2], 16) / 255 for i in (1, 3, 5)))
        assert ax.get_xlabel() == "Months from April 2026"
        assert _parliament_x(ax) == [60.0]
        # top of the stack at the last month = total agency spend, £m a year
        total = sum(res[f"spend.agency.{a}"][k][-1] for a in agencies) * 12 / 1e6
        top = stacks[-1].get_paths()[0].vertices[:, 1].max()
        assert top == pytest.approx(max(total, top), rel=1e-9)
    assert axes[0].get_ylabel() == "Spend, £m a year"
    assert charts.chart_title(fig) == "Public spend by agency"


def test_spend_by_kind_overlays_every_scenario():
    comparison = shipped_comparison()
    fig = shipped_level_charts()["spend_by_kind"].figure
    runs = comparison.trajectories()
    axes = _visible_axes(fig)
    assert [ax.get_title(loc="left") for ax in axes] == ["Reactive services (demand-led)",
                                                         "Preventive services"]
    for ax, kind in zip(axes, ("reactive", "preventive")):
        lines = _data_lines(ax)
        assert [ln.get_label() for ln in lines] == [scenario_label(sc) for sc, _, _ in runs]
        for ln, (sc, res, k) in zip(lines, runs):
            y = np.asarray(ln.get_ydata())
            np.testing.assert_allclose(y[1:], res[f"spend.kind.{kind}"][k] * 12 / 1e6)
        assert ax.get_ylabel() == "Spend, £m a year"
        assert _parliament_x(ax) == [60.0]
    # the counterfactual is dashed, the others solid
    styles = {ln.get_label(): ln.get_linestyle() for ln in _data_lines(axes[0])}
    assert styles[scenario_label("siloed_squeeze")] == "--"
    assert styles[scenario_label("pooled_prevention")] == "-"


def test_people_by_need_state_one_panel_per_state():
    comparison = shipped_comparison()
    fig = shipped_level_charts()["people_by_need_state"].figure
    runs = comparison.trajectories()
    model = runs[0][1].model
    axes = _visible_axes(fig)
    states = [(c, s) for c in model.cohorts for s in model.states[c]]
    assert len(axes) == len(states)
    for ax, (c, s) in zip(axes, states):
        assert ax.get_title(loc="left") == charts.state_label(s)
        lines = _data_lines(ax)
        assert len(lines) == len(runs)
        for ln, (sc, res, k) in zip(lines, runs):
            np.testing.assert_allclose(np.asarray(ln.get_ydata()), res[f"population.{c}.{s}"][k])
    assert "(people)" in axes[0].get_ylabel()
    assert axes[-1].get_xlabel() == "Months"


# ---------------------------------------------------------------------------------------------
# Appraisal charts
# ---------------------------------------------------------------------------------------------


def test_who_pays_who_gains_bars_match_the_appraisal():
    comparison = shipped_comparison()
    for case in comparison.cases:
        fig = shipped_charts()[f"who_pays_who_gains_{case.scenario.name}"].figure
        ax = _visible_axes(fig)[0]
        rows = case.appraisal.rows
        drawn = [a for a in case.flows.agencies
                 if any(p.get_gid() == f"cost:{a}" for p in ax.patches)]
        for a in case.flows.agencies:  # an agency is left out only when nothing changes for it
            if a not in drawn:
                assert rows[a]["pv_uplifted_costs_horizon"] <= 500.0
                assert abs(rows[a]["pv_cashable_savings_horizon"]) < 50_000.0
        for a in drawn:
            (cost,) = [p for p in ax.patches if p.get_gid() == f"cost:{a}"]
            (saving,) = [p for p in ax.patches if p.get_gid() == f"saving:{a}"]
            assert cost.get_width() == pytest.approx(-rows[a]["pv_uplifted_costs_horizon"] / 1e6)
            assert saving.get_width() == pytest.approx(rows[a]["pv_cashable_savings_horizon"] / 1e6)
        labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
        assert labels[0] == "Council adult social care"
        assert ax.get_xlabel() == "£m, present value"
        n_agencies = len(drawn) + (1 if case.scenario.data["pool"]["enabled"] else 0)
        assert len([p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]) == 2 * n_agencies


def test_value_curves_are_the_cumulative_npsv_and_fiscal_streams():
    comparison = shipped_comparison()
    fig = shipped_charts()["net_benefit"].figure
    social, purse = _visible_axes(fig)
    assert social.get_title(loc="left") == "Social value (NPSV)"
    assert purse.get_title(loc="left") == "Public purse (fiscal NPV)"
    for ax, stream in ((social, "discounted_npsv"), (purse, "discounted_net")):
        lines = _data_lines(ax)
        assert len(lines) == len(comparison.cases)
        for ln, case in zip(lines, comparison.cases):
            y = np.asarray(ln.get_ydata())
            assert y[0] == 0.0
            np.testing.assert_allclose(y[1:], np.cumsum(getattr(case.appraisal, stream)) / 1e6)
        assert _parliament_x(ax) == [60.0]
    # a circle where each NPSV curve turns positive for good (the break-even month)
    marks = [ln for ln in social.get_lines() if ln.get_gid() == charts_case.GID_BREAK_EVEN]
    months = sorted(c.switching["break_even"]["npsv_month"] for c in comparison.cases)
    assert sorted(float(m.get_xdata()[0]) for m in marks) == months
    # no option pays back in cash within the horizon: no fiscal marker, and the panel says so
    assert not [ln for ln in purse.get_lines() if ln.get_gid() == charts.GID_PAYBACK]
    assert any("No option turns positive" in t.get_text() for t in purse.texts)


def test_payback_marker_sits_at_the_reported_payback_month():
    comparison = paying_back_comparison()
    case = comparison.cases[0]
    payback = case.appraisal.headline()["payback_month"]
    assert payback is not None and 0 < payback < comparison.horizon
    fig = next(c for c in make_charts(comparison) if c.stem == "net_benefit").figure
    purse = _visible_axes(fig)[1]
    (marker,) = [ln for ln in purse.get_lines() if ln.get_gid() == charts.GID_PAYBACK]
    x, y = float(marker.get_xdata()[0]), float(marker.get_ydata()[0])
    cumulative = np.cumsum(case.appraisal.discounted_net) / 1e6
    assert x == payback
    assert y == pytest.approx(cumulative[payback - 1])
    assert cumulative[payback - 1] >= 0 > cumulative[payback - 2]


def test_spend_difference_by_agency_is_each_option_minus_the_counterfactual():
    comparison = shipped_comparison()
    fig = shipped_charts()["spend_by_agency"].figure
    runs = {sc.name: (sc, res, k) for sc, res, k in comparison.trajectories()}
    cf_sc, cf_res, cf_k = runs[comparison.counterfactual.name]
    axes = _visible_axes(fig)
    assert [ax.get_title(loc="left") for ax in axes] == [scenario_label(c.scenario)
                                                         for c in comparison.cases]
    colours = style.agency_colours(cf_res.model.agencies)
    hexes = {tuple(round(v, 4) for v in np.array([int(colours[a][i:i + 2], 16) / 255
                                                  for i in (1, 3, 5)])): a
             for a in cf_res.model.agencies}
    for ax, case in zip(axes, comparison.cases):
        sc, res, k = runs[case.scenario.name]
        lines = _data_lines(ax)
        assert lines
        for ln in lines:
            from matplotlib.colors import to_rgb
            a = hexes[tuple(round(v, 4) for v in to_rgb(ln.get_color()))]
            diff = (res[f"spend.agency.{a}"][k] - cf_res[f"spend.agency.{a}"][cf_k]) * 12 / 1e6
            np.testing.assert_allclose(np.asarray(ln.get_ydata())[1:], diff)
    # the legend gives each agency's counterfactual level, £m a year on average
    legend = [t.get_text().replace("\n", " ") for t in fig.legends[0].get_texts()]
    mean = np.mean(cf_res["spend.agency.council_asc"][cf_k]) * 12 / 1e6
    assert f"{agency_label(cf_sc, 'council_asc')} ({style.pounds_m(mean, 0)})" in legend


def test_spend_difference_by_kind_and_people_difference_read_against_the_counterfactual():
    comparison = shipped_comparison()
    runs = {sc.name: (sc, res, k) for sc, res, k in comparison.trajectories()}
    cf_sc, cf_res, cf_k = runs[comparison.counterfactual.name]
    reactive, preventive = _visible_axes(shipped_charts()["spend_by_kind"].figure)
    assert reactive.get_title(loc="left").startswith("Reactive services\n(counterfactual: £")
    others = [r for n, r in runs.items() if n != cf_sc.name]
    for ax, kind in ((reactive, "reactive"), (preventive, "preventive")):
        for ln, (sc, res, k) in zip(_data_lines(ax), others):
            np.testing.assert_allclose(np.asarray(ln.get_ydata())[1:],
                                       (res[f"spend.kind.{kind}"][k] - cf_res[f"spend.kind.{kind}"][cf_k]) * 12 / 1e6)
    fig = shipped_charts()["people_by_need_state"].figure
    axes = _visible_axes(fig)
    model = cf_res.model
    assert len(axes) == len(model.cohorts)  # one panel per cohort, not per state
    first = comparison.cases[0].scenario.name
    sc, res, k = runs[first]
    for ax, c in zip(axes, model.cohorts):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        states = model.states[c]
        assert len(bars) == len(states) * len(comparison.cases)
        for bar, s in zip(bars[:len(states)], states):  # the first option's bars, in state order
            expected = res[f"population.{c}.{s}"][k][-1] - cf_res[f"population.{c}.{s}"][cf_k][-1]
            assert bar.get_width() == pytest.approx(expected)
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels[0] == f"{charts.state_label(states[0])} ({style.thousands(cf_res[f'population.{c}.{states[0]}'][cf_k][-1])})"


def test_switching_values_chart_marks_each_value_as_a_multiple_of_the_central_one():
    comparison = shipped_comparison()
    ax = _visible_axes(shipped_charts()["switching_values"].figure)[0]
    markers = [ln for ln in ax.get_lines() if ln.get_marker() in ("o", "s") and len(ln.get_xdata()) == 1]
    expected = sorted(e["value"] / e["central"] for c in comparison.cases
                      for e in c.switching["switching_values"]
                      if e["value"] is not None and e["central"])
    assert sorted(float(m.get_xdata()[0]) for m in markers) == pytest.approx(expected)
    assert ax.get_xscale() == "log"
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert "Every preventive effect (one multiplier)" in labels
    assert not any("." in lab.split(":")[0] and "_" in lab for lab in labels)  # no dotted paths


def test_cashflow_chart_bars_add_up_to_each_year_net_cash():
    from tpsim.analysis import cashflow

    comparison = shipped_comparison()
    fig = shipped_charts()["cashflow"].figure
    rows = cashflow.comparison_cashflow(comparison)
    cols = cashflow.COLUMNS
    for ax, case in zip(_visible_axes(fig), comparison.cases):
        mine = [r for r in rows if r[cols.index("scenario")] == case.scenario.name
                and r[cols.index("row")] == "total"]
        totals = [r[cols.index("net")] / 1e6 for r in mine]
        (line,) = [ln for ln in ax.get_lines() if ln.get_marker() == "D"]
        np.testing.assert_allclose(np.asarray(line.get_ydata()), totals)
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        by_year = np.zeros(len(totals))
        for b in bars:
            by_year[int(round(b.get_x() + b.get_width() / 2))] += b.get_height()
        # stacked agency bars (gains up, net costs down) add up to the total; tiny rows
        # (under £5k a year) are not drawn
        np.testing.assert_allclose(by_year, totals, atol=0.05)


def test_wrong_pocket_matrix_cells_are_the_attribution():
    comparison = shipped_comparison()
    for case in comparison.cases:
        fig = shipped_charts()[f"wrong_pocket_{case.scenario.name}"].figure
        ax = _visible_axes(fig)[0]
        (image,) = [im for im in ax.get_images() if isinstance(im, AxesImage)]
        block = case.attribution["cashable"]
        agencies = list(block["total"])
        data = np.asarray(image.get_array())
        for i, a in enumerate(block["investing_agencies"]):
            np.testing.assert_allclose(data[i], [block["matrix"][a][b] / 1e6 for b in agencies])
        assert data.shape[1] == len(agencies)
        invested = [t for t in ax.texts if t.get_gid() == "invested"]
        assert len(ax.texts) == data.size + len(invested) + 1  # every cell, the column and its head
        assert [t.get_text() for t in invested] == [
            style.pounds_m(block["pv_uplifted_costs"][a] / 1e6) for a in block["investing_agencies"]]
        assert ax.get_ylabel() == "Investment paid for by"


def test_plain_array_charts_check_their_inputs():
    with pytest.raises(ValueError):
        charts.who_pays_who_gains(["a", "b"], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        charts.wrong_pocket_matrix(np.zeros((2, 2)), ["a"], ["a", "b"])
    with pytest.raises(ValueError):
        charts.net_benefit_curve([1, 2, 3], {"x": [1.0, 2.0]})



# ---------------------------------------------------------------------------------------------
# Ensemble charts take plain arrays
# ---------------------------------------------------------------------------------------------


def test_fan_chart_draws_each_band_and_the_median():
    months = np.arange(1, 61)
    median = np.full(60, 1e6)
    bands = {"25th to 75th percentile": (median * 0.95, median * 1.05),
             "5th to 95th percentile": (median * 0.8, median * 1.2)}
    fig = charts.fan_chart(months, bands, median, title="Total spend", reference=("cf", median * 1.1),
                           start="2026-04")
    ax = _visible_axes(fig)[0]
    polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [p.get_label() for p in polys] == ["5th to 95th percentile", "25th to 75th percentile"]
    assert polys[0].get_alpha() < polys[1].get_alpha()  # wider band lighter
    lines = _data_lines(ax)
    assert [ln.get_label() for ln in lines] == ["Median", "cf"]
    np.testing.assert_allclose(lines[0].get_ydata(), median * 12 / 1e6)
    assert charts.chart_title(fig) == "Total spend"
    assert ax.get_xlabel() == "Months from April 2026"
    charts.figure_bytes(fig, "png")


def test_tornado_chart_puts_the_widest_swing_on_top():
    labels = ["small", "large", "middle"]
    low = np.array([-1e6, -5e6, -2e6])
    high = np.array([1e6, 6e6, 3e6])
    fig = charts.tornado_chart(labels, low, high, base=0.0)
    ax = _visible_axes(fig)[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["small", "middle", "large"]  # bottom to top
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 6
    assert ax.get_xlabel() == "Net present value, £m"
    charts.figure_bytes(fig, "png")


# ---------------------------------------------------------------------------------------------
# Style
# ---------------------------------------------------------------------------------------------


def test_agency_colours_are_fixed_distinct_and_colour_blind_safe():
    known = ["council_asc", "council_childrens", "council_public_health", "nhs_acute",
             "nhs_community", "police", "dwp"]
    a = style.agency_colours(known)
    b = style.agency_colours(list(reversed(known)) + ["housing_association", "fire"])
    assert all(a[k] == b[k] == style.AGENCY_COLOURS[k] for k in known)
    assert len(set(b.values())) == len(b)
    safe = set(style.OKABE_ITO.values()) | set(style.TOL_MUTED)
    assert set(b.values()) <= safe


def test_number_formats_use_thousands_separators_and_a_true_minus():
    assert style.thousands(12345.6) == "12,346"
    assert style.thousands(-1234.0) == "\u22121,234"
    assert style.pounds_m(-4.0) == "\u2212£4.0m"
    assert style.pounds_m(1234.5) == "£1,234.5m"
    assert style.money(2.5e9) == "£2.50bn"
    assert style.pounds_m_formatter()(250.0) == "£250m"
    assert style.thousands_formatter()(57600.0) == "57,600"


def test_series_titles_are_words_with_the_scenario_labels():
    from tpsim.config.scenario import load_scenario

    sc = load_scenario(Path(__file__).parents[1] / "scenarios" / "baseline.yaml")
    assert charts.series_title("spend.kind.reactive", sc) == "Reactive spend"
    assert charts.series_title("spend.total") == "Total public spend"
    police = charts.short_label(sc.data["agencies"]["police"]["label"])
    assert charts.series_title("spend.agency.police", sc) == f"Spend: {police}"
    assert charts.series_title("population.older_people.crisis", sc).startswith("People: ")
    assert charts.series_title("population.older_people.crisis", sc).endswith(", crisis")
    assert charts.series_title("no.such.series", sc) == "no.such.series"


# ---------------------------------------------------------------------------------------------
# The charts of ensembles, sensitivity and the DES (tpsim.present.charts_uncertainty, charts_des)
# ---------------------------------------------------------------------------------------------


def test_sobol_figure_draws_the_indices_largest_total_at_the_top():
    from tpsim.present.charts_uncertainty import sobol_figure

    r = {"first_order": np.array([0.1, 0.6]), "total_order": np.array([0.2, 0.7]),
         "first_order_ci": (np.array([0.05, 0.5]), np.array([0.15, 0.7])),
         "total_order_ci": (np.array([0.1, 0.6]), np.array([0.3, 0.8]))}
    fig = sobol_figure(["a", "b"], r, "NPV", "sc", "source line", 256)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # b (ST 0.7) on top
    widths = sorted(round(p.get_width(), 6) for p in ax.patches if isinstance(p, Rectangle))
    assert widths == [0.1, 0.2, 0.6, 0.7]
    texts = [t.get_text() for t in fig.texts]
    assert "Sobol indices: sc" in texts and "source line" in texts


def test_coarse_histogram_keeps_the_share_of_runs():
    from tpsim.present.charts_uncertainty import _coarse

    counts = np.zeros(202)
    counts[1:-1] = 1.0  # 200 regular bins, one run each
    centres, share = _coarse(counts, low=0.0, width=1.0, stats={}, target=50)
    assert share.sum() == pytest.approx(counts[1:-1].sum() / counts.sum(), abs=0.02)
    assert np.all(np.diff(centres) > 0) and 0 <= centres[0] < 5
    assert _coarse(np.zeros(12), 0.0, 1.0, {}) == (None, None)


def test_ensemble_figures_fan_each_tracked_series_and_histogram_each_metric():
    from tpsim.analysis import ensemble as en
    from tpsim.present.charts_uncertainty import ensemble_figures

    sc, cf = (load_scenario(SCENARIOS / f"{n}.yaml").replace(horizon=24)
              for n in ("pooled_prevention_uncertain", "siloed_squeeze"))
    job = en.prepare([sc], cf, runs=32, seed=1, series=("spend.total",))
    job.edges = en.pilot_edges(job)
    partial = en.run_ensemble(job, "local")
    summary = en.summarise(job, partial)
    figures = ensemble_figures(job, summary, partial, [sc], cf)
    assert set(figures) == {"fan_spend_total_pooled_prevention_uncertain",
                            "fan_spend_total_pooled_prevention_uncertain_vs_siloed_squeeze",
                            "hist_npv", "hist_bcr", "hist_payback"}
    assert "difference against the counterfactual" in charts.chart_title(
        figures["fan_spend_total_pooled_prevention_uncertain_vs_siloed_squeeze"])
    bars = [p for p in figures["hist_payback"].axes[0].patches if isinstance(p, Rectangle)]
    assert sum(b.get_height() for b in bars) == pytest.approx(1.0)  # shares of all runs


def test_savings_by_service_cells_are_the_shapley_values():
    from tpsim.present.documents import scenario_entry

    comparison = shipped_comparison()
    for case in comparison.cases:
        block = scenario_entry(case)["attribution_by_service"]["cashable"]
        fig = shipped_charts()[f"savings_by_service_{case.scenario.name}"].figure
        ax = _visible_axes(fig)[0]
        (image,) = [im for im in ax.get_images() if isinstance(im, AxesImage)]
        data = np.asarray(image.get_array())
        agencies = list(block["total"])
        for i, v in enumerate(block["services"]):
            np.testing.assert_allclose(data[i], [block["shapley"][v][a] / 1e6 for a in agencies])
        # with the not-attributed row, the columns add up to each agency's savings
        if data.shape[0] > len(block["services"]):
            np.testing.assert_allclose(data.sum(axis=0), [block["total"][a] / 1e6 for a in agencies],
                                       atol=1e-6)
        labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
        assert "Home-care reablement" in labels
