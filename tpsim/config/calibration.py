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

from tpsim.config.yamlio import Location, check_number, locate, read_yaml
from tpsim.errors import TpsimError
from tpsim.errors import describe as _describe
from tpsim.errors import suggest as _suggest

__all__ = ["ConfigError", "ParameterSpec", "SeriesSpec", "FitSettings", "CalibrationConfig",
           "load_config", "config_from_dict"]




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

    def error(self, key: tuple | str, message: str) -> ConfigError:
        """A :class:`ConfigError` for ``key`` (a tuple of keys, or a dotted string)."""
        return _config_error(self.file, self.lines, key, message)

    def located(self, key: tuple | str) -> bool:
        """Whether the file gives ``key`` itself (so an error can point at its line)."""
        return _key_text(key) in self.lines


_CONFIG_KEYS = ("scenario", "data", "name", "title", "description", "parameters", "series", "fit")
_PARAMETER_KEYS = ("lower", "upper", "initial")
_SERIES_KEYS = ("weight", "scale")
_FIT_KEYS = ("starts", "candidates", "seed", "max_evaluations", "tolerance", "standard_errors",
             "correlation_warning")
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
    if not path.is_file():
        raise ConfigError("calibration config file not found", file=display)
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

    if not isinstance(raw, Mapping):
        raise err((), "a calibration config must be a mapping of keys (scenario, data, "
                      "parameters, ...)")
    for key in raw:
        if key not in _CONFIG_KEYS:
            raise err((str(key),), "unknown key" + _suggest(str(key), _CONFIG_KEYS))

    def file_key(key: str, what: str) -> Path:
        if key not in raw:
            raise err((key,), f"required key is missing (the {what}, relative to this file)")
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise err((key,), f"expected a file path, got {_describe(value)}")
        target = Path(value) if Path(value).is_absolute() else base / value
        if not target.is_file():
            raise err((key,), f"{what} not found: {os.fspath(target)}")
        return target

    scenario_path = file_key("scenario", "scenario file")
    data_path = file_key("data", "local data file")

    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
        raise err(("name",), f"expected a scenario name (letters, digits, _ . -), got "
                             f"{_describe(name)}")
    title = raw.get("title")
    if title is not None and not isinstance(title, str):
        raise err(("title",), f"expected text, got {_describe(title)}")
    if raw.get("description") is not None and not isinstance(raw["description"], str):
        raise err(("description",), f"expected text, got {_describe(raw['description'])}")

    # parameters: path -> {lower, upper, initial} or [lower, upper]
    if "parameters" not in raw:
        raise err(("parameters",), "required key is missing (the parameters to fit, with bounds)")
    params_raw = raw["parameters"]
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise err(("parameters",), "expected a mapping of dotted parameter paths to bounds, "
                                   "e.g. services.falls_prevention.effect: {lower: 0, upper: 0.5}")
    parameters = []
    for p_path, spec in params_raw.items():
        key = ("parameters", str(p_path))
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
        for k in _PARAMETER_KEYS:
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
        parameters.append(ParameterSpec(str(p_path), values["lower"], values["upper"],
                                        values["initial"]))

    # series: list of names, or name -> weight | {weight, scale} | null
    series = None
    if raw.get("series") is not None:
        series_raw = raw["series"]
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
            series.append(SeriesSpec(s_name, weight, scale))
        if not any(s.weight > 0 for s in series):
            raise err(("series",), "every series has weight 0: nothing to fit")
        series = tuple(series)

    fit = _fit_settings(raw.get("fit"), err)
    return CalibrationConfig(file=file, scenario_path=scenario_path, data_path=data_path,
                             parameters=tuple(parameters), series=series, fit=fit, name=name,
                             title=title, lines=lines)


def _fit_settings(raw: Any, err) -> FitSettings:
    if raw is None:
        return FitSettings()
    if not isinstance(raw, Mapping):
        raise err(("fit",), f"expected a mapping of fit settings, got {_describe(raw)}")
    for k in raw:
        if k not in _FIT_KEYS:
            raise err(("fit", str(k)), "unknown key" + _suggest(str(k), _FIT_KEYS))
    defaults = FitSettings()
    values: dict[str, Any] = {}
    for k in ("starts", "candidates", "seed", "max_evaluations"):
        if k in raw:
            x = _config_number(raw[k], ("fit", k), err)
            low = 0 if k == "seed" else 1
            if x != int(x) or x < low:
                raise err(("fit", k), f"must be a whole number >= {low} (got {x:g})")
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
