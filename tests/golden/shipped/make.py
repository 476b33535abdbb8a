"""Regenerate the golden outputs of the shipped scenarios (tests/test_golden.py compares them).

Run from anywhere: ``python tests/golden/shipped/make.py``. Review the diff before committing:
a changed golden file is a changed answer, and the commit must say why.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from golden_outputs import produce, GOLDEN_FILES  # noqa: E402

if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        produced = produce(Path(tmp))
        for name in GOLDEN_FILES:
            (HERE / name).write_bytes(produced[name])
            print("wrote", HERE / name)
