"""Sensitivity: Sobol indices of functions with known variance shares, one-at-a-time swings,
and the ``tpsim sensitivity`` command."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tpsim.analysis import sensitivity as sa
from tpsim.cli import main
from tpsim.output import MARKER
from test_ensemble import write_pair


def test_sobol_recovers_the_variance_shares_of_an_additive_function():
    # y = sum a_i x_i with x_i ~ U(0, 1): Var = sum a_i^2 / 12, so S1_i = ST_i = a_i^2 / sum a^2
    a = np.array([1.0, 2.0, 3.0, 0.0])
    shares = a ** 2 / np.sum(a ** 2)
    result = sa.sobol(lambda u: {"y": u @ a}, 4, ["y"], n=2048, seed=1, n_resamples=50)
    assert result["runs"] == 2048 * (4 + 2)
    assert np.allclose(result["y"]["first_order"], shares, atol=0.02)
    assert np.allclose(result["y"]["total_order"], shares, atol=0.02)


def test_sobol_separates_interaction_from_first_order_effects():
    # y = x1 + x2 + x1 x2 (x ~ U(0, 1)) has an interaction: ST > S1 for both factors.
    # Var(x1 (1 + x2)) parts: V1 = Var_x1(E[y|x1]) = (1.5)^2/12, V12 = 1/144
    result = sa.sobol(lambda u: {"y": u[:, 0] + u[:, 1] + u[:, 0] * u[:, 1]}, 2, ["y"],
                      n=2048, seed=2, n_resamples=50)
    v1 = 1.5 ** 2 / 12
    v12 = 1 / 144
    total = 2 * v1 + v12
    assert np.allclose(result["y"]["first_order"], v1 / total, atol=0.02)
    assert np.allclose(result["y"]["total_order"], (v1 + v12) / total, atol=0.02)


def test_sobol_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        sa.sobol(lambda u: {"y": u[:, 0]}, 1, ["y"], n=100)


def test_one_at_a_time_swings_each_factor_alone():
    result = sa.one_at_a_time(lambda u: {"y": 10 * u[:, 0] - u[:, 1]}, 3, swing=0.1)
    assert result["base"]["y"] == pytest.approx(4.5)
    assert np.allclose(result["low"]["y"], [0.5, 4.9, 4.5])
    assert np.allclose(result["high"]["y"], [8.5, 4.1, 4.5])


@pytest.mark.parametrize("method, files", [
    ("oat", {"sensitivity.json", "tornado.csv", "tornado_npv.png", "tornado_reactive_spend.png"}),
    ("sobol", {"sensitivity.json", "sobol.csv", "sobol_npv.png", "sobol_reactive_spend.png"}),
])
def test_cli_sensitivity(tmp_path, method, files):
    sc, cf = write_pair(tmp_path)
    out = tmp_path / method
    result = CliRunner().invoke(main, ["sensitivity", sc, "--against", cf, "--method", method,
                                       "--n", "16", "--month", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == files | {MARKER}
    document = json.loads((out / "sensitivity.json").read_text())
    assert len(document["factors"]) == 4
    if method == "oat":
        swings = document["swings"]["npv"]
        assert [s["swing"] for s in swings] == sorted((s["swing"] for s in swings), reverse=True)
        effect = next(s for s in swings if s["factor"] == "services.falls_prevention.effect")
        assert effect["output_at_high"] > effect["output_at_low"]  # more effect, more savings
    else:
        assert document["runs"] == 16 * (4 + 2)
        assert {e["factor"] for e in document["indices"]["npv"]} == {
            f["factor"] for f in document["factors"]}
    bad = CliRunner().invoke(main, ["sensitivity", sc, "--against", cf, "--month", "99",
                                    "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "beyond the horizon" in bad.output
