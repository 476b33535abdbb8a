"""Place profiles: what a council analyst can look up about their place (docs/place-profile.md).

A profile is one YAML file (one place) or one row of a CSV table (many places)::

    name: my_place                     # an id: letters, digits, '_' and '-'
    label: My Place Council            # optional
    tier: unitary                      # unitary | county | district | metropolitan_borough |
                                       #   london_borough | combined_authority
    population: {"0-17": 62400, "18-64": 182400, "65+": 55200, "85+": 7200}   # people
    deprivation:
      imd_decile: 5.5                  # 1 (most deprived tenth of authorities) .. 10; 5.5 = England
      # or imd_score: 21.7             # the authority's IMD 2019 average score
      bands: {q1: 0.2, q2: 0.2, q3: 0.2, q4: 0.2, q5: 0.2}   # optional: population share by
                                       #   national IMD quintile of neighbourhood, q1 most deprived
      band_need: {children: {q1: 2.2, q2: 1.3, q3: 0.8, q4: 0.5, q5: 0.3}}   # optional, with
                                       #   bands: need multipliers by cohort (tpsim.place.bands)
    budgets: {council_asc: 64701523}   # optional: GBP a year for the modelled services
    reserves: {council_asc: 23292548}  # optional: GBP
    activity:                          # optional counts (see ACTIVITY)
      children_looked_after: 437

The CSV form has one column per field: ``name, label, tier, pop_0_17, pop_18_64, pop_65_plus,
pop_85_plus, imd_decile, imd_score, dep_q1..dep_q5, budget_<agency>, reserves_<agency>`` and
one column per activity count; an empty cell is "not given". Every problem is a
:class:`~tpsim.errors.TpsimError` naming the file, the key (or row and column) and the line.
"""
from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpsim.config.yamlio import Bound, check_number, locate, read_yaml
from tpsim.errors import TpsimError
from tpsim.errors import describe as _describe
from tpsim.errors import suggest as _suggest

__all__ = ["Profile", "TIERS", "ACTIVITY", "BANDS", "read_profiles", "load_profile",
           "load_profiles",
           "profile_from_dict", "NATIONAL_DECILE"]

TIERS = ("unitary", "county", "district", "metropolitan_borough", "london_borough",
         "combined_authority")

#: Activity counts a profile may give: key -> what it is (people at a point in time, or places).
ACTIVITY = {
    "children_looked_after": "children looked after at 31 March (DfE SSDA903)",
    "child_protection_plans": "children on a child protection plan at 31 March (DfE CIN census)",
    "children_in_need": "children in need at 31 March, including those on a plan and looked "
                        "after (DfE CIN census definition)",
    "care_home_65": "people aged 65+ in council-funded residential or nursing care at a point "
                    "in time (ASC-FR / SALT)",
    "long_term_support_home_65": "people aged 65+ receiving council-funded long-term support "
                                 "in the community at a point in time (SALT)",
    "uc_no_work_requirements": "Universal Credit claimants with no work requirements "
                               "(DWP Stat-Xplore)",
    "drug_treatment_places": "adults in drug and alcohol treatment at a point in time (NDTMS)",
}

BANDS = ("q1", "q2", "q3", "q4", "q5")

#: The IMD decile of a place with England's average deprivation (the shipped baseline).
NATIONAL_DECILE = 5.5

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_POPULATION_BANDS = ("0-17", "18-64", "65+", "85+")
_TOP_KEYS = ("name", "label", "tier", "population", "deprivation", "budgets", "reserves",
             "activity", "notes")
_DEPRIVATION_KEYS = ("imd_decile", "imd_score", "bands", "band_need")
_BAND_TOLERANCE = 1e-6

#: Upper edges of the national LSOA IMD 2019 score deciles, most deprived first: a score at or
#: above ``_SCORE_DECILES[k]`` is decile k + 1. Approximate (assumption, docs/place-profile.md):
#: used only to turn an authority's average score into an equivalent decile.
_SCORE_DECILES = (45.0, 34.2, 27.5, 22.6, 18.6, 15.1, 12.2, 9.6, 7.0)


@dataclass(frozen=True)
class Profile:
    """One place. People are counts at mid-year; money GBP a year (budgets) or GBP (reserves).

    ``decile`` is the equivalent IMD decile (1 most deprived .. 10; fractional allowed,
    5.5 = England), from ``imd_decile`` or ``imd_score``; ``bands`` the population share by
    national IMD quintile of neighbourhood when given; ``given`` the profile keys the user
    wrote (for the scenario's comments).
    """

    name: str
    label: str
    tier: str
    population: dict[str, float]
    decile: float
    imd_score: float | None = None
    bands: dict[str, float] | None = None
    budgets: dict[str, float] = field(default_factory=dict)
    reserves: dict[str, float] = field(default_factory=dict)
    activity: dict[str, float] = field(default_factory=dict)
    source: str = "<profile>"
    given: tuple[str, ...] = ()
    band_need: dict[str, dict[str, float]] | None = None

    @property
    def total(self) -> float:
        """Residents (people)."""
        return self.population["0-17"] + self.population["18-64"] + self.population["65+"]

    @property
    def share_85(self) -> float | None:
        """Share of the 65+ who are 85+, when the profile gives 85+."""
        if "85+" not in self.population:
            return None
        return self.population["85+"] / self.population["65+"] if self.population["65+"] else 0.0


def score_to_decile(score: float) -> float:
    """The IMD decile equivalent to an IMD 2019 average score (whole decile, 1 most deprived)."""
    for k, edge in enumerate(_SCORE_DECILES):
        if score >= edge:
            return float(k + 1)
    return 10.0


class _Reader:
    """Checks one profile (a mapping) and builds a :class:`Profile`; errors name the source."""

    def __init__(self, source: str, locations: Mapping | None = None, where: str = "") -> None:
        self.source, self.locations, self.where = source, locations or {}, where

    def error(self, key: str, message: str) -> TpsimError:
        loc = locate(self.locations, key) if self.locations else None
        if loc is not None:
            return TpsimError(message, file=loc[0], key=key, line=loc[1])
        return TpsimError(message, file=self.source, key=f"{self.where}{key}")

    def number(self, value: Any, key: str, bound: Bound) -> float:
        return check_number(value, key, self.error, bound)

    def mapping(self, value: Any, key: str) -> Mapping:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {_describe(value)}")
        return value

    def read(self, raw: Any, agencies: tuple[str, ...] | None = None) -> Profile:
        top = self.mapping(raw, "")
        for key in top:
            if key not in _TOP_KEYS:
                raise self.error(str(key), "unknown key" + _suggest(str(key), _TOP_KEYS))
        name = top.get("name")
        if not isinstance(name, str) or not _ID.match(name):
            raise self.error("name", f"expected an id of letters, digits, '_' and '-' starting "
                                     f"with a letter, got {_describe(name)}")
        label = top.get("label", name)
        if not isinstance(label, str):
            raise self.error("label", f"expected text, got {_describe(label)}")
        tier = top.get("tier")
        if tier not in TIERS:
            raise self.error("tier", f"expected one of {', '.join(TIERS)}, got {_describe(tier)}"
                             + (_suggest(tier, TIERS) if isinstance(tier, str) else ""))
        population = self.population(top.get("population"))
        decile, score, bands, band_need = self.deprivation(top.get("deprivation"))
        budgets = self.money(top.get("budgets"), "budgets", agencies)
        reserves = self.money(top.get("reserves"), "reserves", agencies)
        activity = {}
        for key, value in self.mapping(top.get("activity"), "activity").items():
            if key not in ACTIVITY:
                raise self.error(f"activity.{key}", "unknown activity count"
                                 + _suggest(str(key), tuple(ACTIVITY)))
            activity[key] = self.number(value, f"activity.{key}", Bound(0.0))
        given = tuple(k for k in ("population", "deprivation", "budgets", "reserves", "activity")
                      if top.get(k))
        given += tuple(f"population.{b}" for b in population)
        given += tuple(f"activity.{k}" for k in activity)
        given += tuple(f"budgets.{a}" for a in budgets) + tuple(f"reserves.{a}" for a in reserves)
        if score is not None:
            given += ("deprivation.imd_score",)
        elif "imd_decile" in self.mapping(top.get("deprivation"), "deprivation"):
            given += ("deprivation.imd_decile",)
        if bands is not None:
            given += ("deprivation.bands",)
        if band_need is not None:
            given += ("deprivation.band_need",)
        return Profile(name, label, tier, population, decile, score, bands, budgets, reserves,
                       activity, self.source, given, band_need)

    def population(self, raw: Any) -> dict[str, float]:
        m = self.mapping(raw, "population")
        out = {}
        for key, value in m.items():
            key = str(key)
            if key not in _POPULATION_BANDS:
                raise self.error(f"population.{key}", f"unknown age band (expected "
                                 f"{', '.join(_POPULATION_BANDS)})")
            out[key] = self.number(value, f"population.{key}", Bound(0.0))
        for key in ("0-17", "18-64", "65+"):
            if key not in out:
                raise self.error(f"population.{key}", "required: residents in this age band")
        if out["65+"] <= 0.0 or out["0-17"] <= 0.0 or out["18-64"] <= 0.0:
            raise self.error("population", "every age band 0-17, 18-64 and 65+ needs people")
        if "85+" in out and out["85+"] > out["65+"]:
            raise self.error("population.85+", f"cannot exceed 65+ ({out['65+']:g}), which "
                                               f"includes it")
        return out

    def deprivation(self, raw: Any) -> tuple[float, float | None, dict[str, float] | None,
                                             dict[str, dict[str, float]] | None]:
        m = self.mapping(raw, "deprivation")
        for key in m:
            if key not in _DEPRIVATION_KEYS:
                raise self.error(f"deprivation.{key}", "unknown key"
                                 + _suggest(str(key), _DEPRIVATION_KEYS))
        if "imd_decile" in m and "imd_score" in m:
            raise self.error("deprivation", "give imd_decile or imd_score, not both")
        score = None
        if "imd_score" in m:
            score = self.number(m["imd_score"], "deprivation.imd_score", Bound(0.0, True, 100.0))
            decile = score_to_decile(score)
        elif "imd_decile" in m:
            decile = self.number(m["imd_decile"], "deprivation.imd_decile", Bound(1.0, True, 10.0))
        else:
            decile = NATIONAL_DECILE
        bands = None
        if m.get("bands") is not None:
            b = self.mapping(m["bands"], "deprivation.bands")
            bands = {}
            for key in BANDS:
                if key not in b:
                    raise self.error(f"deprivation.bands.{key}", "required: the population "
                                     "share in this national IMD quintile (0 if none)")
                bands[key] = self.number(b[key], f"deprivation.bands.{key}", Bound(0.0, True, 1.0))
            for key in b:
                if key not in BANDS:
                    raise self.error(f"deprivation.bands.{key}", "unknown band (q1 = most "
                                     "deprived national quintile .. q5)")
            total = sum(bands.values())
            if abs(total - 1.0) > _BAND_TOLERANCE:
                raise self.error("deprivation.bands", f"shares must sum to 1 (got {total:.6g})")
        band_need = None
        if m.get("band_need") is not None:
            if bands is None:
                raise self.error("deprivation.band_need", "needs deprivation.bands (the "
                                 "population share of each band)")
            band_need = {}
            for cohort, raw_need in self.mapping(m["band_need"], "deprivation.band_need").items():
                key = f"deprivation.band_need.{cohort}"
                need = self.mapping(raw_need, key)
                for q in need:
                    if q not in BANDS:
                        raise self.error(f"{key}.{q}", "unknown band (q1 = most deprived "
                                         "national quintile .. q5)")
                missing = [q for q in BANDS if q not in need]
                if missing:
                    raise self.error(f"{key}.{missing[0]}", "required: the need multiplier "
                                     "of this band")
                band_need[str(cohort)] = {q: self.number(need[q], f"{key}.{q}",
                                                         Bound(0.0, False)) for q in BANDS}
        return decile, score, bands, band_need

    def money(self, raw: Any, key: str, agencies: tuple[str, ...] | None) -> dict[str, float]:
        out = {}
        for a, value in self.mapping(raw, key).items():
            if agencies is not None and a not in agencies:
                raise self.error(f"{key}.{a}", "not an agency of the scenario"
                                 + _suggest(str(a), agencies))
            out[str(a)] = self.number(value, f"{key}.{a}", Bound(0.0))
        return out


def profile_from_dict(data: Mapping, source: str = "<profile>",
                      agencies: tuple[str, ...] | None = None) -> Profile:
    """A checked :class:`Profile` from a mapping in the YAML form."""
    return _Reader(source).read(data, agencies)


def read_profiles(source, agencies: tuple[str, ...] | None = None) -> list[Profile]:
    """The profiles of ``source``, the one reader both ``tpsim place`` and ``tpsim places``
    use: a :class:`Profile` or a list of them (checked against ``agencies`` when given), a
    YAML file (one place) or a places CSV (one place a row)."""
    if isinstance(source, Profile):
        source = [source]
    if not isinstance(source, (str, os.PathLike)):
        profiles = list(source)
        for p in profiles:
            if not isinstance(p, Profile):
                raise TpsimError(f"expected place profiles, got {_describe(p)}")
            bad = [a for a in (*p.budgets, *p.reserves) if agencies is not None
                   and a not in agencies]
            if bad:
                raise TpsimError("not an agency of the scenario" + _suggest(bad[0], agencies),
                                 file=p.source, key=f"budgets.{bad[0]}")
        return profiles
    path = Path(source)
    if path.suffix.lower() == ".csv":
        return load_profiles(path, agencies)
    document = read_yaml(path)
    return [_Reader(document.file, document.locations).read(document.data, agencies)]


def load_profile(path, agencies: tuple[str, ...] | None = None) -> Profile:
    """One profile (a :class:`Profile`, a YAML file, or a CSV file of exactly one row)."""
    profiles = read_profiles(path, agencies)
    if len(profiles) != 1:
        raise TpsimError(f"a place profile CSV for one place needs one row (got "
                         f"{len(profiles)}); use tpsim places for many",
                         file=os.fspath(path) if isinstance(path, (str, os.PathLike)) else None)
    return profiles[0]


def _csv_row_to_dict(row: Mapping[str, str], fail) -> dict:
    """The YAML form of one CSV row (empty cells left out)."""
    def cell(column: str) -> Any:
        text = (row.get(column) or "").strip()
        if not text:
            return None
        try:
            value = float(text.replace(",", "")) if column not in ("name", "label", "tier") \
                else text
        except ValueError:
            raise fail(column, f"expected a number, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(column, f"must be a finite number (got {text})")
        return value

    out: dict[str, Any] = {}
    for key in ("name", "label", "tier"):
        if cell(key) is not None:
            out[key] = cell(key)
    population = {band: cell(col) for band, col in (("0-17", "pop_0_17"), ("18-64", "pop_18_64"),
                                                    ("65+", "pop_65_plus"),
                                                    ("85+", "pop_85_plus"))}
    out["population"] = {k: v for k, v in population.items() if v is not None}
    deprivation: dict[str, Any] = {}
    for key in ("imd_decile", "imd_score"):
        if cell(key) is not None:
            deprivation[key] = cell(key)
    bands = {q: cell(f"dep_{q}") for q in BANDS}
    if any(v is not None for v in bands.values()):
        deprivation["bands"] = {q: (0.0 if v is None else v) for q, v in bands.items()}
    out["deprivation"] = deprivation
    for prefix, key in (("budget_", "budgets"), ("reserves_", "reserves")):
        block = {c[len(prefix):]: cell(c) for c in row if c and c.startswith(prefix)}
        out[key] = {a: v for a, v in block.items() if v is not None}
    out["activity"] = {k: cell(k) for k in ACTIVITY if cell(k) is not None}
    return out


_CSV_COLUMNS = ("name", "label", "tier", "pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus",
                "imd_decile", "imd_score", *(f"dep_{q}" for q in BANDS), *ACTIVITY, "notes")


def load_profiles(path: str | os.PathLike, agencies: tuple[str, ...] | None = None
                  ) -> list[Profile]:
    """Every profile of a places CSV (one row per place; '#' lines are comments)."""
    path = Path(path)
    display = os.fspath(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TpsimError(f"cannot read the file ({exc.strerror})", file=display) from None
    except UnicodeDecodeError:
        raise TpsimError("cannot read the file: it is not UTF-8 text", file=display) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise TpsimError("no header row", file=display)
    reader = csv.DictReader([line for _, line in lines])
    header = reader.fieldnames or []
    for column in header:
        if column in _CSV_COLUMNS or column.startswith(("budget_", "reserves_")):
            continue
        raise TpsimError(f"unknown column {column!r}" + _suggest(column, _CSV_COLUMNS),
                         file=display, line=lines[0][0])
    profiles, names = [], set()
    for (line_no, _), row in zip(lines[1:], reader):
        def fail(column: str, message: str, line_no=line_no) -> TpsimError:
            return TpsimError(message, file=display, key=column, line=line_no)
        data = _csv_row_to_dict(row, fail)
        reader_ = _Reader(display, where=f"row {line_no}: ")
        try:
            profile = reader_.read(data, agencies)
        except TpsimError as err:
            raise TpsimError(err.message, file=display, key=err.key.split(": ", 1)[-1]
                             if err.key else None, line=line_no) from None
        if profile.name in names:
            raise fail("name", f"place {profile.name!r} appears twice")
        names.add(profile.name)
        profiles.append(profile)
    if not profiles:
        raise TpsimError("no places: the table has a header but no rows", file=display)
    return profiles
