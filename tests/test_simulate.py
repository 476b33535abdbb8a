"""tpsim.models.simulate: argument checks, recording choices and buffer reuse."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import make_tiny_scenario_dict
from tpsim.config.scenario import scenario_from_dict
from tpsim.models.simulate import Buffers, simulate
from tpsim.models.structure import compile_scenario


@pytest.fixture(scope="module")
def model():
    return compile_scenario(scenario_from_dict(make_tiny_scenario_dict()))


def test_default_is_one_run_of_the_base_parameters(model):
    raw = simulate(model)
    assert raw.final.shape == (1, model.nstate)
    assert raw.trajectory.shape == (1, model.n_months + 1, model.nstate)
    np.testing.assert_array_equal(raw.theta, model.theta(1))


def test_recording_a_subset_gives_those_columns_of_the_full_record(model):
    theta = model.theta(3)
    full = simulate(model, theta)
    some = np.array([0, 5, model.nstate - 1])
    part = simulate(model, theta, record=some)
    np.testing.assert_array_equal(part.trajectory, full.trajectory[:, :, some])
    none = simulate(model, theta, record=False)
    assert none.trajectory.shape[2] == 0
    np.testing.assert_array_equal(none.final, full.final)


def test_wrong_parameter_count_is_refused(model):
    with pytest.raises(ValueError, match="columns"):
        simulate(model, np.zeros((2, model.nparam + 1)))


def test_buffers_are_reused_and_give_the_same_numbers(model):
    theta = model.theta(4)
    theta[1, 0] *= 1.1
    fresh = simulate(model, theta)
    buffers = Buffers()
    first = simulate(model, theta, out=buffers)
    again = simulate(model, theta[:2], out=buffers)
    np.testing.assert_array_equal(again.final, fresh.final[:2])
    assert np.shares_memory(first.final, again.final)
