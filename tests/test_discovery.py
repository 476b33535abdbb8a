"""Scenario discovery: the --where grammar, PRIM on a case with a known answer, CART, the
per-run table of ``tpsim ensemble --save-runs`` against the ensemble's own summary, and
``tpsim discover`` end to end."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tpsim.analysis import discovery as ds
from tpsim.analysis.where import parse_where
from tpsim.cli import main
from tpsim.errors import TpsimError

ROOT = Path(__file__).parents[1]
UNCERTAIN = str(ROOT / "scenarios" / "pooled_prevention_uncertain.yaml")
SQUEEZE = str(ROOT / "scenarios" / "siloed_squeeze.yaml")


# ---- the --where grammar ------------------------------------------------------------------


def test_where_parses_and_or_with_and_binding_tighter():
    w = parse_where("npv > 0 and payback <= 60 or bcr >= 1.5", ["npv", "payback", "bcr"])
    assert [[str(c) for c in clause] for clause in w.clauses] == [
        ["npv > 0", "payback <= 60"], ["bcr >= 1.5"]]
    cols = {"npv": np.array([1.0, -1.0, 1.0, 5.0]), "payback": np.array([50, 10, np.inf, 70]),
            "bcr": np.array([0.0, 2.0, 0.0, np.nan])}
    assert w.evaluate(cols).tolist() == [True, True, False, False]


def test_where_reads_signed_and_exponent_numbers():
    w = parse_where("npv>-2.5e6", ["npv"])
    assert w.clauses[0][0].value == -2.5e6 and w.clauses[0][0].op == ">"


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "npv > 0; import os", "npv > (1)", "npv", "npv >",
    "npv > 0 and", "and npv > 0", "npv > x", "x > 0", "npv > nan", "npv > 1e999",
    "npv.__class__ > 0", "npv > 0 or or bcr > 1", "npv = 0", "", "npv > 0 " * 100,
    "lambda: 0", "npv > 0 # comment"])
def test_where_refuses_anything_but_the_grammar(text):
    with pytest.raises(TpsimError) as err:
        parse_where(text, ["npv", "bcr"])
    assert err.value.key == "where"


def test_discover_refuses_unsafe_where_with_exit_2_naming_the_option(tmp_path):
    result = CliRunner().invoke(main, ["discover", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "64", "--horizon", "24", "--where",
                                       "__import__('os').system('touch x')",
                                       "--out", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output
    assert "--where" in result.output
    assert not (tmp_path / "d").exists()


# ---- PRIM: a synthetic case with a known answer ---------------------------------------------


def synthetic(n=20000, seed=3):
    """Inputs on different ranges; of interest exactly when x1 > 11 and x3 > 0.2."""
    rng = np.random.default_rng(seed)
    low = np.array([0.0, 5.0, -3.0, -1.0, 100.0])
    high = np.array([1.0, 15.0, 3.0, 1.0, 300.0])
    x = low + rng.random((n, 5)) * (high - low)
    y = (x[:, 1] > 11.0) & (x[:, 3] > 0.2)
    return x, y, low, high


def test_prim_recovers_both_thresholds_within_5_percent_of_their_ranges():
    x, y, low, high = synthetic()
    found = ds.analyse(x, y, [f"x{j}" for j in range(5)])
    box = found.box
    assert set(found.restricted[:2]) == {1, 3}
    assert abs(box.low[1] - 11.0) <= 0.05 * (high[1] - low[1])
    assert abs(box.low[3] - 0.2) <= 0.05 * (high[3] - low[3])
    # the box is one-sided on both: the upper limits are the sampled maxima
    assert box.high[1] == found.result.sample_high[1] and box.high[3] == found.result.sample_high[3]
    assert box.density >= 0.95 and box.coverage >= 0.9
    # the real restrictions are significant; any other is not part of the answer
    assert found.p_values[1] < 1e-6 and found.p_values[3] < 1e-6
    assert set(found.restricted) - {1, 3} == set() or all(
        found.p_values[j] > 1e-3 for j in set(found.restricted) - {1, 3})


def test_trajectory_starts_with_every_run_and_density_rises_as_boxes_shrink():
    x, y, _, _ = synthetic(5000)
    r = ds.prim(x, y)
    coverage, density = r.curve()
    assert coverage[0] == 1.0 and density[0] == pytest.approx(y.mean())
    assert r.boxes[-1].mass >= ds.MASS_MIN * 0.9
    assert np.all(np.diff([b.n for b in r.boxes]) < 0)
    # every box's figures are what its limits hold
    for b in r.boxes[:: max(1, len(r.boxes) // 5)]:
        inside = b.contains(x)
        assert inside.sum() == b.n and y[inside].sum() == b.n_interest


def test_quasi_p_value_is_the_binomial_tail_against_the_box_without_the_restriction():
    from scipy import stats

    x, y, _, _ = synthetic(4000)
    found = ds.analyse(x, y, [f"x{j}" for j in range(5)])
    b, r = found.box, found.result
    j = found.restricted[0]
    lo, hi = b.low.copy(), b.high.copy()
    lo[j], hi[j] = r.sample_low[j], r.sample_high[j]
    wider = np.all((x >= lo) & (x <= hi), axis=1)
    expected = stats.binom.sf(b.n_interest - 1, b.n, y[wider].mean())
    assert found.p_values[j] == pytest.approx(expected, rel=1e-12)


def test_choose_box_by_index_and_refuses_one_off_the_trajectory():
    x, y, _, _ = synthetic(3000)
    r = ds.prim(x, y)
    assert ds.choose_box(r, 0) == 0 and ds.choose_box(r, -1) == len(r.boxes) - 1
    with pytest.raises(TpsimError) as err:
        ds.choose_box(r, len(r.boxes))
    assert err.value.key == "box"


def test_cart_view_finds_the_same_two_thresholds():
    pytest.importorskip("sklearn")
    x, y, low, high = synthetic(8000)
    cart = ds.cart_rules(x, y, [f"x{j}" for j in range(5)], max_depth=2)
    top = cart["leaves"][0]
    assert top["density"] == 1.0 and top["coverage"] == pytest.approx(1.0)
    limits = {c["input"]: c["value"] for c in top["conditions"]}
    assert abs(limits["x1"] - 11.0) < 0.01 * 10 and abs(limits["x3"] - 0.2) < 0.01 * 2


def test_box_words_name_the_side_and_relative_draws():
    from tpsim.present.discovery import limit_words

    assert limit_words("a.effect", 0.27, 1.0, 0.0, 1.0) == "a.effect at least 0.27"
    assert limit_words("u", 0.0, 1.19, 0.0, 2.0, relative=True) == \
        "u at most 1.19x the scenario's value"
    assert limit_words("t", 2, 5, 0, 9) == "t between 2 and 5"


# ---- per-run table and the command -----------------------------------------------------------


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "e"
    result = CliRunner().invoke(main, ["ensemble", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "700", "--horizon", "72", "--seed", "4", "--no-charts",
                                       "--save-runs", "runs/all.csv.gz", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "ensemble.json").read_text()), pd.read_csv(out / "runs" / "all.csv.gz")


def test_save_runs_table_equals_the_ensemble_summary(saved_runs):
    document, runs = saved_runs
    name = "pooled_prevention_uncertain"
    results = document["results"][name] if "results" in document else document[name]
    assert len(runs) == 700 and runs["run"].tolist() == list(range(700))
    assert set(runs["option"]) == {name}
    for metric in ("npv", "npv_parliament", "bcr"):
        col = runs[metric].dropna()
        assert results[metric]["runs"] == len(col)
        assert col.mean() == pytest.approx(results[metric]["mean"], rel=1e-9)
        assert col.min() == results[metric]["min"] and col.max() == results[metric]["max"]
        assert col.std(ddof=1) == pytest.approx(results[metric]["sd"], rel=1e-6)
    assert (runs["npv"] > 0).mean() == pytest.approx(results["probability_beats_counterfactual"])
    pay = results["payback"]
    assert runs["payback"].isna().mean() == pytest.approx(pay["probability_never"])
    for month, p in pay["probability_by_month"].items():
        assert (runs["payback"] == int(month)).mean() == pytest.approx(p)


def test_save_runs_inputs_are_the_sampled_distributions(saved_runs):
    document, runs = saved_runs
    effect = runs["services.falls_prevention.effect"]
    assert effect.between(0.05, 0.23).all() and effect.std() > 0.01  # triangular 0.05-0.23
    assert "section_114" in runs and "section_114.council_asc" in runs
    s114 = runs[[c for c in runs if c.startswith("section_114.")]].min(axis=1, skipna=True)
    assert (s114.fillna(-1) == runs["section_114"].fillna(-1)).all()


def test_save_runs_outside_the_output_folder_is_refused(tmp_path):
    for bad in ("../outside.csv.gz", str(tmp_path / "abs.csv.gz")):
        result = CliRunner().invoke(main, ["ensemble", UNCERTAIN, "--against", SQUEEZE,
                                           "--runs", "8", "--horizon", "12", "--no-charts",
                                           "--save-runs", bad, "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and "--save-runs" in result.output
        assert not (tmp_path / "o").exists() and not (tmp_path / "outside.csv.gz").exists()


def test_discover_command_writes_discovery_json_and_charts(tmp_path):
    out = tmp_path / "d"
    result = CliRunner().invoke(main, ["discover", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "1500", "--horizon", "72", "--where",
                                       "npv_parliament > -22.7e6", "--save-runs", "runs.csv.gz",
                                       "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "discovery.json").read_text())
    assert doc["runs"] == 1500 and 0 < doc["runs_of_interest"] < 1500
    box = doc["prim"]["box"]
    assert box["restrictions"] and all(0 <= r["quasi_p_value"] <= 1 for r in box["restrictions"])
    assert doc["prim"]["trajectory"][0]["coverage"] == 1.0
    for stem in ("discovery_tradeoff", "discovery_box", "discovery_scatter"):
        assert (out / f"{stem}.png").stat().st_size > 1000
    runs = pd.read_csv(out / "runs.csv.gz")
    assert runs["of_interest"].sum() == doc["runs_of_interest"]
    assert (runs["of_interest"] == (runs["npv_parliament"] > -22.7e6)).all()
    # --within parliament reads npv as its Parliament value: the same runs of interest
    within = CliRunner().invoke(main, ["discover", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "1500", "--horizon", "72", "--where", "npv > -22.7e6",
                                       "--within", "parliament", "--no-charts", "--out",
                                       str(tmp_path / "w")], catch_exceptions=False)
    assert within.exit_code == 0, within.output
    assert json.loads((tmp_path / "w" / "discovery.json").read_text())["runs_of_interest"] == \
        doc["runs_of_interest"]
    # and npsv as the NPSV over the Parliament, a column of the saved runs
    threshold = float(runs["npsv_parliament"].median())
    social = CliRunner().invoke(main, ["discover", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "1500", "--horizon", "72", "--where",
                                       f"npsv > {threshold!r}", "--within", "parliament",
                                       "--no-charts", "--out", str(tmp_path / "s")],
                                catch_exceptions=False)
    assert social.exit_code == 0, social.output
    assert json.loads((tmp_path / "s" / "discovery.json").read_text())["runs_of_interest"] == \
        int((runs["npsv_parliament"] > threshold).sum())
    assert not np.allclose(runs["npsv_parliament"], runs["npsv"])
