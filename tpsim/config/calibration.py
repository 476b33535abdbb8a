"""Read and validate a calibration config: what to fit, against which data, and how.

The format is documented in ``calibration/config-format.md``. The file is read with the one
YAML reader (:func:`tpsim.config.yamlio.read_yaml`: ``scale: 1.0e6`` is a number, a key given
twice is an error); every problem raises :class:`ConfigError` naming the file, the dotted key
path and the line. This module knows nothing of fitting (``tpsim.analysis.calibration``) or of
the local data CSV (:mod:`tpsim.config.localdata`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpsim.config.yamlio import Location, check_number, file_problem, locate, read_yaml
from tpsim.errors import TpsimError
from tpsim.errors import describe as _describe
from tpsim.errors import suggest as _suggest

__all__ = ["ConfigError", "ParameterSpec", "SeriesSpec", "FitSettings", "CalibrationConfig",
           "PriorSpec", "BayesSettings", "DecisionSpec", "PRIOR_KEYS", "load_config",
           "config_from_dict"]

class ConfigError(TpsimError):
    """A calibration config file is invalid (names the file, the key path and the line)."""


@dataclass(frozen=True)
class ParameterSpec:
    """A parameter to fit: its dotted scenario path, bounds and optional start value
    (in the parameter's own units)."""

    path: str
    lower: float
    upper: float
    initial: float | None = None


@dataclass(frozen=True)
class SeriesSpec:
    """A series to match: its weight (relative, >= 0) and optional scale (series' units) that
    residuals are divided by; None means the mean absolute observed value."""

    name: str
    weight: float = 1.0
    scale: float | None = None


@dataclass(frozen=True)
class FitSettings:
    """How to fit (see calibration/config-format.md)."""

    starts: int = 4                   # local least-squares fits
    candidates: int = 64              # Sobol points screened in one batched kernel call
    seed: int = 0
    max_evaluations: int = 100        # residual evaluations per local fit (least_squares max_nfev)
    tolerance: float = 1e-10          # ftol, xtol and gtol of least_squares
    standard_errors: str = "scaled"   # scaled (by the residual variance) | absolute
    correlation_warning: float = 0.9  # |correlation| flagged as a sign of non-identifiability


@dataclass(frozen=True)
class CalibrationConfig:
    """A validated calibration config; paths are resolved relative to the config file."""

    file: str
    scenario_path: Path
    data_path: Path
    parameters: tuple[ParameterSpec, ...]
    series: tuple[SeriesSpec, ...] | None
    fit: FitSettings
    name: str | None = None
    title: str | None = None
    lines: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)
    priors: Mapping[str, "PriorSpec"] = field(default_factory=dict)   # Bayesian keys, below
    bayes: "BayesSettings" = field(default_factory=lambda: BayesSettings())
    decision: "DecisionSpec | None" = None

    def error(self, key: tuple | str, message: str) -> ConfigError:
        """A :class:`ConfigError` for ``key`` (a tuple of keys, or a dotted string)."""
        return _config_error(self.file, self.lines, key, message)

    def located(self, key: tuple | str) -> bool:
        """Whether the file gives ``key`` itself (so an error can point at its line)."""
        return _key_text(key) in self.lines


_CONFIG_KEYS = ("scenario", "data", "name", "title", "description", "parameters", "series", "fit",
                "decision")
_PARAMETER_KEYS = ("lower", "upper", "initial", "prior")
_SERIES_KEYS = ("weight", "scale")
_FIT_KEYS = ("starts", "candidates", "seed", "max_evaluations", "tolerance", "standard_errors",
             "correlation_warning", "bayes")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _key_text(key: tuple | str) -> str:
    return key if isinstance(key, str) else ".".join(str(k) for k in key)


def _config_error(file: str, lines: Mapping[str, Location], key: tuple | str,
                  message: str) -> ConfigError:
    """The error at ``key``, on the line of the key or of its nearest given ancestor."""
    text = _key_text(key)
    where = locate(lines, text)
    return ConfigError(message, file=file, key=text or None,
                       line=where[1] if where is not None else None)


def load_config(path: str | os.PathLike) -> CalibrationConfig:
    """Read and validate the calibration config (YAML) at ``path``.

    Checks the structure, types and ranges, and that the scenario and data files exist.
    Whether the parameters exist in the scenario is checked when the scenario is known
    (:func:`tpsim.analysis.calibration.resolve_parameters`).
    """
    path = Path(path)
    display = os.fspath(path)
    problem = file_problem(path, "calibration config file")
    if problem:
        raise ConfigError(problem, file=display)
    document = read_yaml(path, display, ConfigError)
    return config_from_dict(document.data, display, path.parent, document.locations)


def config_from_dict(raw: Any, file: str = "<config>", base_dir: str | os.PathLike = ".",
                     lines: Mapping[str, Location] | None = None) -> CalibrationConfig:
    """Validate a config given as a dict; ``scenario`` and ``data`` are relative to
    ``base_dir``; ``lines`` maps dotted key paths to locations (from the YAML reader)."""
    lines = dict(lines or {})
    base = Path(base_dir)

    def err(key: tuple, message: str) -> ConfigError:
        return _config_error(file, lines, key, message)

    _check_top_keys(raw, err)
    scenario_path = _required_file(raw, "scenario", "scenario file", base, err)
    data_path = _required_file(raw, "data", "local data file", base, err)
    name, title = _name_and_title(raw, err)
    parameters = _parameter_specs(raw, err)
    series = _series_specs(raw.get("series"), err)
    fit = _fit_settings(raw.get("fit"), err)
    priors, bayes, decision = _bayesian_keys(raw, raw["parameters"], parameters, base, err)
    return CalibrationConfig(file=file, scenario_path=scenario_path, data_path=data_path,
                             parameters=parameters, series=series, fit=fit, name=name,
                             title=title, lines=lines, priors=priors, bayes=bayes,
                             decision=decision)


def _check_top_keys(raw: Any, err) -> None:
    """Refuse a config that is not a mapping, or that has a key the format does not know."""
    if not isinstance(raw, Mapping):
        raise err((), "a calibration config must be a mapping of keys (scenario, data, "
                      "parameters, ...)")
    for key in raw:
        if key not in _CONFIG_KEYS:
            raise err((str(key),), "unknown key" + _suggest(str(key), _CONFIG_KEYS))


def _existing_file(value: Any, key: tuple, what: str, base: Path, err) -> Path:
    """The file a path value names, relative to ``base`` unless absolute; it must exist."""
    if not isinstance(value, str) or not value.strip():
        raise err(key, f"expected a {what} path, got {_describe(value)}")
    target = Path(value) if Path(value).is_absolute() else base / value
    if not target.is_file():
        raise err(key, f"{what} not found: {os.fspath(target)}")
    return target


def _required_file(raw: Mapping, key: str, what: str, base: Path, err) -> Path:
    """The file named by the required top-level ``key`` (``scenario`` or ``data``)."""
    if key not in raw:
        raise err((key,), f"required key is missing (the {what}, relative to this file)")
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise err((key,), f"expected a file path, got {_describe(value)}")
    return _existing_file(value, (key,), what, base, err)


def _name_and_title(raw: Mapping, err) -> tuple[str | None, str | None]:
    """The optional ``name`` (a safe scenario name), ``title`` and ``description`` (text)."""
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
        raise err(("name",), f"expected a scenario name (letters, digits, _ . -), got "
                             f"{_describe(name)}")
    title = raw.get("title")
    if title is not None and not isinstance(title, str):
        raise err(("title",), f"expected text, got {_describe(title)}")
    if raw.get("description") is not None and not isinstance(raw["description"], str):
        raise err(("description",), f"expected text, got {_describe(raw['description'])}")
    return name, title


def _parameter_specs(raw: Mapping, err) -> tuple[ParameterSpec, ...]:
    """The ``parameters`` to fit: dotted path -> ``{lower, upper, initial}`` or
    ``[lower, upper]`` (bounds in the parameter's own units)."""
    if "parameters" not in raw:
        raise err(("parameters",), "required key is missing (the parameters to fit, with bounds)")
    params_raw = raw["parameters"]
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise err(("parameters",), "expected a mapping of dotted parameter paths to bounds, "
                                   "e.g. services.falls_prevention.effect: {lower: 0, upper: 0.5}")
    return tuple(_parameter_spec(str(p_path), spec, err) for p_path, spec in params_raw.items())


def _parameter_spec(p_path: str, spec: Any, err) -> ParameterSpec:
    """One parameter's bounds and optional start; ``lower < upper`` and the start within."""
    key = ("parameters", p_path)
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if len(spec) != 2:
            raise err(key, "bounds as a list must be [lower, upper]")
        spec = {"lower": spec[0], "upper": spec[1]}
    if not isinstance(spec, Mapping):
        raise err(key, f"expected {{lower: ..., upper: ...}} or [lower, upper], got "
                       f"{_describe(spec)}")
    for k in spec:
        if k not in _PARAMETER_KEYS:
            raise err(key + (str(k),), "unknown key" + _suggest(str(k), _PARAMETER_KEYS))
    values = {}
    for k in ("lower", "upper", "initial"):
        if k not in spec:
            if k == "initial":
                values[k] = None
                continue
            raise err(key + (k,), "required key is missing (a number)")
        values[k] = _config_number(spec[k], key + (k,), err)
    if not values["lower"] < values["upper"]:
        raise err(key, f"lower ({values['lower']:g}) must be below upper "
                       f"({values['upper']:g})")
    if values["initial"] is not None and not values["lower"] <= values["initial"] \
            <= values["upper"]:
        raise err(key + ("initial",), f"initial ({values['initial']:g}) must lie within "
                                      f"[{values['lower']:g}, {values['upper']:g}]")
    return ParameterSpec(p_path, values["lower"], values["upper"], values["initial"])


def _series_specs(series_raw: Any, err) -> tuple[SeriesSpec, ...] | None:
    """The ``series`` to match: a list of names, or name -> weight | {weight, scale} | null;
    None (every series in the data) when the key is left out."""
    if series_raw is None:
        return None
    items: list[tuple[str, Any, tuple]] = []
    if isinstance(series_raw, Mapping):
        items = [(str(k), v, ("series", str(k))) for k, v in series_raw.items()]
    elif isinstance(series_raw, Sequence) and not isinstance(series_raw, str):
        for i, v in enumerate(series_raw):
            if not isinstance(v, str):
                raise err(("series", i), f"expected a series name, got {_describe(v)}")
            items.append((v, None, ("series", i)))
    else:
        raise err(("series",), "expected a mapping of series names to weights (or a list "
                               "of series names)")
    if not items:
        raise err(("series",), "lists no series; leave it out to match every series in "
                               "the data")
    series = []
    names_seen: set[str] = set()
    for s_name, spec, key in items:
        if s_name in names_seen:
            raise err(key, f"series {s_name} is listed twice")
        names_seen.add(s_name)
        series.append(_series_spec(s_name, spec, key, err))
    if not any(s.weight > 0 for s in series):
        raise err(("series",), "every series has weight 0: nothing to fit")
    return tuple(series)


def _series_spec(s_name: str, spec: Any, key: tuple, err) -> SeriesSpec:
    """One series' weight (relative, >= 0) and optional scale (> 0, the series' units)."""
    weight, scale = 1.0, None
    if isinstance(spec, Mapping):
        for k in spec:
            if k not in _SERIES_KEYS:
                raise err(key + (str(k),), "unknown key" + _suggest(str(k), _SERIES_KEYS))
        if "weight" in spec:
            weight = _config_number(spec["weight"], key + ("weight",), err)
        if spec.get("scale") is not None:
            scale = _config_number(spec["scale"], key + ("scale",), err)
            if scale <= 0:
                raise err(key + ("scale",), f"must be > 0 (got {scale:g})")
    elif spec is not None:
        weight = _config_number(spec, key, err)
    if weight < 0:
        raise err(key if not isinstance(spec, Mapping) else key + ("weight",),
                  f"weight must be >= 0 (got {weight:g})")
    return SeriesSpec(s_name, weight, scale)


#: The whole-number fit settings and their ranges: enough for any real fit, and small enough
#: that the arrays they size (candidates x parameters, starts x evaluations) fit in memory.
_FIT_INTEGERS = {"starts": (1, 1_000), "candidates": (1, 1_000_000), "seed": (0, 2**63 - 1),
                 "max_evaluations": (1, 1_000_000)}


def _fit_settings(raw: Any, err) -> FitSettings:
    if raw is None:
        return FitSettings()
    if not isinstance(raw, Mapping):
        raise err(("fit",), f"expected a mapping of fit settings, got {_describe(raw)}")
    for k in raw:
        if k not in _FIT_KEYS:
            raise err(("fit", str(k)), "unknown key" + _suggest(str(k), _FIT_KEYS))
    raw = {k: v for k, v in raw.items() if k != "bayes"}   # read by _bayesian_keys
    defaults = FitSettings()
    values: dict[str, Any] = {}
    for k, (low, high) in _FIT_INTEGERS.items():
        if k in raw:
            x = _config_number(raw[k], ("fit", k), err)
            if x != int(x) or not low <= x <= high:
                raise err(("fit", k), f"must be a whole number from {low} to {high:,} "
                                      f"(got {x:g})")
            values[k] = int(x)
    if "tolerance" in raw:
        x = _config_number(raw["tolerance"], ("fit", "tolerance"), err)
        if not 0 < x < 1:
            raise err(("fit", "tolerance"), f"must be in (0, 1) (got {x:g})")
        values["tolerance"] = x
    if "correlation_warning" in raw:
        x = _config_number(raw["correlation_warning"], ("fit", "correlation_warning"), err)
        if not 0 < x <= 1:
            raise err(("fit", "correlation_warning"), f"must be in (0, 1] (got {x:g})")
        values["correlation_warning"] = x
    if "standard_errors" in raw:
        choice = raw["standard_errors"]
        if choice not in ("scaled", "absolute"):
            raise err(("fit", "standard_errors"), f"expected scaled or absolute, got "
                                                  f"{_describe(choice)}")
        values["standard_errors"] = choice
    settings = FitSettings(**{**defaults.__dict__, **values})
    if settings.candidates < settings.starts - 1:
        raise err(("fit", "candidates"), f"must be at least starts - 1 = {settings.starts - 1}")
    return settings


def _config_number(value: Any, key: tuple, err) -> float:
    return check_number(value, _key_text(key), lambda _text, message: err(key, message))


# ---------------------------------------------------------------------------------------------
# Bayesian calibration keys: parameters.<path>.prior, fit.bayes, decision
# (calibration/config-format.md; used by tpsim.analysis.bayes and tpsim learn)
# ---------------------------------------------------------------------------------------------

#: Prior distributions and their required keys (every prior is truncated to [lower, upper]).
PRIOR_KEYS = {"uniform": (), "normal": ("mean", "sd"), "truncnorm": ("mean", "sd"),
              "lognormal": ("median", "sigma"), "beta": ("a", "b")}


@dataclass(frozen=True)
class PriorSpec:
    """A parameter's prior: ``dist`` (a key of :data:`PRIOR_KEYS`) and its numbers, in the
    parameter's own units (lognormal ``sigma`` is the sd of the log; beta is on [0, 1])."""

    dist: str = "uniform"
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BayesSettings:
    """How ``tpsim calibrate --method bayes`` and ``tpsim learn`` sample (config ``fit.bayes``)."""

    walkers: int = 24            # emcee walkers per chain (>= 2 x parameters)
    steps: int = 400             # steps per chain, burn-in included
    burn_in: int = 150           # steps discarded at the start of each chain
    thin: int = 1                # keep every thin-th step
    chains: int = 2              # independent ensembles (R-hat compares their walkers)
    seed: int = 0
    init: str = "fit"            # fit: walkers start around a least-squares fit; prior: prior draws
    ess_threshold: float = 0.5   # learn: re-run MCMC when ESS / draws falls below this
    rerun_steps: int = 150       # learn: steps of the re-run (a third discarded as burn-in)
    draws: int = 4000            # most posterior draws kept (evenly thinned to it)


@dataclass(frozen=True)
class DecisionSpec:
    """The decision the learning informs: ``option`` against ``against`` (scenario files),
    judged on ``metric`` (a money metric of the option against the counterfactual, £; the
    NPSV, the Green Book's headline, by default)."""

    option: Path
    against: Path
    metric: str = "npsv"


_DECISION_KEYS = ("option", "against", "metric")
#: Money metrics of an option against its counterfactual the decision may be judged on
#: (tpsim.analysis.decision.DECISION_METRICS: the ensemble's money metrics, fiscal_npv = npv).
_DECISION_METRICS = ("npsv", "economic_npv", "fiscal_npv", "npv", "npv_parliament")

_BAYES_INTS = {"walkers": 4, "steps": 10, "burn_in": 0, "thin": 1, "chains": 1, "seed": 0,
               "rerun_steps": 10, "draws": 100}


def _bayesian_keys(raw: Mapping, params_raw: Mapping, parameters: Sequence[ParameterSpec],
                   base: Path, err) -> tuple[dict, BayesSettings, DecisionSpec | None]:
    """Validate the priors, ``fit.bayes`` and ``decision`` of a config dict."""
    priors: dict[str, PriorSpec] = {}
    for spec in parameters:
        given = params_raw.get(spec.path)
        prior_raw = given.get("prior") if isinstance(given, Mapping) else None
        key = ("parameters", spec.path, "prior")
        if prior_raw is None:
            priors[spec.path] = PriorSpec()
            continue
        if prior_raw in ("uncertainty", "evidence"):
            priors[spec.path] = PriorSpec(prior_raw)
            continue
        if not isinstance(prior_raw, Mapping) or "dist" not in prior_raw:
            raise err(key, "expected uncertainty (the scenario's distribution of this path), "
                           "evidence (the evidence library's range) or "
                           "{dist: normal|lognormal|uniform|beta|truncnorm, ...}")
        dist = prior_raw["dist"]
        if dist not in PRIOR_KEYS:
            raise err(key + ("dist",), f"unknown prior {_describe(dist)}"
                      + _suggest(str(dist), PRIOR_KEYS))
        allowed = ("dist",) + PRIOR_KEYS[dist]
        values = {}
        for k in prior_raw:
            if k not in allowed:
                raise err(key + (str(k),), "unknown key" + _suggest(str(k), allowed))
        for k in PRIOR_KEYS[dist]:
            if k not in prior_raw:
                raise err(key + (k,), f"required key of a {dist} prior is missing (a number)")
            values[k] = _config_number(prior_raw[k], key + (k,), err)
            if k in ("sd", "sigma", "median", "a", "b") and values[k] <= 0:
                raise err(key + (k,), f"must be > 0 (got {values[k]:g})")
        if dist == "beta" and not (spec.lower >= 0 and spec.upper <= 1):
            raise err(key, "a beta prior is on [0, 1]: the bounds must lie within it")
        if dist == "lognormal" and spec.upper <= 0:
            raise err(key, "a lognormal prior needs a positive upper bound")
        priors[spec.path] = PriorSpec(dist, values)

    fit_raw = raw.get("fit")
    bayes_raw = fit_raw.get("bayes") if isinstance(fit_raw, Mapping) else None
    bayes = BayesSettings()
    if bayes_raw is not None:
        if not isinstance(bayes_raw, Mapping):
            raise err(("fit", "bayes"), f"expected a mapping of sampler settings, got "
                                        f"{_describe(bayes_raw)}")
        known = tuple(BayesSettings.__dataclass_fields__)
        values: dict[str, Any] = {}
        for k, v in bayes_raw.items():
            key = ("fit", "bayes", str(k))
            if k not in known:
                raise err(key, "unknown key" + _suggest(str(k), known))
            if k in _BAYES_INTS:
                x = _config_number(v, key, err)
                if x != int(x) or x < _BAYES_INTS[k]:
                    raise err(key, f"must be a whole number >= {_BAYES_INTS[k]} (got {x:g})")
                values[k] = int(x)
            elif k == "init":
                if v not in ("fit", "prior"):
                    raise err(key, f"expected fit or prior, got {_describe(v)}")
                values[k] = v
            else:
                x = _config_number(v, key, err)
                if not 0 < x <= 1:
                    raise err(key, f"must be in (0, 1] (got {x:g})")
                values[k] = x
        bayes = BayesSettings(**{**BayesSettings().__dict__, **values})
        if bayes.burn_in >= bayes.steps:
            raise err(("fit", "bayes", "burn_in"), f"must be below steps = {bayes.steps}")
        if bayes.walkers < 2 * len(parameters):
            raise err(("fit", "bayes", "walkers"), f"must be at least twice the number of "
                                                    f"parameters ({2 * len(parameters)})")
    elif BayesSettings().walkers < 2 * len(parameters):
        bayes = BayesSettings(walkers=2 * len(parameters))

    decision = None
    if raw.get("decision") is not None:
        d = raw["decision"]
        if not isinstance(d, Mapping):
            raise err(("decision",), "expected {option: scenario file, against: scenario file}")
        for k in d:
            if k not in _DECISION_KEYS:
                raise err(("decision", str(k)), "unknown key" + _suggest(str(k), _DECISION_KEYS))
        metric = d.get("metric", "npsv")
        if metric not in _DECISION_METRICS:
            raise err(("decision", "metric"), f"expected one of {', '.join(_DECISION_METRICS)}, "
                                              f"got {_describe(metric)}")
        files = []
        for k in ("option", "against"):
            files.append(_existing_file(d.get(k), ("decision", k), "scenario file", base,
                                        err))
        decision = DecisionSpec(*files, metric=metric)
    return priors, bayes, decision
