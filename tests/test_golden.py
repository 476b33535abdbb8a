"""The shipped scenarios' outputs equal the golden files (numbers to 1e-12 relative).

A refactor must not change an answer; a deliberate change regenerates the files with
``python tests/golden/shipped/make.py`` and says why in its commit.
"""
from __future__ import annotations

import pytest

from conftest import GENERATED_KERNEL
from golden_outputs import GOLDEN, GOLDEN_FILES, compare_file, produce

pytestmark = pytest.mark.xdist_group(GENERATED_KERNEL)   # see tests/conftest.py


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:   # the kernel users run (conftest picks generic)
        mp.delenv("TPSIM_KERNEL", raising=False)
        return produce(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_matches_golden(produced, name):
    golden = (GOLDEN / name).read_bytes()
    diffs = compare_file(name, produced[name], golden)
    assert not diffs, f"{name} differs from the golden file in {len(diffs)} places:\n" + "\n".join(diffs[:30])
