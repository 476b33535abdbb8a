"""Who pays / who gains by preventive service: Shapley values by hand, sampled against exact,
and the identity value(none) + Σ Shapley = the scenario's savings on the shipped option."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.analysis import service_attribution as sa
from tpsim.analysis.appraisal import Accounts
from tpsim.analysis.comparison import appraise_comparison
from tpsim.config.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_two_services_by_hand():
    # value(T): savings of two agencies (£) with coalition T of services in place
    v = {frozenset(): np.array([1.0, 0.0]), frozenset("a"): np.array([4.0, 0.0]),
         frozenset("b"): np.array([1.0, 2.0]), frozenset("ab"): np.array([6.0, 4.0])}
    phi = sa.shapley_exact(["a", "b"], v)
    # phi_a = 1/2 (v(a) - v(0)) + 1/2 (v(ab) - v(b)) = 1/2 (3, 0) + 1/2 (5, 2) = (4, 1)
    np.testing.assert_allclose(phi["a"], [4.0, 1.0])
    # phi_b = 1/2 (v(b) - v(0)) + 1/2 (v(ab) - v(a)) = 1/2 (0, 2) + 1/2 (2, 4) = (1, 3)
    np.testing.assert_allclose(phi["b"], [1.0, 3.0])
    np.testing.assert_allclose(phi["a"] + phi["b"] + v[frozenset()], v[frozenset("ab")])


def _game(t: frozenset) -> np.ndarray:
    """Additive worths 3, 5, 7 plus an interaction of 4 when a and b are both in place."""
    worth = {"a": 3.0, "b": 5.0, "c": 7.0}
    return np.array([sum(worth[p] for p in t) + (4.0 if {"a", "b"} <= t else 0.0)])


def test_three_services_share_the_interaction_equally():
    players = ["a", "b", "c"]
    coalitions = [frozenset(s) for s in ("", "a", "b", "c", "ab", "ac", "bc", "abc")]
    phi = sa.shapley_exact(players, {t: _game(t) for t in coalitions})
    assert [float(phi[p][0]) for p in players] == pytest.approx([5.0, 7.0, 7.0])


def test_sampled_orderings_add_up_and_are_near_the_exact_values():
    calls = []

    def value(coalitions):
        calls.append(len(coalitions))
        return [_game(t) for t in coalitions]

    mean, se = sa.shapley_sampled(["a", "b", "c"], value, permutations=64, seed=1)
    assert len(calls) == 1  # every coalition needed in one call (one batched kernel call)
    assert sum(float(mean[p][0]) for p in mean) == pytest.approx(19.0)  # = value(abc) exactly
    assert float(se["c"][0]) == 0.0 and float(mean["c"][0]) == pytest.approx(7.0)
    for p, exact in (("a", 5.0), ("b", 7.0)):
        assert float(se[p][0]) > 0.0  # the interaction's share depends on the order
        assert abs(float(mean[p][0]) - exact) <= 4 * float(se[p][0])


@pytest.fixture(scope="module")
def pooled():
    cf = load_scenario(SCENARIOS / "siloed_squeeze.yaml").replace(horizon=48)
    sc = load_scenario(SCENARIOS / "pooled_prevention.yaml").replace(horizon=48)
    runs, (a,) = appraise_comparison([sc], cf)
    model = runs.models[a.index]
    args = (model, runs.counterfactual_model, sc.data, runs.batch.series(runs.counterfactual),
            Accounts.from_model(model, sc.data), a.settings)
    return a, args


def test_shapley_rows_and_the_part_not_attributed_add_up_to_the_savings(pooled):
    a, args = pooled
    out = sa.by_service(*args)
    for measure in ("cashable", "economic"):
        b = out[measure]
        assert b["method"] == "exact" and b["runs"] == 2 ** len(b["services"]) == 32
        assert b["total"] == pytest.approx(a.attribution[measure]["total"], rel=1e-12, abs=1e-6)
        for agency, total in b["total"].items():
            allocated = sum(b["shapley"][v][agency] for v in b["services"])
            assert allocated + b["not_attributed"][agency] == pytest.approx(total, rel=1e-9, abs=1e-3)
    assert set(out["cashable"]["funded_by"].values()) == {"pool"}


def test_sampled_shapley_agrees_with_exact_within_its_error(pooled, monkeypatch):
    a, args = pooled
    exact = sa.by_service(*args)["cashable"]
    monkeypatch.setattr(sa, "EXACT_MAX_SERVICES", 2)
    sampled = sa.by_service(*args)["cashable"]
    assert sampled["method"].startswith("sampled")
    for v in exact["services"]:
        for agency, phi in exact["shapley"][v].items():
            se = sampled["shapley_standard_error"][v][agency]
            assert abs(sampled["shapley"][v][agency] - phi) <= 4 * se + 1e-6 * max(1.0, abs(phi))
    for agency, total in exact["total"].items():
        allocated = sum(sampled["shapley"][v][agency] for v in exact["services"])
        assert allocated + sampled["not_attributed"][agency] == pytest.approx(total, rel=1e-9, abs=1e-3)
