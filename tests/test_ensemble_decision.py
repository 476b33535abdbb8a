"""The Bayesian decision judged on the NPSV (the default) or the fiscal NPV: the decision
draws are the ensemble's own per-run figures, and ``--metric`` chooses between them."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import make_tiny_scenario_dict
from tpsim.analysis import bayes, decision
from tpsim.analysis.learning import with_decision_metric
from tpsim.cli import main
from tpsim.config.calibration import load_config
from tpsim.config.scenario import scenario_from_dict

PATH = "services.residential_care.utilisation.high_need"


def scenarios():
    sc = make_tiny_scenario_dict()
    sc["name"] = "with_falls"
    sc["services"]["falls_prevention"]["places"] = 600.0
    cf = make_tiny_scenario_dict()
    cf["name"] = "without"
    cf["services"]["falls_prevention"]["places"] = 0.0
    return scenario_from_dict(sc), scenario_from_dict(cf)


def test_decision_draws_are_the_runs_npsv_or_fiscal_npv():
    option, against = scenarios()
    rng = np.random.default_rng(3)
    post = bayes.Posterior([PATH], rng.uniform(0.2, 0.4, (64, 1)), np.zeros(64))
    by = {m: decision.decision_draws(post, option, against, metric=m, runs=96, seed=4)
          for m in ("npsv", "fiscal_npv", "npv", "economic_npv")}
    # the same runs (same seed), read through their own column
    assert np.array_equal(by["fiscal_npv"].metric, by["npv"].metric)
    assert np.array_equal(by["npsv"].draw, by["fiscal_npv"].draw)
    # the tiny place values QALYs (value_qalys defaults to true): NPSV = economic NPV + QALY
    # value, and without transfers or employment the economic NPV adds only non-cashable
    # savings to the fiscal NPV, so NPSV > economic NPV >= fiscal NPV run by run
    assert (by["npsv"].metric > by["economic_npv"].metric).all()
    assert (by["economic_npv"].metric >= by["fiscal_npv"].metric - 1e-6).all()
    voi = decision.value_of_information(by["npsv"])
    assert voi["metric"] == "npsv"
    assert voi["probability_positive"] == pytest.approx(np.mean(by["npsv"].metric > 0))
    with pytest.raises(ValueError, match="npsv"):
        decision.decision_draws(post, option, against, metric="bcr", runs=8)


def test_default_metric_is_npsv_and_metric_overrides_it(tmp_path):
    for name in ("option", "against"):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump(make_tiny_scenario_dict() | {"name": name}), encoding="utf-8")
    (tmp_path / "data.csv").write_text("month,series,value\n2026-05,spend.total,190000\n",
                                       encoding="utf-8")
    raw = {"scenario": "option.yaml", "data": "data.csv",
           "parameters": {PATH: [0.1, 0.6]}, "series": {"spend.total": 1},
           "decision": {"option": "option.yaml", "against": "against.yaml"}}
    (tmp_path / "fit.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    cfg = load_config(tmp_path / "fit.yaml")
    assert cfg.decision.metric == "npsv"
    assert with_decision_metric(cfg, "fiscal_npv").decision.metric == "fiscal_npv"
    assert with_decision_metric(cfg, None) is cfg
    del raw["decision"]
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = CliRunner().invoke(main, ["learn", str(tmp_path / "plain.yaml"), "--posterior",
                                       str(tmp_path / "none.csv"), "--data",
                                       str(tmp_path / "data.csv"), "--metric", "npsv"])
    assert result.exit_code == 2 and "--metric" in result.output
    result = CliRunner().invoke(main, ["calibrate", str(tmp_path / "fit.yaml"), "--metric",
                                       "npsv"])
    assert result.exit_code == 2 and "--metric" in result.output
