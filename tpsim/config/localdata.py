"""Read and validate a pilot area's local data: the observed series a calibration fits.

The format is documented in ``calibration/data-format.md`` (the fit configuration, in
``calibration/config-format.md``, is read by :mod:`tpsim.config.calibration`). This module
reads files and checks them; it knows nothing of fitting (``tpsim.analysis.calibration``).

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
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tpsim.config.yamlio import file_problem
from tpsim.errors import DataError
from tpsim.errors import suggest as _suggest

__all__ = [
    "ObservedSeries", "LocalData", "read_local_data", "month_number", "month_label",
    "combine_local_data", "local_data_csv_text",
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
    # strict: an unclosed quote is an error, not a cell silently ending at the line's end
    return [cell.strip() for cell in next(csv.reader([text], strict=True))]


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


@dataclass(frozen=True)
class _Frame:
    """What every row of a local-data file is checked against: the scenario's first month
    ``start``, its ``horizon`` (months), the model's output series and the wording of the
    horizon error."""

    start: str
    horizon: int
    known: frozenset
    last_label: str
    where: str


#: A parsed row: (model month, YYYY-MM label, value, weight or None, se or None, line).
_Row = tuple[int, str, float, "float | None", "float | None", int]


def _check_header(cells: list[str], fail) -> tuple[list[str], str | None]:
    """The header's column names (lower case) and its optional column (``weight``, ``se`` or
    None); raises for an empty, unknown or repeated name, a missing required column, or both
    optional columns."""
    header = [c.lower() for c in cells]
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
        raise fail(None, "give a 'weight' column or an 'se' (standard error) column, not both")
    return header, "weight" if "weight" in header else "se" if "se" in header else None


def _parse_row(row: dict[str, str], frame: _Frame, error_column: str | None,
               fail) -> tuple[str, int, str, float, float | None, float | None]:
    """A data row's series name, model month, month label, value, weight and se, each
    checked: the month is YYYY-MM inside the horizon, the series a model output, the value a
    finite number (>= 0 unless a money balance), the weight >= 0 and the se > 0."""
    label = row["month"]
    if _parse_month(label) is None:
        raise fail("month", f"unparseable month {label!r}: expected YYYY-MM, e.g. {frame.start}")
    m = month_number(label, frame.start)
    if not 1 <= m <= frame.horizon:
        raise fail("month", f"month {label} is outside the scenario's horizon "
                            f"{frame.start} to {frame.last_label}{frame.where}")

    name = row["series"]
    if name == "":
        raise fail("series", "series is empty: name a model output, e.g. activity.<service>")
    if name not in frame.known:
        raise fail("series", f"unknown series '{name}': not an output of the model"
                             + _suggest(name, sorted(frame.known)))

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
    return name, m, label, value, weight, se


def _observed_series(name: str, items: list[_Row], start: str, error_column: str | None,
                     display: str) -> ObservedSeries:
    """One series' rows in month order as an :class:`ObservedSeries`; raises at the first
    gap in its months."""
    items = sorted(items, key=lambda item: item[0])
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
    return ObservedSeries(
        name=name, months=months, labels=tuple(item[1] for item in items),
        values=np.array([item[2] for item in items], dtype=float),
        weights=(np.array([1.0 if item[3] is None else item[3] for item in items])
                 if error_column != "se" else None),
        standard_errors=(np.array([item[4] for item in items], dtype=float)
                         if error_column == "se" else None),
        lines=np.array([item[5] for item in items], dtype=np.int64),
    )


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
    problem = file_problem(path, "local data file")
    if problem:
        raise DataError(problem, file=display)
    where = f" ({scenario_file}: time.start {start}, horizon {horizon} months)" \
        if scenario_file else f" (time.start {start}, horizon {horizon} months)"
    frame = _Frame(start, horizon, frozenset(known_series), month_label(start, horizon), where)

    header: list[str] | None = None
    header_line = 0
    comments: list[str] = []
    rows: dict[str, list[_Row]] = {}
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
            (header, error_column), header_line = _check_header(cells, fail), line
            continue
        if len(cells) != len(header):
            raise fail(None, f"expected {len(header)} fields ({','.join(header)}), got "
                             f"{len(cells)}")
        n_rows += 1
        name, m, label, value, weight, se = _parse_row(dict(zip(header, cells)), frame,
                                                       error_column, fail)
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
    series = {name: _observed_series(name, items, start, error_column, display)
              for name, items in rows.items()}
    return LocalData(display, series, tuple(header), n_rows, tuple(comments))


def combine_local_data(old: LocalData, new: LocalData, start: str) -> LocalData:
    """The observations of ``old`` followed by the new months of ``new`` (``tpsim learn``).

    Raises :class:`DataError` naming the new file when it uses a different optional column
    (weight / se) from the data so far, repeats a (series, month) already fitted, or leaves a
    gap between a series' last fitted month and its first new one.
    """
    if old.uncertainty_column != new.uncertainty_column:
        def describe(c):
            return f"a {c} column" if c else "no weight or se column"
        raise DataError(f"has {describe(new.uncertainty_column)} but the data so far ({old.path}) "
                        f"have {describe(old.uncertainty_column)}: use the same columns",
                        file=new.path, line=1)
    series = dict(old.series)
    for name, obs in new.series.items():
        before = series.get(name)
        if before is None:
            series[name] = obs
            continue
        repeated = np.intersect1d(before.months, obs.months)
        if repeated.size:
            label = month_label(start, int(repeated[0]))
            line = int(obs.lines[np.searchsorted(obs.months, repeated[0])])
            raise DataError(f"{name} {label} is already in the data so far ({old.path}); give "
                            f"only new months", file=new.path, line=line)
        if int(obs.months[0]) != int(before.months[-1]) + 1:
            raise DataError(f"{name} starts at {obs.labels[0]} but the data so far end at "
                            f"{before.labels[-1]} ({old.path}): the months must follow on",
                            file=new.path, line=int(obs.lines[0]))
        series[name] = ObservedSeries(
            name, np.concatenate([before.months, obs.months]), before.labels + obs.labels,
            np.concatenate([before.values, obs.values]),
            None if before.weights is None else np.concatenate([before.weights, obs.weights]),
            None if before.standard_errors is None
            else np.concatenate([before.standard_errors, obs.standard_errors]),
            np.concatenate([before.lines, -obs.lines]))   # negative: a line of the new file
    columns = tuple(c for c in ("month", "series", "value", old.uncertainty_column) if c)
    return LocalData(f"{old.path} + {new.path}", series, columns, old.n_rows + new.n_rows,
                     old.comments)


def local_data_csv_text(data: LocalData, comments: Sequence[str] = ()) -> str:
    """The observations of ``data`` as a local-data CSV (``month,series,value[,weight|se]``),
    series in order, months ascending: what ``tpsim learn`` keeps as the data so far."""
    extra = data.uncertainty_column
    lines = [f"# {c}" for c in comments]
    lines.append(",".join(["month", "series", "value"] + ([extra] if extra else [])))
    for name, obs in data.series.items():
        for i in range(obs.values.size):
            row = [obs.labels[i], name, repr(float(obs.values[i]))]
            if extra == "se":
                row.append(repr(float(obs.standard_errors[i])))
            elif extra == "weight":
                row.append(repr(float(obs.weights[i])))
            lines.append(",".join(row))
    return "\n".join(lines) + "\n"
