"""Read and validate a pilot area's calibration inputs: the local-data CSV and the fit config.

The formats are documented in ``calibration/data-format.md`` and ``calibration/config-format.md``.
This module reads files and checks them; it knows nothing of fitting (``tpsim.analysis.calibration``).

Local data is a tidy CSV, one observation per row::

    month,series,value[,weight | ,se][,source][,note]
    2026-04,activity.ae_older,2251
    2026-04,spend.agency.nhs_acute,4003817

``month`` is ``YYYY-MM``; model month ``m = months since time.start + 1`` (the start month is
model month 1). ``series`` names a model output (``tpsim run`` column). ``value`` is the
observed value in that column's units: a flow summed over the month (activity, spend) or a
stock at the month end (population, waiting, reserves). Lines starting with ``#`` and blank
lines are ignored. Every problem raises :class:`~tpsim.errors.DataError` naming the file, the
column and the line.
"""
from __future__ import annotations

import csv
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tpsim.errors import DataError, TpsimError
from tpsim.errors import describe as _describe
from tpsim.errors import suggest as _suggest

__all__ = [
    "ObservedSeries", "LocalData", "read_local_data", "month_number", "month_label",
    "ConfigError", "ParameterSpec", "SeriesSpec", "FitSettings", "CalibrationConfig",
    "load_config", "config_from_dict",
]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_REQUIRED_COLUMNS = ("month", "series", "value")
_OPTIONAL_COLUMNS = ("weight", "se", "source", "note")
#: Series whose values may be negative (money balances); every other series is a count,
#: a sum of money spent or a ratio and must be >= 0.
_SIGNED_PREFIXES = ("reserves.",)


# ---------------------------------------------------------------------------------------------
# Months
# ---------------------------------------------------------------------------------------------


def _parse_month(text: str) -> tuple[int, int] | None:
    match = _MONTH.match(text)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    return year, month


def month_number(label: str, start: str) -> int:
    """Model month of a ``YYYY-MM`` label: months since ``start`` (``YYYY-MM``) plus 1."""
    y, m = _parse_month(label) or (None, None)
    y0, m0 = _parse_month(start) or (None, None)
    if y is None or y0 is None:
        raise ValueError(f"expected YYYY-MM months, got {label!r} and {start!r}")
    return (y - y0) * 12 + (m - m0) + 1


def month_label(start: str, month: int) -> str:
    """The ``YYYY-MM`` label of model month ``month`` (1 = ``start``)."""
    y0, m0 = _parse_month(start) or (None, None)
    if y0 is None:
        raise ValueError(f"expected a YYYY-MM start month, got {start!r}")
    k = (m0 - 1) + (month - 1)
    return f"{y0 + k // 12:04d}-{k % 12 + 1:02d}"


# ---------------------------------------------------------------------------------------------
# The local-data CSV
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservedSeries:
    """The observations of one series, sorted by month (consecutive months, no gaps).

    ``months`` are model months (1 = the scenario's start month); ``values`` are in the series'
    units; ``weights`` are the rows' relative weights (1 where not given) or None when the file
    gives standard errors; ``standard_errors`` (same units as the values) or None; ``lines`` are
    the 1-based file lines the rows came from.
    """

    name: str
    months: np.ndarray
    labels: tuple[str, ...]
    values: np.ndarray
    weights: np.ndarray | None
    standard_errors: np.ndarray | None
    lines: np.ndarray

    def __len__(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class LocalData:
    """A validated local-data file: series name -> :class:`ObservedSeries` (file order)."""

    path: str
    series: dict[str, ObservedSeries]
    columns: tuple[str, ...]
    n_rows: int
    comments: tuple[str, ...] = field(default=())

    @property
    def uncertainty_column(self) -> str | None:
        """``"weight"``, ``"se"`` or None: which optional column the file uses."""
        for name in ("weight", "se"):
            if name in self.columns:
                return name
        return None


def _physical_lines(path: Path, display: str) -> Iterable[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for number, text in enumerate(fh, start=1):
                yield number, text.rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise DataError(f"cannot be read as UTF-8 text ({err.reason} at byte {err.start})",
                        file=display) from None
    except OSError as err:
        raise DataError(f"cannot be read: {err.strerror}", file=display) from None


def _split(text: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([text]))]


def _number(text: str, column: str, fail) -> float:
    if text == "":
        raise fail(column, f"{column} is empty: every row needs a number here")
    try:
        x = float(text)
    except ValueError:
        hint = ""
        if re.fullmatch(r"[£$€]?[\d,]+(\.\d*)?", text):
            hint = " (write the number without currency signs or thousands separators)"
        raise fail(column, f"{column} {text!r} is not a number{hint}") from None
    if not math.isfinite(x):
        raise fail(column, f"{column} must be a finite number (got {text!r})")
    return x


def read_local_data(path: str | os.PathLike, start: str, horizon: int,
                    known_series: Sequence[str], scenario_file: str | None = None) -> LocalData:
    """Read and validate the local-data CSV at ``path``.

    ``start`` (``YYYY-MM``) and ``horizon`` (months) are the scenario's ``time`` settings:
    every month must fall in model months 1..horizon. ``known_series`` are the model's output
    series names. ``scenario_file`` is only named in the horizon error. Raises
    :class:`DataError` (file, column, line) for: a missing or unreadable file, a bad header,
    an unparseable month, a month outside the horizon, an unknown series, a non-numeric or
    non-finite value, a negative value of a series that cannot be negative, a bad weight or
    standard error, a duplicate (series, month), and a gap in a series' months.
    """
    path = Path(path)
    display = os.fspath(path)
    if not path.is_file():
        raise DataError("local data file not found", file=display)
    known = set(known_series)
    last_label = month_label(start, horizon)
    where = f" ({scenario_file}: time.start {start}, horizon {horizon} months)" \
        if scenario_file else f" (time.start {start}, horizon {horizon} months)"

    header: list[str] | None = None
    header_line = 0
    comments: list[str] = []
    rows: dict[str, list[tuple[int, str, float, float | None, float | None, int]]] = {}
    seen: dict[tuple[str, int], int] = {}
    n_rows = 0
    error_column: str | None = None

    for line, text in _physical_lines(path, display):
        stripped = text.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue

        def fail(column: str | None, message: str, _line: int = line) -> DataError:
            return DataError(message, file=display, key=column, line=_line)

        try:
            cells = _split(text)
        except csv.Error as err:
            raise fail(None, f"not valid CSV: {err}") from None

        if header is None:
            header, header_line = [c.lower() for c in cells], line
            allowed = _REQUIRED_COLUMNS + _OPTIONAL_COLUMNS
            for name in header:
                if name == "":
                    raise fail(None, "the header has an empty column name")
                if name not in allowed:
                    raise fail(None, f"unknown column '{name}'" + _suggest(name, allowed))
                if header.count(name) > 1:
                    raise fail(None, f"column '{name}' appears more than once in the header")
            for name in _REQUIRED_COLUMNS:
                if name not in header:
                    raise fail(None, f"the header has no '{name}' column (expected "
                                     f"month,series,value with optional weight or se)")
            if "weight" in header and "se" in header:
                raise fail(None, "give a 'weight' column or an 'se' (standard error) column, "
                                 "not both")
            error_column = "weight" if "weight" in header else "se" if "se" in header else None
            continue

        if len(cells) != len(header):
            raise fail(None, f"expected {len(header)} fields ({','.join(header)}), got "
                             f"{len(cells)}")
        row = dict(zip(header, cells))
        n_rows += 1

        # month: YYYY-MM inside the scenario's horizon
        label = row["month"]
        if _parse_month(label) is None:
            raise fail("month", f"unparseable month {label!r}: expected YYYY-MM, e.g. {start}")
        m = month_number(label, start)
        if not 1 <= m <= horizon:
            raise fail("month", f"month {label} is outside the scenario's horizon "
                                f"{start} to {last_label}{where}")

        # series: a model output
        name = row["series"]
        if name == "":
            raise fail("series", "series is empty: name a model output, e.g. activity.<service>")
        if name not in known:
            raise fail("series", f"unknown series '{name}': not an output of the model"
                                 + _suggest(name, sorted(known)))

        # value: a finite number, >= 0 unless a money balance
        value = _number(row["value"], "value", fail)
        if value < 0 and not name.startswith(_SIGNED_PREFIXES):
            raise fail("value", f"negative value {row['value']} for {name}: counts and spend "
                                f"cannot be negative")

        weight = se = None
        if error_column == "weight":
            weight = 1.0 if row["weight"] == "" else _number(row["weight"], "weight", fail)
            if weight < 0:
                raise fail("weight", f"weight must be >= 0 (got {row['weight']})")
        elif error_column == "se":
            se = _number(row["se"], "se", fail)
            if se <= 0:
                raise fail("se", f"se (standard error) must be > 0 (got {row['se']})")

        if (name, m) in seen:
            raise fail("month", f"duplicate row for {name} in {label} (first given on line "
                                f"{seen[(name, m)]})")
        seen[(name, m)] = line
        rows.setdefault(name, []).append((m, label, value, weight, se, line))

    if header is None:
        raise DataError("the file is empty: expected a header month,series,value and data rows",
                        file=display, line=None)
    if n_rows == 0:
        raise DataError("no data rows after the header", file=display, line=header_line)

    series: dict[str, ObservedSeries] = {}
    for name, items in rows.items():
        items.sort(key=lambda item: item[0])
        months = np.array([item[0] for item in items], dtype=np.int64)
        jumps = np.flatnonzero(np.diff(months) != 1)
        if jumps.size:
            k = int(jumps[0])
            missing = month_label(start, int(months[k]) + 1)
            n_missing = int(months[k + 1] - months[k] - 1)
            more = f" and {n_missing - 1} more month(s)" if n_missing > 1 else ""
            raise DataError(
                f"gap in series {name}: no row for {missing}{more} between {items[k][1]} and "
                f"{items[k + 1][1]} (a series' months must be consecutive)",
                file=display, key="month", line=items[k + 1][5])
        series[name] = ObservedSeries(
            name=name, months=months, labels=tuple(item[1] for item in items),
            values=np.array([item[2] for item in items], dtype=float),
            weights=(np.array([1.0 if item[3] is None else item[3] for item in items])
                     if error_column != "se" else None),
            standard_errors=(np.array([item[4] for item in items], dtype=float)
                             if error_column == "se" else None),
            lines=np.array([item[5] for item in items], dtype=np.int64),
        )
    return LocalData(display, series, tuple(header), n_rows, tuple(comments))


# ---------------------------------------------------------------------------------------------
# The calibration config (YAML)
# ---------------------------------------------------------------------------------------------


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
    lines: Mapping[tuple, int] = field(default_factory=dict, compare=False, repr=False)
    priors: Mapping[str, "PriorSpec"] = field(default_factory=dict)   # Bayesian block below
    bayes: "BayesSettings" = field(default_factory=lambda: BayesSettings())
    decision: "DecisionSpec | None" = None

    def error(self, key: tuple | str, message: str) -> ConfigError:
        """A :class:`ConfigError` for ``key`` (a tuple of keys, or a dotted string)."""
        return _config_error(self.file, self.lines, key, message)


_CONFIG_KEYS = ("scenario", "data", "name", "title", "description", "parameters", "series", "fit",
                "decision")
_PARAMETER_KEYS = ("lower", "upper", "initial", "prior")
_SERIES_KEYS = ("weight", "scale")
_FIT_KEYS = ("starts", "candidates", "seed", "max_evaluations", "tolerance", "standard_errors",
             "correlation_warning", "bayes")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _key_text(key: tuple | str) -> str:
    return key if isinstance(key, str) else ".".join(str(k) for k in key)


def _config_error(file: str, lines: Mapping[tuple, int], key: tuple | str,
                  message: str) -> ConfigError:
    line = None
    if isinstance(key, tuple):
        probe = key
        while probe and line is None:
            line = lines.get(probe)
            probe = probe[:-1]
    return ConfigError(message, file=file, key=_key_text(key) or None, line=line)


def _key_lines(text: str, file: str) -> dict[tuple, int]:
    """Map each key path (a tuple) to its 1-based line; a duplicate key is an error."""
    lines: dict[tuple, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"invalid YAML: {problem}", file=file,
                          line=mark.line + 1 if mark is not None else None) from None

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                here = path + (key,)
                if here in lines:
                    raise ConfigError(f"duplicate key (first given on line {lines[here]})",
                                      file=file, key=_key_text(here),
                                      line=key_node.start_mark.line + 1)
                lines[here] = key_node.start_mark.line + 1
                walk(value_node, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[path + (i,)] = item.start_mark.line + 1
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    return lines


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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot be read: {err}", file=display) from None
    lines = _key_lines(text, display)
    raw = yaml.safe_load(text)
    return config_from_dict(raw, display, path.parent, lines)


def config_from_dict(raw: Any, file: str = "<config>", base_dir: str | os.PathLike = ".",
                     lines: Mapping[tuple, int] | None = None) -> CalibrationConfig:
    """Validate a config given as a dict; ``scenario`` and ``data`` are relative to
    ``base_dir``."""
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
    priors, bayes, decision = _bayesian_keys(raw, params_raw, parameters, base, err)
    return CalibrationConfig(file=file, scenario_path=scenario_path, data_path=data_path,
                             parameters=tuple(parameters), series=series, fit=fit, name=name,
                             title=title, lines=lines, priors=priors, bayes=bayes,
                             decision=decision)


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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (write the number without quotes)"
            except ValueError:
                pass
        raise err(key, f"expected a number, got {_describe(value)}{hint}")
    x = float(value)
    if not math.isfinite(x):
        raise err(key, f"must be a finite number (got {x})")
    return x


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
    """The decision the learning informs: ``option`` against ``against`` (scenario files)."""

    option: Path
    against: Path


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
        if not isinstance(prior_raw, Mapping) or "dist" not in prior_raw:
            raise err(key, "expected {dist: normal|lognormal|uniform|beta|truncnorm, ...}")
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
            if k not in ("option", "against"):
                raise err(("decision", str(k)), "unknown key" + _suggest(str(k),
                                                                        ("option", "against")))
        files = []
        for k in ("option", "against"):
            v = d.get(k)
            if not isinstance(v, str) or not v.strip():
                raise err(("decision", k), f"expected a scenario file path, got {_describe(v)}")
            target = Path(v) if Path(v).is_absolute() else base / v
            if not target.is_file():
                raise err(("decision", k), f"scenario file not found: {os.fspath(target)}")
            files.append(target)
        decision = DecisionSpec(*files)
    return priors, bayes, decision
