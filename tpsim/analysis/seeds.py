"""One reading of a seed: an int, a ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``.

The sampling code (:mod:`tpsim.config.uncertainty`, :mod:`tpsim.analysis.sensitivity`) draws
block ``k`` from ``SeedSequence(seed, spawn_key=(k,))`` with an integer ``seed``, the number
``--seed`` gives on the command line and ensemble.json records. :func:`seed_entropy` turns any
accepted seed into that integer: an int is itself (so ``seed=7`` is exactly ``--seed 7``), a
root ``SeedSequence(7)`` is 7 too, a spawned SeedSequence is a 128-bit integer from its
generated state, and a Generator draws one 63-bit integer (advancing it, as any draw does).
"""
from __future__ import annotations

import numbers

import numpy as np

from tpsim.errors import TpsimError

__all__ = ["as_seed_sequence", "seed_entropy"]


def seed_entropy(seed) -> int:
    """The non-negative integer seed the sampling code takes; ``None`` is 0 (the CLI default)."""
    if seed is None:
        return 0
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63, dtype=np.int64))
    if isinstance(seed, np.random.SeedSequence):
        if not seed.spawn_key and isinstance(seed.entropy, numbers.Integral):
            return int(seed.entropy)
        words = seed.generate_state(4, np.uint32)
        return int(sum(int(w) << (32 * i) for i, w in enumerate(words)))
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise TpsimError(f"seed must be a non-negative int, a numpy.random.SeedSequence or a "
                     f"numpy.random.Generator (got {seed!r})")


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """The seed as a ``SeedSequence`` of :func:`seed_entropy` (``SeedSequence(7)`` for 7)."""
    return np.random.SeedSequence(seed_entropy(seed))
