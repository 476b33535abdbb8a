"""The evidence library: ``scenarios/evidence.yaml`` read into typed entries.

The file (documented at its top and in ``docs/sources.md``) holds the GDP deflator series, unit
costs with their price years, one entry per preventive service (effect sizes, ranges, time to
effect, decay, GM CBA shares, published returns per GBP 1), QALY weights, the QALY value and the
corrections to flagged scenario defaults. ``load_evidence()`` reads and validates it; errors are
``ScenarioError`` naming the file and the key path.

The YAML is read with the one reader, :func:`tpsim.config.yamlio.read_yaml`, so evidence and
scenarios parse numbers the same way and errors name the line of the key.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tpsim.config.yamlio import locate, read_yaml
from tpsim.errors import ScenarioError

__all__ = [
    "DEFAULT_PATH", "Deflator", "UnitCost", "PublishedReturn", "ServiceEvidence", "Correction",
    "Evidence", "load_evidence", "DEFLATOR_CSV", "DeflatorSeries", "read_deflator_csv",
]

#: The shipped evidence table.
# package data (tpsim/scenarios links to the repository's scenarios/ in a checkout)
DEFAULT_PATH = (Path(__file__).resolve().parents[1] / "scenarios").resolve() / "evidence.yaml"

#: The one GDP-deflator series of the repository (HM Treasury, March 2026; gaps left empty).
DEFLATOR_CSV = DEFAULT_PATH.parent / "data" / "gdp_deflator.csv"


@dataclass(frozen=True)
class DeflatorSeries:
    """``scenarios/data/gdp_deflator.csv``: the factor to 2024-25 prices of each financial year
    (None: a gap, not available offline) and the source lines of the file's header."""

    factors: dict[str, float | None]
    header: tuple[str, ...]
    path: Path

    def factor(self, year: str) -> float:
        """The year's own factor; a gap or an unknown year is an error (never another year's)."""
        value = self.factors.get(year)
        if value is None:
            raise ScenarioError(f"no GDP deflator factor for {year!r} (a gap in the shipped "
                                f"series; see its header)", file=str(self.path))
        return value

    def lower_bound_factor(self, year: str) -> float:
        """The documented gap convention ("deflator LB" in the scenarios): the factor of the
        year itself if it has one, else of the next later year that has one (a lower bound on
        the uprated price, since the deflator rises)."""
        if year not in self.factors:
            raise ScenarioError(f"{year!r} is outside the shipped GDP deflator series",
                                file=str(self.path))
        for later in sorted(y for y in self.factors if y >= year):
            if self.factors[later] is not None:
                return self.factors[later]
        raise ScenarioError(f"no sourced GDP deflator year at or after {year!r}",
                            file=str(self.path))


def read_deflator_csv(path: str | Path | None = None) -> DeflatorSeries:
    """Read the shipped deflator CSV (``#`` lines are its header: source, date, conventions)."""
    import csv

    path = Path(path) if path is not None else DEFLATOR_CSV
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ScenarioError(f"cannot read the GDP deflator series: {exc.strerror}",
                            file=str(path)) from None
    header = tuple(line[1:].strip() for line in lines if line.startswith("#"))
    rows = list(csv.DictReader(line for line in lines if line and not line.startswith("#")))
    factors: dict[str, float | None] = {}
    for number, row in enumerate(rows, 1):
        year = row.get("financial_year") or ""
        _check_year(year, f"row {number}.financial_year", str(path))
        text = (row.get("factor_to_2024_25") or "").strip()
        try:
            factors[year] = float(text) if text else None
        except ValueError:
            raise ScenarioError(f"row {number} ({year}): factor_to_2024_25 {text!r} is not a "
                                f"number", file=str(path)) from None
        if factors[year] is not None and not factors[year] > 0.0:
            raise ScenarioError(f"row {number} ({year}): the factor must be positive",
                                file=str(path))
    return DeflatorSeries(factors, header, path)


_FINANCIAL_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
_SECTIONS = ("version", "price_year", "deflator", "unit_costs", "services", "other_evidence",
             "utilities", "qaly_value", "corrections")


def _check_year(text: Any, where: str, file: str) -> str:
    """A financial year written ``YYYY-YY`` whose second part follows the first."""
    match = _FINANCIAL_YEAR.match(text) if isinstance(text, str) else None
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ScenarioError(f"{where}: expected a financial year such as \"2024-25\", got "
                            f"{text!r}", file=file)
    return text


@dataclass(frozen=True)
class Deflator:
    """GDP deflator index by financial year (``base_year`` = 100).

    ``sourced`` are the years quoted from the named release; every other year in ``index`` is an
    estimate (``estimate_method`` says how) that must be replaced with the release's figure.
    """

    index: dict[str, float]
    base_year: str
    source: str
    release: str
    release_date: str
    sourced: tuple[str, ...]
    estimate_method: str

    @property
    def estimated(self) -> tuple[str, ...]:
        """Years whose index is an estimate, not a published figure."""
        return tuple(year for year in self.index if year not in self.sourced)

    def factor(self, from_year: str, to_year: str) -> float:
        """Multiplier taking a price in ``from_year`` to ``to_year`` prices (real terms).

        Raises ``ScenarioError`` for a year not in the series: a gap is never filled with another
        year's factor.
        """
        for year in (from_year, to_year):
            if year not in self.index:
                known = f"{min(self.index)} to {max(self.index)}"
                raise ScenarioError(
                    f"deflator.index: no GDP deflator for {year!r} (the series covers {known}); "
                    f"add the year from the {self.release} release, never another year's factor")
        return self.index[to_year] / self.index[from_year]


@dataclass(frozen=True)
class UnitCost:
    """One unit cost in its own price year (GBP per ``unit``)."""

    id: str
    value: float
    unit: str
    price_year: str
    source: str
    notes: str = ""
    used_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishedReturn:
    """A published return per GBP 1 spent: ``measure`` is 'fiscal' or 'economic'."""

    measure: str
    low: float
    high: float
    source: str
    note: str = ""
    economic_low: float | None = None
    economic_high: float | None = None
    economic_source: str | None = None


@dataclass(frozen=True)
class ServiceEvidence:
    """Evidence for one preventive service (the raw entry is kept in ``data``)."""

    id: str
    label: str
    effects: tuple[dict, ...]
    model_effect: dict
    time_to_effect_months: dict
    decay: dict
    cba: dict
    published: PublishedReturn
    reason: str = ""
    data: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Correction:
    """A corrected default: ``value`` replaces ``current`` at scenario key ``key``."""

    id: str
    key: str
    current: Any
    value: Any
    derivation: str
    check: dict | None = None


@dataclass(frozen=True)
class Evidence:
    """The whole evidence library."""

    path: Path
    price_year: str
    deflator: Deflator
    unit_costs: dict[str, UnitCost]
    services: dict[str, ServiceEvidence]
    utilities: dict
    qaly_value: dict
    corrections: dict[str, Correction]
    other_evidence: dict

    def uprate(self, value: float, from_year: str, to_year: str | None = None) -> float:
        """``value`` in ``from_year`` prices expressed in ``to_year`` prices (default: the
        library's price year), with the shipped GDP deflator. Raises for a missing year."""
        return value * self.deflator.factor(from_year, to_year or self.price_year)

    def unit_cost(self, cost_id: str, to_year: str | None = None) -> float:
        """A unit cost uprated to ``to_year`` (default: the library's price year)."""
        if cost_id not in self.unit_costs:
            raise ScenarioError(f"unit_costs.{cost_id}: no such unit cost", file=str(self.path))
        cost = self.unit_costs[cost_id]
        return self.uprate(cost.value, cost.price_year, to_year)

    def source_ids(self) -> set[str]:
        """Every source id the table cites (each must have an entry in docs/sources.md)."""
        ids = {self.deflator.source, self.qaly_value.get("source", "")}
        ids |= {c.source for c in self.unit_costs.values()}
        for service in self.services.values():
            ids |= {e["source"] for e in service.effects if e.get("source")}
            ids.add(service.published.source)
            if service.published.economic_source:
                ids.add(service.published.economic_source)
            for part in (service.decay, service.data.get("short_run_effect") or {}):
                if part.get("source"):
                    ids.add(part["source"])
        for entry in self.other_evidence.values():
            if isinstance(entry.get("published"), Mapping):
                ids.add(entry["published"]["source"])
        for cohort in self.utilities.values():
            if isinstance(cohort, Mapping):
                ids |= {s["source"] for s in cohort.values() if isinstance(s, Mapping)}
        ids.discard("assumption")
        ids.discard("")
        return ids


def load_evidence(path: str | Path | None = None) -> Evidence:
    """Read and validate the evidence library (default: the shipped ``scenarios/evidence.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    file = str(path)
    document = read_yaml(path, file, error=ScenarioError)
    raw = document.data
    if not isinstance(raw, Mapping):
        raise ScenarioError("expected a mapping of sections at the top of the file", file=file)

    def fail(key: str, message: str) -> ScenarioError:
        where = locate(document.locations, key)
        return ScenarioError(message, file=file, key=key,
                             line=where[1] if where is not None else None)

    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise fail(unknown[0], f"unknown section (expected one of {', '.join(_SECTIONS)})")
    for section in ("price_year", "deflator", "unit_costs", "services", "qaly_value"):
        if section not in raw:
            raise fail(section, "required section is missing")
    price_year = _check_year(raw["price_year"], "price_year", file)
    deflator = _deflator(raw["deflator"], fail, file)
    if price_year not in deflator.index:
        raise fail("price_year", f"{price_year} is not in deflator.index")

    unit_costs = {}
    for cost_id, entry in _mapping(raw["unit_costs"], "unit_costs", fail).items():
        where = f"unit_costs.{cost_id}"
        entry = _mapping(entry, where, fail)
        for key in ("value", "unit", "price_year", "source"):
            if key not in entry:
                raise fail(f"{where}.{key}", "required key is missing")
        year = _check_year(entry["price_year"], f"{where}.price_year", file)
        if year not in deflator.index:
            raise fail(f"{where}.price_year", f"{year} is not in deflator.index, so the cost "
                                              f"cannot be uprated")
        unit_costs[cost_id] = UnitCost(
            id=cost_id, value=_number(entry["value"], f"{where}.value", fail, positive=True),
            unit=str(entry["unit"]), price_year=year, source=str(entry["source"]),
            notes=str(entry.get("notes", "")), used_by=tuple(entry.get("used_by") or ()))

    services = {sid: _service(sid, entry, fail)
                for sid, entry in _mapping(raw["services"], "services", fail).items()}

    qaly = _mapping(raw["qaly_value"], "qaly_value", fail)
    for key in ("value", "price_year", "source"):
        if key not in qaly:
            raise fail(f"qaly_value.{key}", "required key is missing")
    qaly_year = _check_year(qaly["price_year"], "qaly_value.price_year", file)
    if qaly_year not in deflator.index:
        raise fail("qaly_value.price_year", f"{qaly_year} is not in deflator.index")

    corrections = {}
    for cid, entry in _mapping(raw.get("corrections") or {}, "corrections", fail).items():
        where = f"corrections.{cid}"
        entry = _mapping(entry, where, fail)
        for key in ("key", "current", "value", "derivation"):
            if key not in entry:
                raise fail(f"{where}.{key}", "required key is missing")
        check = entry.get("check")
        if check is not None:
            check = _mapping(check, f"{where}.check", fail)
            _check_year(check.get("from_year"), f"{where}.check.from_year", file)
        corrections[cid] = Correction(id=cid, key=str(entry["key"]), current=entry["current"],
                                      value=entry["value"], derivation=str(entry["derivation"]),
                                      check=dict(check) if check is not None else None)

    return Evidence(path=path, price_year=price_year, deflator=deflator, unit_costs=unit_costs,
                    services=services, utilities=dict(raw.get("utilities") or {}),
                    qaly_value=dict(qaly), corrections=corrections,
                    other_evidence=dict(raw.get("other_evidence") or {}))


def _deflator(raw: Any, fail, file: str) -> Deflator:
    m = _mapping(raw, "deflator", fail)
    for key in ("index", "base_year", "source", "release", "release_date", "sourced"):
        if key not in m:
            raise fail(f"deflator.{key}", "required key is missing")
    index = {}
    for year, value in _mapping(m["index"], "deflator.index", fail).items():
        _check_year(year, f"deflator.index.{year}", file)
        index[year] = _number(value, f"deflator.index.{year}", fail, positive=True)
    years = sorted(index)
    for earlier, later in zip(years, years[1:]):
        if int(later[:4]) != int(earlier[:4]) + 1:
            raise fail("deflator.index", f"the series has a gap between {earlier} and {later}")
    base = _check_year(m["base_year"], "deflator.base_year", file)
    if abs(index.get(base, math.nan) - 100.0) > 1e-9:
        raise fail(f"deflator.index.{base}", "the base year's index must be 100")
    sourced = tuple(m["sourced"])
    for year in sourced:
        if year not in index:
            raise fail("deflator.sourced", f"{year!r} is not in deflator.index")
    if len(sourced) < len(index) and not m.get("estimate_method"):
        raise fail("deflator.estimate_method", "some years are estimates: say how they were made")
    return Deflator(index=index, base_year=base, source=str(m["source"]),
                    release=str(m["release"]), release_date=str(m["release_date"]),
                    sourced=sourced, estimate_method=str(m.get("estimate_method", "")))


def _service(sid: str, raw: Any, fail) -> ServiceEvidence:
    where = f"services.{sid}"
    m = _mapping(raw, where, fail)
    for key in ("label", "effects", "model_effect", "time_to_effect_months", "decay", "cba",
                "published"):
        if key not in m:
            raise fail(f"{where}.{key}", "required key is missing")
    effects = m["effects"]
    if not isinstance(effects, list) or not effects:
        raise fail(f"{where}.effects", "expected a non-empty list of effect sizes")
    for i, effect in enumerate(effects):
        for key in ("outcome", "source", "population", "follow_up_months"):
            if key not in effect:
                raise fail(f"{where}.effects[{i}].{key}", "required key is missing")
    for part in ("model_effect", "time_to_effect_months"):
        entry = _mapping(m[part], f"{where}.{part}", fail)
        low, value, high = (_number(entry.get(k), f"{where}.{part}.{k}", fail)
                            for k in ("low", "value", "high"))
        if not low <= value <= high:
            raise fail(f"{where}.{part}", f"expected low <= value <= high, got {low}, {value}, "
                                          f"{high}")
    cba = _mapping(m["cba"], f"{where}.cba", fail)
    for key in ("deadweight", "displacement", "attribution"):
        share = _number(cba.get(key), f"{where}.cba.{key}", fail)
        if not 0.0 <= share <= 1.0:
            raise fail(f"{where}.cba.{key}", f"expected a share in [0, 1], got {share}")
    pub = _mapping(m["published"], f"{where}.published", fail)
    for key in ("measure", "published_low", "published_high", "source"):
        if key not in pub:
            raise fail(f"{where}.published.{key}", "required key is missing")
    if pub["measure"] not in ("fiscal", "economic"):
        raise fail(f"{where}.published.measure", f"expected fiscal or economic, got "
                                                 f"{pub['measure']!r}")
    low = _number(pub["published_low"], f"{where}.published.published_low", fail)
    high = _number(pub["published_high"], f"{where}.published.published_high", fail)
    if low > high:
        raise fail(f"{where}.published", f"published_low {low} exceeds published_high {high}")
    published = PublishedReturn(
        measure=pub["measure"], low=low, high=high, source=str(pub["source"]),
        note=str(pub.get("note", "")), economic_low=pub.get("economic_low"),
        economic_high=pub.get("economic_high"), economic_source=pub.get("economic_source"))
    return ServiceEvidence(id=sid, label=str(m["label"]), effects=tuple(effects),
                           model_effect=dict(m["model_effect"]),
                           time_to_effect_months=dict(m["time_to_effect_months"]),
                           decay=dict(m["decay"]), cba=dict(cba), published=published,
                           reason=str(m.get("reason") or "").strip(), data=dict(m))


def _mapping(value: Any, where: str, fail) -> dict:
    if not isinstance(value, Mapping):
        raise fail(where, f"expected a mapping, got {type(value).__name__}")
    return dict(value)


def _number(value: Any, where: str, fail, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(where, f"expected a number, got {value!r}")
    if positive and value <= 0:
        raise fail(where, f"expected a positive number, got {value!r}")
    return float(value)
