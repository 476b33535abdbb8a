"""Posterior draws files (``posterior.csv``): their format, reader and writer, and the joint
"distribution" an ``uncertainty: posterior:`` section draws from.

``tpsim calibrate --method bayes`` and ``tpsim learn`` write ``posterior.csv``; a scenario's
``uncertainty`` section may name one (docs/uncertainty.md), so ensembles and reports carry
what a pilot has learnt. The format (calibration/bayes.md)::

    # optional comment lines
    services.ae_older.utilisation.crisis,services.care_home_placements.unit_cost,log_posterior[,weight]
    0.2566,5374.0,-812.4
    ...

One row per draw; every column but ``log_posterior`` and ``weight`` is a dotted parameter path
with the draw's value in the parameter's own units; ``weight`` (>= 0, any scale) is present
for re-weighted draws and absent when the draws are equally weighted. A draw keeps all its
columns together, so the correlations the data induced are kept.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tpsim.errors import DataError

__all__ = ["PosteriorDraws", "WeightedDraws", "read_posterior_draws", "posterior_csv_text", "PosteriorColumn",
           "file_digest", "SPECIAL_COLUMNS"]

#: Columns of posterior.csv that are not parameter paths.
SPECIAL_COLUMNS = ("log_posterior", "weight")


class WeightedDraws:
    """What any set of weighted draws knows of itself: ``n`` and its weights summing to 1.
    The class using it holds ``draws`` (n x p) and ``weights`` (n,, or None for equal)."""

    @property
    def n(self) -> int:
        return int(self.draws.shape[0])

    @property
    def normalised_weights(self) -> np.ndarray:
        return normalised_weights(self.weights, self.n)


@dataclass(frozen=True)
class PosteriorDraws(WeightedDraws):
    """Draws read from a posterior file: ``names`` (dotted paths), ``draws`` (n x p, own
    units), ``log_posterior`` (n,; zeros when the file has none), ``weights`` (n,, summing to
    1, or None for equal weights) and the file they came from."""

    names: tuple[str, ...]
    draws: np.ndarray = field(repr=False)
    log_posterior: np.ndarray = field(repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)
    file: str = ""


def normalised_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    """Draw weights summing to 1 (equal weights when ``weights`` is None)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    return weights / weights.sum()


def posterior_csv_text(names: Sequence[str], draws: np.ndarray, log_posterior: np.ndarray,
                       weights: np.ndarray | None = None,
                       comments: Sequence[str] = ()) -> str:
    """The text of a posterior.csv (values with full precision, ``repr`` of floats)."""
    header = list(names) + ["log_posterior"]
    cols = [np.asarray(draws, dtype=float), np.asarray(log_posterior, dtype=float)[:, None]]
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        header.append("weight")
        cols.append((w / w.sum())[:, None])
    table = np.hstack(cols)
    lines = [f"# {c}" for c in comments] + [",".join(header)]
    lines += [",".join(repr(float(v)) for v in row) for row in table]
    return "\n".join(lines) + "\n"


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_posterior_draws(path: str | os.PathLike, known: Sequence[str] | None = None,
                         display: str | None = None) -> PosteriorDraws:
    """Read a posterior.csv. Raises :class:`~tpsim.errors.DataError` naming the file (and the
    line) for a missing or unreadable file, no rows, a column that is not one of ``known``
    (when given), a repeated column, a row of the wrong length, a value that is not a finite
    number, or weights that are negative or all zero."""
    return _read_cached(os.path.abspath(os.fspath(path)), _mtime(path),
                        None if known is None else tuple(known),
                        os.fspath(path) if display is None else display)


def _mtime(path) -> float:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1.0


@functools.lru_cache(maxsize=16)
def _read_cached(path: str, _mtime_ns: float, known: tuple[str, ...] | None,
                 display: str) -> PosteriorDraws:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            numbered = [(i, ln.strip()) for i, ln in enumerate(fh, start=1)]
    except FileNotFoundError:
        raise DataError("posterior draws file not found", file=display) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot be read: {err}", file=display) from None
    lines = [(i, ln) for i, ln in numbered if ln and not ln.startswith("#")]
    if len(lines) < 2:
        raise DataError("no posterior draws (expected a header and at least one row)",
                        file=display)
    header_line, header_text = lines[0]
    header = [h.strip() for h in header_text.split(",")]
    if len(set(header)) != len(header):
        raise DataError("a column is repeated in the header", file=display, line=header_line)
    names = [h for h in header if h not in SPECIAL_COLUMNS]
    if not names:
        raise DataError("no parameter columns (expected dotted parameter paths)", file=display,
                        line=header_line)
    if known is not None:
        for h in names:
            if h not in known:
                raise DataError(f"column '{h}' is not a parameter path of the scenario",
                                file=display, line=header_line)
    rows = []
    for i, ln in lines[1:]:
        parts = ln.split(",")
        if len(parts) != len(header):
            raise DataError(f"expected {len(header)} fields, got {len(parts)}", file=display,
                            line=i)
        try:
            row = [float(v) for v in parts]
        except ValueError:
            raise DataError("a value is not a number", file=display, line=i) from None
        if not all(np.isfinite(row)):
            raise DataError("a value is not finite", file=display, line=i)
        rows.append(row)
    table = np.array(rows)
    draws = table[:, [header.index(n) for n in names]]
    logp = table[:, header.index("log_posterior")] if "log_posterior" in header \
        else np.zeros(len(rows))
    weights = table[:, header.index("weight")] if "weight" in header else None
    if weights is not None:
        if np.any(weights < 0) or not weights.sum() > 0:
            raise DataError("weights must be >= 0 and not all 0", file=display)
        weights = weights / weights.sum()
    for a in (draws, logp) + ((weights,) if weights is not None else ()):
        a.setflags(write=False)
    return PosteriorDraws(tuple(names), draws, logp, weights, display)


@dataclass(frozen=True)
class PosteriorColumn:
    """One column of posterior draws as a "distribution" of the ensemble machinery.

    ``ppf(u)`` picks the draw at probability ``u`` of the weighted draw order (draw ``i`` takes
    the interval ``[W_{i-1}, W_i)`` of the cumulative weights), and returns this column of it.
    Every column of the same file is given the same ``u`` (one shared factor), so a run takes
    one whole draw: the joint posterior, correlations kept.
    """

    posterior: PosteriorDraws = field(repr=False)
    column: int
    spec: dict = field(default_factory=dict, compare=False)

    @property
    def dist(self) -> str:
        return "posterior"

    @functools.cached_property
    def _cumulative(self) -> np.ndarray:
        cum = np.cumsum(self.posterior.normalised_weights)
        cum[-1] = 1.0
        return cum

    def index(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        return np.searchsorted(self._cumulative, u, side="right").clip(0, self.posterior.n - 1)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.posterior.draws[self.index(u), self.column]

    def extremes(self) -> tuple[float, float]:
        live = self.posterior.draws[self.posterior.normalised_weights > 0, self.column]
        return float(live.min()), float(live.max())

    def median(self) -> float:
        return float(self.ppf(np.array([0.5]))[0])

    def describe(self) -> str:
        p = self.posterior
        return (f"posterior draws ({p.n}{' weighted' if p.weights is not None else ''}) of "
                f"{p.file}, column {p.names[self.column]}")
