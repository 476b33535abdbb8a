"""tpsim.output: atomic writes leave the old file or the new one and no temporary file; CSV
and JSON keep every digit and turn non-finite numbers into empty JSON values."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tpsim.output import (atomic_write_text, atomic_write_with, csv_text, json_text,
                          read_timeseries_csv, write_csv)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out" / "chart.png"
    atomic_write_text(target, "old")

    def broken(path):
        with open(path, "w") as fh:
            fh.write("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["chart.png"]


def test_csv_round_trips_every_digit(tmp_path):
    values = np.array([[0.1 + 0.2, 1e-300, 3.0], [math.pi, -2.5e17, 0.0]])
    path = write_csv(tmp_path / "t.csv", ["a", "b", "c"], values)
    back = read_timeseries_csv(path)
    np.testing.assert_array_equal(np.column_stack([back[k] for k in "abc"]), values)
    assert csv_text(["x"], [[3.0]]) == "x\n3\n"  # whole floats written as integers


def test_json_makes_numpy_plain_and_non_finite_null():
    text = json_text({"a": np.float64(1.5), "b": np.arange(2), "c": float("nan"),
                      "d": np.bool_(True), 4: [np.int64(7), float("inf")]})
    assert json.loads(text) == {"a": 1.5, "b": [0, 1], "c": None, "d": True, "4": [7, None]}
