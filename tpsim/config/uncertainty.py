"""Uncertain parameters: the ``uncertainty:`` section's schema and its distributions.

The section is validated here (by :func:`resolve_section`, called from
:mod:`tpsim.config.scenario`); the samplers, copula and plans that draw points live in
:mod:`tpsim.analysis.sampling`. The marginal distributions stay here because the validator
checks every parameter at the two extremes of its draws (``ppf(EPS)``, ``ppf(1 - EPS)``).
docs/uncertainty.md is the user's description; this docstring is the contract.

The section (validated by :func:`resolve_section`, called from :mod:`tpsim.config.scenario`)::

    uncertainty:
      parameters:
        services.falls_prevention.effect:            # any numeric parameter path
          dist: triangular                           # uniform | triangular | normal |
          low: 0.10                                  #   lognormal | beta | choice
          mode: 0.15
          high: 0.25
          source: cochrane_falls                     # optional: a sources id or a citation
        services.emergency_admissions.unit_cost:
          dist: normal
          mean: 1.0
          sd: 0.1
          low: 0.7                                   # optional truncation (normal, lognormal)
          relative: true                             # the draw multiplies the scenario's value
        services.falls_prevention.time_to_effect:
          dist: choice
          values: [3, 6, 9]
          weights: [1, 2, 1]                         # optional, default equal
          shared: false                              # each scenario draws its own (default true)
      correlations:
        - between: [services.falls_prevention.effect, services.reablement.effect]
          rho: 0.5                                   # Gaussian-copula correlation, in (-1, 1)

A draw is a point ``u`` of the unit hypercube, one coordinate per *factor*; a factor is one
uncertain path (shared by every scenario in a comparison, so differences are paired), or one
path in one scenario when ``shared: false``. Values are ``dist.ppf(u)``, with ``u`` clipped
to ``[EPS, 1 - EPS]`` so every value lies between the two extremes the validator checks.
"""
from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tpsim.config.parameters import get_path as _get_path
from tpsim.config.parameters import is_switch as _is_switch
from tpsim.config.parameters import parameter_paths as _parameter_paths
from tpsim.config.parameters import set_path as _set_path
from tpsim.config.parameters import unknown_parameter as _unknown_parameter
from tpsim.config.yamlio import MAX_MAGNITUDE, check_number
from tpsim.errors import ScenarioError
from tpsim.errors import describe as _describe
from tpsim.errors import suggest as _suggest

__all__ = [
    "EPS", "DISTRIBUTIONS", "Distribution", "distribution_from_spec", "resolve_section",
    "correlation_matrix", "positive_definite",
]

#: ``u`` is clipped to [EPS, 1 - EPS]: the extremes of a draw are ppf(EPS) and ppf(1 - EPS).
EPS = 1e-12
DISTRIBUTIONS = ("uniform", "triangular", "normal", "lognormal", "beta", "choice")

_SECTION_KEYS = ("parameters", "correlations", "posterior")
_COMMON_KEYS = ("dist", "relative", "shared", "source")
_DIST_KEYS = {
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd", "low", "high"),
    "lognormal": ("median", "sigma", "mean", "sd", "low", "high"),
    "beta": ("a", "b", "low", "high"),
    "choice": ("values", "weights"),
}
_CORRELATION_KEYS = ("between", "rho")


# ---------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """One marginal distribution, from a resolved spec (see the module docstring).

    ``ppf(u)`` maps points of (0, 1) to values in the parameter's units; normal and lognormal
    may be truncated to ``[low, high]`` (``u`` is then mapped into ``[F(low), F(high)]``).
    """

    dist: str
    spec: Mapping[str, Any] = field(compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_frozen", _frozen(self.dist, self.spec))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities ``u`` (clipped to [EPS, 1 - EPS]). A spread too wide for
        floats gives ``inf`` or ``nan`` quietly (no warning): the section's check of the
        extremes refuses such a distribution with one sentence."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            return self._ppf(u)

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), EPS, 1.0 - EPS)
        s = self.spec
        if self.dist == "uniform":
            return s["low"] + u * (s["high"] - s["low"])
        if self.dist == "choice":
            values = np.asarray(s["values"], dtype=float)
            return values[np.searchsorted(self._cumulative, u, side="right").clip(0, len(values) - 1)]
        frozen, (f_low, f_high) = self._frozen
        if f_low > 0.0 or f_high < 1.0:
            u = f_low + u * (f_high - f_low)
        out = frozen.ppf(u)
        if self.dist in ("normal", "lognormal"):  # keep truncation exact under rounding
            low = -np.inf if s.get("low") is None else s["low"]
            high = np.inf if s.get("high") is None else s["high"]
            out = np.clip(out, low, high)
        return out

    @property
    def _cumulative(self) -> np.ndarray:
        weights = np.asarray(self.spec.get("weights") or [1.0] * len(self.spec["values"]), float)
        cum = np.cumsum(weights) / weights.sum()
        cum[-1] = 1.0
        return cum

    def extremes(self) -> tuple[float, float]:
        """The lowest and highest value a draw can take."""
        if self.dist == "choice":
            values = np.asarray(self.spec["values"], float)
            weights = np.asarray(self.spec.get("weights") or [1.0] * len(values), float)
            live = values[weights > 0]
            return float(live.min()), float(live.max())
        low, high = self.ppf(np.array([0.0, 1.0]))
        return float(low), float(high)

    def median(self) -> float:
        return float(self.ppf(np.array([0.5]))[0])

    def describe(self) -> str:
        """A short text such as ``triangular(low=0.1, mode=0.15, high=0.25)``."""
        keys = [k for k in _DIST_KEYS[self.dist] if self.spec.get(k) is not None]
        parts = []
        for k in keys:
            v = self.spec[k]
            parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
        return f"{self.dist}({', '.join(parts)})"


def _frozen(dist: str, s: Mapping[str, Any]):
    """(scipy frozen distribution, (F(low), F(high))) for the continuous families."""
    if dist in ("uniform", "choice"):
        return None
    from scipy import stats  # here, not at import: loading a scenario need not pay ~0.5 s
    if dist == "triangular":
        width = s["high"] - s["low"]
        return stats.triang((s["mode"] - s["low"]) / width, loc=s["low"], scale=width), (0.0, 1.0)
    if dist == "beta":
        return stats.beta(s["a"], s["b"], loc=s["low"], scale=s["high"] - s["low"]), (0.0, 1.0)
    if dist == "normal":
        frozen = stats.norm(s["mean"], s["sd"])
    else:  # lognormal
        mu, sigma = _lognormal_mu_sigma(s)
        frozen = stats.lognorm(sigma, scale=math.exp(mu))
    f_low = 0.0 if s.get("low") is None else float(frozen.cdf(s["low"]))
    f_high = 1.0 if s.get("high") is None else float(frozen.cdf(s["high"]))
    return frozen, (f_low, f_high)


def _lognormal_mu_sigma(s: Mapping[str, Any]) -> tuple[float, float]:
    """(mu, sigma) of log X from ``median, sigma`` or from ``mean, sd`` of X."""
    if s.get("median") is not None:
        return math.log(s["median"]), float(s["sigma"])
    sigma2 = math.log1p((s["sd"] / s["mean"]) ** 2)
    return math.log(s["mean"]) - sigma2 / 2.0, math.sqrt(sigma2)


def distribution_from_spec(spec: Mapping[str, Any]) -> Distribution:
    """A :class:`Distribution` from one resolved parameter spec."""
    return Distribution(spec["dist"], dict(spec))


# ---------------------------------------------------------------------------------------------
# Validation of the section (called by tpsim.config.scenario)
# ---------------------------------------------------------------------------------------------

ErrorFactory = Callable[[str, str], ScenarioError]


def resolve_section(raw: Mapping, data: dict, error: ErrorFactory,
                    check: Callable[[dict], ScenarioError | None],
                    base_dir: str | None = None) -> dict:
    """The resolved ``uncertainty`` section of the resolved scenario ``data``.

    ``raw`` is the section as written (a mapping; empty when absent); ``error(key path,
    message)`` builds a located :class:`ScenarioError`; ``check(trial)`` re-validates a copy of
    ``data`` (without its uncertainty section) and returns the first error or None. Each
    parameter is checked at both extremes of its draws (for a relative draw: the scenario's
    value, and the values its ``changes`` set, times the extreme multipliers), then all
    parameters together at their low extremes and at their high extremes. Returns ``{}`` for
    an empty section, else ``{"parameters": {path: spec}, "correlations": [...]}`` and, when
    it names a posterior draws file (``posterior: FILE``, relative to ``base_dir``, the folder
    of the file that wrote the key), ``"posterior": {"file", "sha256", "paths", "draws"}``:
    every draw is checked at the draws holding each path's lowest and highest value.
    """
    if not raw:
        return {}
    for key in raw:
        if key not in _SECTION_KEYS:
            raise error(f"uncertainty.{key}", "unknown key" + _suggest(key, _SECTION_KEYS))
    paths = _parameter_paths(data)
    known = set(paths)
    params_raw = raw.get("parameters")
    if params_raw is None:
        params_raw = {}
    if not isinstance(params_raw, Mapping):
        raise error("uncertainty.parameters", "expected a mapping of parameter path -> "
                                              "distribution")
    parameters: dict[str, dict] = {}
    for path, spec_raw in params_raw.items():
        where = f"uncertainty.parameters.{path}"
        if not isinstance(path, str) or path not in known:
            raise error(where, _unknown_parameter(str(path), paths, data))
        if _is_switch(path):
            raise error(where, "switches cannot be uncertain (compare scenarios with the loop "
                               "on and off instead)")
        parameters[path] = _resolve_spec(spec_raw, where, error)
    correlations = _resolve_correlations(raw.get("correlations"), parameters, error)
    section = {"parameters": parameters, "correlations": correlations}
    posterior = None
    if raw.get("posterior") is not None:
        posterior = _resolve_posterior(raw["posterior"], parameters, paths, data, error, check,
                                       base_dir)
        section["posterior"] = posterior
    if not parameters and posterior is None:
        return {}
    if parameters:
        _check_extremes(section, data, error, check)
    return section


def _resolve_posterior(raw: Any, parameters: Mapping[str, dict], paths: Sequence[str],
                       data: dict, error: ErrorFactory,
                       check: Callable[[dict], ScenarioError | None],
                       base_dir: str | None) -> dict:
    """``posterior: FILE`` (or its resolved form ``{file: ...}``): read the draws, check their
    columns are fittable parameter paths not also given a distribution, and check the scenario
    at the draws that hold each path's extremes."""
    import os

    from tpsim.config.posterior import file_digest, read_posterior_draws
    from tpsim.errors import DataError

    where = "uncertainty.posterior"
    given = raw.get("file") if isinstance(raw, Mapping) else raw
    if not isinstance(given, str) or not given.strip():
        raise error(where, f"expected the path of a posterior draws file (posterior.csv), got "
                           f"{_describe(raw)}")
    target = given if os.path.isabs(given) else os.path.join(base_dir or ".", given)
    try:
        draws = read_posterior_draws(target, known=paths, display=os.path.normpath(target))
    except DataError as err:
        raise error(where, f"{err}") from None
    for name in draws.names:
        if name in parameters:
            raise error(where, f"{name} is both a column of the posterior draws and listed "
                               f"under uncertainty.parameters; give it one distribution")
        if _is_switch(name):
            raise error(where, f"{name} is a switch: a posterior cannot draw it")
    rows = set()
    live = np.flatnonzero(draws.normalised_weights > 0)
    for j in range(len(draws.names)):
        column = draws.draws[live, j]
        rows.update((int(live[np.argmin(column)]), int(live[np.argmax(column)])))
    for i in sorted(rows):
        trial = {k: copy.deepcopy(v) for k, v in data.items() if k != "uncertainty"}
        for j, name in enumerate(draws.names):
            _set_path(trial, name, float(draws.draws[i, j]))
        err = check(trial)
        if err is not None:
            raise error(where, f"draw {i + 1} of {os.path.normpath(target)} makes the scenario "
                               f"invalid ({err.key}: {err.message})")
    return {"file": os.path.abspath(target), "sha256": file_digest(target),
            "paths": list(draws.names), "draws": draws.n}


def _resolve_spec(raw: Any, where: str, error: ErrorFactory) -> dict:
    """One parameter's distribution at ``where``: its ``dist``, the numbers that distribution
    takes (in the parameter's units, or fractions of its value when ``relative``), and the
    common ``relative``, ``shared`` and ``source`` keys."""
    dist = _distribution_name(raw, where, error)

    def num(key: str, required: bool = True) -> float | None:
        if raw.get(key) is None:
            if required:
                raise error(f"{where}.{key}", f"required key is missing for a {dist} "
                                              f"distribution")
            return None
        return check_number(raw[key], f"{where}.{key}", error, magnitude=MAX_MAGNITUDE)

    spec: dict[str, Any] = {"dist": dist}
    spec.update(_DISTRIBUTION_READERS[dist](raw, where, num, error))
    spec.update(_common_spec_keys(raw, where, error))
    return spec


def _distribution_name(raw: Any, where: str, error: ErrorFactory) -> str:
    """The ``dist`` of a distribution mapping, after checking it lists only that dist's keys."""
    if not isinstance(raw, Mapping):
        raise error(where, f"expected a distribution (a mapping with dist: one of "
                           f"{', '.join(DISTRIBUTIONS)}), got {_describe(raw)}")
    if "dist" not in raw:
        raise error(f"{where}.dist", f"required key is missing (one of {', '.join(DISTRIBUTIONS)})")
    dist = raw["dist"]
    if dist not in DISTRIBUTIONS:
        raise error(f"{where}.dist", f"unknown distribution {dist!r}" + _suggest(str(dist),
                                                                              DISTRIBUTIONS))
    allowed = (*_COMMON_KEYS, *_DIST_KEYS[dist])
    for key in raw:
        if key not in allowed:
            raise error(f"{where}.{key}", f"unknown key for a {dist} distribution"
                        + _suggest(str(key), allowed))
    return dist


def _uniform_spec(raw: Mapping, where: str, num, error: ErrorFactory) -> dict:
    """``low`` < ``high``."""
    spec = {"low": num("low"), "high": num("high")}
    if not spec["low"] < spec["high"]:
        raise error(f"{where}.high", "must be greater than low")
    return spec


def _triangular_spec(raw: Mapping, where: str, num, error: ErrorFactory) -> dict:
    """``low`` <= ``mode`` <= ``high``, with ``low`` < ``high``."""
    spec = {"low": num("low"), "mode": num("mode"), "high": num("high")}
    if not spec["low"] < spec["high"]:
        raise error(f"{where}.high", "must be greater than low")
    if not spec["low"] <= spec["mode"] <= spec["high"]:
        raise error(f"{where}.mode", "must be between low and high")
    return spec


def _normal_spec(raw: Mapping, where: str, num, error: ErrorFactory) -> dict:
    """``mean`` and ``sd`` > 0, optionally truncated to [``low``, ``high``]."""
    spec = {"mean": num("mean"), "sd": num("sd")}
    if spec["sd"] <= 0:
        raise error(f"{where}.sd", "must be > 0")
    return _truncation(spec, "normal", where, num, error)


def _lognormal_spec(raw: Mapping, where: str, num, error: ErrorFactory) -> dict:
    """``median`` and ``sigma`` (of log X), or ``mean`` and ``sd`` (of X), all > 0,
    optionally truncated to [``low``, ``high``]."""
    if raw.get("median") is not None:
        if raw.get("mean") is not None or raw.get("sd") is not None:
            raise error(where, "give either median and sigma (of log X) or mean and sd "
                               "(of X), not both")
        spec = {"median": num("median"), "sigma": num("sigma")}
        if spec["median"] <= 0:
            raise error(f"{where}.median", "must be > 0")
        if spec["sigma"] <= 0:
            raise error(f"{where}.sigma", "must be > 0")
    else:
        if raw.get("sigma") is not None:
            raise error(f"{where}.sigma", "sigma goes with median (give median and "
                                          "sigma, or mean and sd)")
        if raw.get("mean") is None:
            raise error(where, "give median and sigma (of log X), or mean and sd (of X)")
        spec = {"mean": num("mean"), "sd": num("sd")}
        if spec["mean"] <= 0:
            raise error(f"{where}.mean", "must be > 0")
        if spec["sd"] <= 0:
            raise error(f"{where}.sd", "must be > 0")
    return _truncation(spec, "lognormal", where, num, error)


def _truncation(spec: dict, dist: str, where: str, num, error: ErrorFactory) -> dict:
    """``spec`` with its optional ``low``/``high`` truncation, which must keep some probability."""
    spec.update(low=num("low", False), high=num("high", False))
    if spec["low"] is not None and spec["high"] is not None and not spec["low"] < spec["high"]:
        raise error(f"{where}.high", "must be greater than low")
    _, (f_low, f_high) = _frozen(dist, {"dist": dist, **spec})
    if f_high - f_low < 1e-9:
        raise error(where, "the truncation interval [low, high] has (almost) no probability")
    return spec


def _beta_spec(raw: Mapping, where: str, num, error: ErrorFactory) -> dict:
    """Shapes ``a``, ``b`` > 0 on [``low``, ``high``] (default [0, 1])."""
    spec = {"a": num("a"), "b": num("b"), "low": num("low", False), "high": num("high", False)}
    spec["low"] = 0.0 if spec["low"] is None else spec["low"]
    spec["high"] = 1.0 if spec["high"] is None else spec["high"]
    for key in ("a", "b"):
        if spec[key] <= 0:
            raise error(f"{where}.{key}", "must be > 0")
    if not spec["low"] < spec["high"]:
        raise error(f"{where}.high", "must be greater than low")
    return spec


def _choice_spec(raw: Mapping, where: str, num, error: ErrorFactory) -> dict:
    """A non-empty list of ``values`` and optional ``weights`` (>= 0, positive sum)."""
    values = raw.get("values")
    if not isinstance(values, list) or not values:
        raise error(f"{where}.values", f"expected a non-empty list of numbers, got "
                                       f"{_describe(values)}")
    spec: dict[str, Any] = {"values": [_list_number(v, f"{where}.values.{i}", error)
                                       for i, v in enumerate(values)]}
    weights = raw.get("weights")
    if weights is None:
        spec["weights"] = None
        return spec
    if not isinstance(weights, list) or len(weights) != len(values):
        raise error(f"{where}.weights", f"expected a list of {len(values)} numbers "
                                        f"(one per value)")
    spec["weights"] = [_list_number(w, f"{where}.weights.{i}", error)
                       for i, w in enumerate(weights)]
    if min(spec["weights"]) < 0 or sum(spec["weights"]) <= 0:
        raise error(f"{where}.weights", "weights must be >= 0 with a positive sum")
    return spec


#: The reader of each distribution's own keys (after ``dist`` and the key names are checked).
_DISTRIBUTION_READERS = {"uniform": _uniform_spec, "triangular": _triangular_spec,
                         "normal": _normal_spec, "lognormal": _lognormal_spec,
                         "beta": _beta_spec, "choice": _choice_spec}


def _common_spec_keys(raw: Mapping, where: str, error: ErrorFactory) -> dict:
    """``relative`` (default false), ``shared`` (default true) and ``source`` (text or None)."""
    spec: dict[str, Any] = {}
    for key, default in (("relative", False), ("shared", True)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise error(f"{where}.{key}", f"expected true or false, got {_describe(value)}")
        spec[key] = value
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise error(f"{where}.source", f"expected text (a sources id or a citation), got "
                                       f"{_describe(source)}")
    spec["source"] = source
    return spec



def _list_number(value: Any, where: str, error: ErrorFactory) -> float:
    return check_number(value, where, error, magnitude=MAX_MAGNITUDE)


def _resolve_correlations(raw: Any, parameters: Mapping[str, dict],
                          error: ErrorFactory) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise error("uncertainty.correlations", "expected a list of {between: [path, path], "
                                                "rho: number}")
    out, seen = [], {}
    for index, item in enumerate(raw):
        where = f"uncertainty.correlations.{index}"
        if not isinstance(item, Mapping):
            raise error(where, "expected a mapping with between: [path, path] and rho")
        for key in item:
            if key not in _CORRELATION_KEYS:
                raise error(f"{where}.{key}", "unknown key" + _suggest(str(key),
                                                                       _CORRELATION_KEYS))
        between = item.get("between")
        if not isinstance(between, list) or len(between) != 2:
            raise error(f"{where}.between", "expected a list of two uncertain parameter paths")
        for j, path in enumerate(between):
            if path not in parameters:
                raise error(f"{where}.between.{j}", f"{path!r} is not listed under "
                                                    f"uncertainty.parameters"
                            + _suggest(str(path), list(parameters)))
        if between[0] == between[1]:
            raise error(f"{where}.between", "a parameter cannot be correlated with itself")
        rho = item.get("rho")
        if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not -1 < rho < 1:
            raise error(f"{where}.rho", f"expected a number in (-1, 1), got {_describe(rho)}")
        pair = tuple(sorted(between))
        if pair in seen:
            raise error(where, f"the pair is already correlated in correlations.{seen[pair]}")
        seen[pair] = index
        out.append({"between": [str(between[0]), str(between[1])], "rho": float(rho)})
    if out:
        names = list(parameters)
        matrix = correlation_matrix(names, out)
        if not positive_definite(matrix):
            raise error("uncertainty.correlations", "the correlations are inconsistent: their "
                                                    "matrix is not positive definite")
    return out


def _check_extremes(section: dict, data: dict, error: ErrorFactory,
                    check: Callable[[dict], ScenarioError | None]) -> None:
    """Every parameter at both extremes alone, then all together at low and at high."""
    parameters = section["parameters"]
    extremes = {path: distribution_from_spec(spec).extremes() for path, spec in parameters.items()}

    def trial(values: Mapping[str, tuple[float, str]]) -> dict:
        t = {k: copy.deepcopy(v) for k, v in data.items() if k != "uncertainty"}
        for path, (x, _) in values.items():
            spec = parameters[path]
            base = _get_path(t, path)
            _set_path(t, path, base * x if spec["relative"] else x)
            if spec["relative"]:
                for change in t["changes"]:
                    if path in change["set"]:
                        change["set"][path] = change["set"][path] * x
        return t

    def describe(path: str, x: float, which: str) -> str:
        spec = parameters[path]
        value = _get_path(data, path) * x if spec["relative"] else x
        what = (f"the {which} multiplier {x:.6g} gives {value:.6g}" if spec["relative"]
                else f"the {which} draw is {value:.6g}")
        return what

    for path, (low, high) in extremes.items():
        for x, which in ((low, "lowest"), (high, "highest")):
            err = check(trial({path: (x, which)}))
            if err is not None:
                raise error(f"uncertainty.parameters.{path}",
                            f"{describe(path, x, which)}, which is invalid ({err.key}: "
                            f"{err.message}); narrow or truncate the distribution")
    if len(extremes) > 1:
        for index, which in ((0, "lowest"), (1, "highest")):
            err = check(trial({p: (e[index], which) for p, e in extremes.items()}))
            if err is not None:
                raise error("uncertainty.parameters",
                            f"with every parameter at its {which} draw the scenario is invalid "
                            f"({err.key}: {err.message})")


def correlation_matrix(names: Sequence[str], correlations: Sequence[Mapping]) -> np.ndarray:
    """The correlation matrix of ``names`` from ``{between: [p, q], rho}`` items."""
    index = {n: i for i, n in enumerate(names)}
    matrix = np.eye(len(names))
    for c in correlations:
        i, j = index[c["between"][0]], index[c["between"][1]]
        matrix[i, j] = matrix[j, i] = c["rho"]
    return matrix


def positive_definite(matrix: np.ndarray) -> bool:
    """Whether ``matrix`` has a Cholesky factor (a valid correlation matrix)."""
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True

