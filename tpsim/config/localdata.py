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

from tpsim.errors import DataError
from tpsim.errors import suggest as _suggest

__all__ = [
    "ObservedSeries", "LocalData", "read_local_data", "month_number", "month_label",
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
