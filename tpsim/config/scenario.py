"""Load, merge and validate scenario files.

``docs/scenario-format.md`` is the contract for the file format. This module turns a scenario
file (or a plain dict) into a frozen :class:`Scenario` whose ``data`` is the *resolved* dict the
compile step reads:

1. read the YAML with the one reader, :func:`tpsim.config.yamlio.read_yaml` (safe, ``1e6`` is a
   number, duplicate keys refused, alias expansion bounded), which records every key's line;
2. follow ``extends``: the parent is loaded first (recursively) and the child merged into it;
3. validate every key, type, range and reference, and fill in every default.

``extends`` semantics
    The path is relative to the extending file. Child mappings merge key by key into the parent
    (recursively); lists and scalars (including ``null``) replace the parent's value. In
    particular a child's ``changes`` list *replaces* the parent's list entirely: restate any
    parent change you want to keep. ``name``, ``title`` and ``description`` identify one file
    and are never inherited: they default to the child's file name. A cycle of ``extends`` is an
    error naming the file that closes it. The location recorded for a key is the file (and line)
    that last set it.

Resolved data
    Top-level keys ``name, title, description, price_year, sources, time, loops, agencies,
    cohorts, services, pool, appraisal, changes, uncertainty`` are always present (``extends``
    is dropped; ``uncertainty`` is ``{}`` when absent, see :mod:`tpsim.config.uncertainty`).
    Every default is filled in. Numbers are ``float``, except ``time.horizon`` and
    ``services.<v>.delay_order`` (``int``); switches are ``bool``; ``capacity`` and ``utility``
    may be ``None``. Mappings keep document order (states from low to high need). ``changes``
    is a list of ``{"month": float, "set": {dotted path: float}}`` sorted by month (stable, so a
    later entry for the same month wins); switches in ``set`` are stored as 0.0 / 1.0.
    Units are those of the format document: money in real £ at ``price_year``, time in months,
    rates per person-month (or per month), growth rates as fractions per year.

Every problem raises :class:`~tpsim.errors.ScenarioError` naming the file, the dotted key path
and, where known, the line. Code outside this package reads a scenario through the typed
accessors of :class:`Scenario` and changes it with :meth:`Scenario.replace`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from tpsim.config.parameters import is_switch as _is_switch
from tpsim.config.parameters import parameter_paths as _parameter_paths
from tpsim.config.parameters import set_path as _set_path
from tpsim.config.parameters import with_path as _with_path
from tpsim.config.parameters import unknown_parameter as _unknown_parameter
from tpsim.config.uncertainty import resolve_section
from tpsim.config.yamlio import (MAX_MAGNITUDE, Bound, Location, check_number, file_problem,
                                 join as _join, locate, plain_number, read_yaml)
from tpsim.errors import ScenarioError
from tpsim.errors import describe as _describe
from tpsim.errors import suggest as _suggest

__all__ = ["Scenario", "TimeSettings", "load_scenario", "scenario_from_dict"]

# ---------------------------------------------------------------------------------------------
# The schema: keys, defaults and ranges (docs/scenario-format.md)
# ---------------------------------------------------------------------------------------------


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


_REQUIRED: Any = _Required()


_ANY = Bound()
_NONNEG = Bound(0.0)
_POSITIVE = Bound(0.0, low_closed=False)
_FRACTION = Bound(0.0, True, 1.0, True)
_FRACTION_BELOW_1 = Bound(0.0, True, 1.0, False)
_GROWTH = Bound(-1.0, False, 10.0, True)  # fraction per year, > -1 and at most +1000%
_UTILITY = Bound(-1.0, True, 1.0, True)


class _Num(NamedTuple):
    """A numeric key: its default (or _REQUIRED) and allowed range; nullable allows ``null``."""

    default: Any
    bound: Bound
    nullable: bool = False


_TOP_KEYS = (
    "name", "title", "description", "extends", "price_year", "sources", "time", "loops",
    "agencies", "cohorts", "services", "pool", "appraisal", "changes", "uncertainty",
)
# Identify one file; never inherited through ``extends``.
_NOT_INHERITED = ("name", "title", "description")

_TIME_KEYS = ("start", "horizon", "dt", "method")
_METHODS = ("euler", "rk4")
_START_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

_LOOP_KEYS = ("doom_loop", "reinvestment", "waiting_deterioration", "quality_erosion")

_AGENCY_TYPES = ("council", "nhs", "police", "dwp", "other")
_AGENCY_NUMBERS = {
    "budget": _Num(_REQUIRED, _NONNEG),  # £ per month at month 0
    "budget_growth": _Num(0.0, _GROWTH),  # fraction per year (real)
    "reserves": _Num(0.0, _ANY),  # £ at month 0
    "overhead": _Num(0.0, _NONNEG),  # fraction of service spend
    "perception_delay": _Num(6.0, _POSITIVE),  # months
    "cut_rate": _Num(0.0, _NONNEG),  # per month per unit of pressure above 1
    "restore_rate": _Num(0.0, _NONNEG),  # per month
    "funding_floor": _Num(0.0, _FRACTION),  # fraction of preventive funding
    "efficiency_target": _Num(0.0, _FRACTION_BELOW_1),  # unit-cost reduction, fraction per year
    "quality_erosion": _Num(0.0, _NONNEG),  # escalation rise per unit of unit-cost reduction
}
_AGENCY_KEYS = ("label", "type", *_AGENCY_NUMBERS)

_COHORT_KEYS = ("label", "inflow_growth", "employment_value", "transition", "states")
_COHORT_NUMBERS = {
    "inflow_growth": _Num(0.0, _GROWTH),  # fraction per year
    "employment_value": _Num(0.0, _NONNEG),  # £ of tax and NI per person-month in work
}
_TRANSITION_KEYS = ("cohort", "states")
_STATE_NUMBERS = {
    "initial": _Num(_REQUIRED, _NONNEG),  # people at month 0
    "inflow": _Num(0.0, _NONNEG),  # people per month
    "escalation": _Num(0.0, _NONNEG),  # per person-month, to the next state
    "recovery": _Num(0.0, _NONNEG),  # per person-month, to the previous state
    "exit": _Num(0.0, _NONNEG),  # per person-month, out of the model
    "utility": _Num(None, _UTILITY, nullable=True),  # QALY weight of a person-year
    "death_share": _Num(0.0, _FRACTION),  # share of exits that are deaths
    "transition_share": _Num(0.0, _FRACTION),  # share of exits that move to another cohort
    "employment": _Num(0.0, _FRACTION),  # share of the state's people in work
}

_SERVICE_KINDS = ("preventive", "reactive")
_SERVICE_COMMON_KEYS = ("label", "agency", "cohort", "kind", "unit_cost")
# £ per funded place per month (preventive), £ per event (reactive)
_UNIT_COST = _Num(_REQUIRED, _NONNEG)
_PREVENTIVE_NUMBERS = {
    "places": _Num(_REQUIRED, _NONNEG),  # funded places
    "uptake": _Num(1.0, _FRACTION),  # highest reachable coverage
    "effect": _Num(_REQUIRED, _FRACTION),  # fractional cut in escalation at full coverage
    "time_to_effect": _Num(6.0, _POSITIVE),  # months
    "recovery_effect": _Num(0.0, _NONNEG),  # relative rise in recovery at full coverage
    "short_run_effect": _Num(0.0, _NONNEG),  # relative rise in escalation while effect builds
    "effect_decay": _Num(None, _POSITIVE, nullable=True),  # months the effect persists
    "deadweight": _Num(0.0, _FRACTION),  # share of the outcome that would have happened anyway
    "displacement": _Num(0.0, _FRACTION),  # share of the outcome moved elsewhere, not removed
    "attribution": _Num(1.0, _FRACTION),  # share of the outcome credited to this service
}
_LINK_EFFECT = _Num(_REQUIRED, _FRACTION)  # utilisation cut / substituted share at full coverage
_DELAY_ORDER_DEFAULT, _DELAY_ORDER_RANGE = 3, (1, 10)
_COMMUNITY_NUMBERS = {
    "places": _Num(0.0, _NONNEG),  # target places
    "unit_cost": _Num(0.0, _NONNEG),  # £ per place per month
    "ramp_time": _Num(12.0, _POSITIVE),  # months
}
_PREVENTIVE_KEYS = ("states", "places", "uptake", "effect", "time_to_effect", "delay_order",
                    "community", "recovery_effect", "short_run_effect", "effect_decay",
                    "utilisation_effects", "substitutes", "deadweight", "displacement",
                    "attribution")
_REACTIVE_NUMBERS = {
    "fixed_share": _Num(0.0, _FRACTION),  # share of unit cost that is fixed
    "decommission_delay": _Num(12.0, _POSITIVE),  # months
    "capacity": _Num(None, _POSITIVE, nullable=True),  # events per month; None = unlimited
    "queue_clear_time": _Num(1.0, _POSITIVE),  # months
    "deterioration": _Num(0.0, _NONNEG),  # relative rise in escalation while waiting
    "cashable_share": _Num(1.0, _FRACTION),  # share of freed fixed capacity decommissioned
}
_UTILISATION = _Num(_REQUIRED, _NONNEG)  # events per person-month
_REACTIVE_KEYS = ("utilisation", *_REACTIVE_NUMBERS)
_SERVICE_KEYS = (*_SERVICE_COMMON_KEYS, *_PREVENTIVE_KEYS, *_REACTIVE_KEYS)

_POOL_NUMBERS_HEAD = {"start": _Num(0.0, _NONNEG)}  # month the pool opens
_POOL_NUMBERS_MID = {
    "capture_share": _Num(0.0, _FRACTION),  # share of cashable savings paid back
    "reinvestment_delay": _Num(12.0, _POSITIVE),  # months
    "baseline_growth": _Num(0.0, _GROWTH),  # fraction per year
    "adjust_time": _Num(6.0, _POSITIVE),  # months
    "spend_down_time": _Num(12.0, _POSITIVE),  # months
    "setup_cost": _Num(0.0, _NONNEG),  # £, one-off
    "setup_months": _Num(12.0, _POSITIVE),  # months
}
_DOUBLE_RUNNING_NUMBERS = {
    "cost": _Num(0.0, _NONNEG),  # £ per month
    "months": _Num(0.0, _NONNEG),  # months from start
}
_POOL_NUMBERS_TAIL = {
    "overhead_reduction": _Num(0.0, _FRACTION),  # fall in participants' overhead
    "overhead_ramp": _Num(24.0, _POSITIVE),  # months
}
_POOL_SHARE = _Num(_REQUIRED, _FRACTION)
_POOL_KEYS = ("enabled", *_POOL_NUMBERS_HEAD, "contributions", "services", *_POOL_NUMBERS_MID,
              "double_running", *_POOL_NUMBERS_TAIL)

_APPRAISAL_NUMBERS = {
    "discount_rate": _Num(0.035, _NONNEG),  # per year (Green Book STPR)
    "health_discount_rate": _Num(0.015, _NONNEG),  # per year
    "optimism_bias": _Num(None, _NONNEG, nullable=True),  # uplift on costs, fraction
    "qaly_value": _Num(70000.0, _NONNEG),  # £ per QALY at qaly_price_year (Green Book 2022)
    "qaly_uprating": _Num(1.0, _POSITIVE),  # factor from qaly_price_year to price_year
    "benefit_haircut": _Num(0.0, _FRACTION),  # optimism bias on benefits: fractional cut
    "employment_output_value": _Num(0.0, _NONNEG),  # £ of output per extra person-month in work
}
_APPRAISAL_KEYS = (*_APPRAISAL_NUMBERS, "value_qalys", "qaly_price_year",
                   "optimism_bias_category", "optimism_bias_reason", "benefit_delay_months",
                   "outcome_values", "employment_output_source")
# Green Book supplementary guidance on optimism bias: upper bounds by project category
_OPTIMISM_BIAS_CATEGORIES = {
    "standard_buildings": 0.24, "non_standard_buildings": 0.51,
    "standard_civil_engineering": 0.44, "non_standard_civil_engineering": 0.66,
    "equipment_development": 2.00, "outsourcing": 0.41,
}
_OUTCOME_VALUE_KEYS = ("value", "per", "discount", "source")
_OUTCOME_MEASURES = ("escalations", "crisis_person_months", "exits")

_CHANGE_KEYS = ("month", "set")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")

_DT_WHOLE_TOLERANCE = 1e-9  # |1/dt - round(1/dt)|
_DT_RATE_TOLERANCE = 1e-12  # dt x rate <= 1 + this

#: Longest horizon, months (100 years: beyond any appraisal period).
MAX_HORIZON = 1200
#: Most time steps a run may take (horizon / dt): about 2 s for the shipped baseline place, so
#: an ensemble or a fit stays practical; dt = 1e-6 would take hours per run.
MAX_STEPS = 200_000
_SHARE_SUM_TOLERANCE = 1e-9
#: Longest chain of ``extends`` (a file extending a file ...); real chains have two or three.
MAX_EXTENDS_DEPTH = 32

# ---------------------------------------------------------------------------------------------
# Scenario
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeSettings:
    """The ``time`` section: first month (``YYYY-MM``), run length (whole months), step
    (months; 1/dt is a whole number) and integration method (``euler`` or ``rk4``)."""

    start: str
    horizon: int
    dt: float
    method: str


def _read_only(value: Any) -> Any:
    """A read-only deep view: mappings become ``MappingProxyType``, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_read_only(v) for v in value)
    return value


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name:
        The scenario name (``data["name"]``).
    path:
        The file it was loaded from, or None for a dict.
    data:
        The resolved dict (see the module docstring). Treat it as read-only; code outside
        this package reads it through the typed accessors below.
    locations:
        Dotted key path -> (file, 1-based line) of the file that last set the key. Partial:
        defaults and dict-built scenarios have no entry.

    Accessors: :attr:`time` is a frozen :class:`TimeSettings`; :attr:`title`,
    :attr:`description` and :attr:`price_year` are text; the sections :attr:`sources`,
    :attr:`loops`, :attr:`agencies`, :attr:`cohorts`, :attr:`services`, :attr:`pool`,
    :attr:`appraisal` and :attr:`uncertainty` are read-only mappings (``MappingProxyType``,
    nested mappings too, lists as tuples) keyed as in the resolved data; :attr:`changes` is a
    tuple of read-only ``{"month", "set"}`` mappings. Views are built once per scenario.
    :meth:`as_dict` gives a mutable deep copy of the resolved data; :meth:`replace` gives a
    changed, re-validated scenario.
    """

    name: str
    path: Path | None = field(compare=False)
    data: dict
    locations: dict = field(default_factory=dict, compare=False, repr=False)

    def __hash__(self) -> int:
        return int(self.hash, 16)

    def __getstate__(self) -> dict:
        # the cached read-only views (MappingProxyType) cannot be pickled; they are rebuilt
        return {key: self.__dict__[key] for key in ("name", "path", "data", "locations")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def hash(self) -> str:
        """First 12 hex digits of the SHA-256 of the resolved data as canonical JSON."""
        text = json.dumps(self.data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    # -- typed accessors ----------------------------------------------------------------------

    @property
    def title(self) -> str:
        """The title (defaults to the name)."""
        return self.data["title"]

    @property
    def description(self) -> str:
        return self.data["description"]

    @property
    def price_year(self) -> str:
        """The price base of every money value, e.g. ``"2024-25"``."""
        return self.data["price_year"]

    @cached_property
    def time(self) -> TimeSettings:
        return TimeSettings(**self.data["time"])

    @cached_property
    def sources(self) -> Mapping[str, str]:
        """Citation id -> citation text."""
        return _read_only(self.data["sources"])

    @cached_property
    def loops(self) -> Mapping[str, bool]:
        """Feedback loop -> switched on."""
        return _read_only(self.data["loops"])

    @cached_property
    def agencies(self) -> Mapping[str, Mapping[str, Any]]:
        return _read_only(self.data["agencies"])

    @cached_property
    def cohorts(self) -> Mapping[str, Mapping[str, Any]]:
        return _read_only(self.data["cohorts"])

    @cached_property
    def services(self) -> Mapping[str, Mapping[str, Any]]:
        return _read_only(self.data["services"])

    @cached_property
    def pool(self) -> Mapping[str, Any]:
        return _read_only(self.data["pool"])

    @cached_property
    def appraisal(self) -> Mapping[str, Any]:
        """Discount rates (per year), optimism bias, £ per QALY and ``value_qalys``."""
        return _read_only(self.data["appraisal"])

    @cached_property
    def changes(self) -> tuple[Mapping[str, Any], ...]:
        """Time-keyed changes, ``{"month": float, "set": {path: float}}``, by month."""
        return _read_only(self.data["changes"])

    @cached_property
    def uncertainty(self) -> Mapping[str, Any]:
        """The resolved ``uncertainty`` section (empty when the scenario has none)."""
        return _read_only(self.data["uncertainty"])

    def as_dict(self) -> dict:
        """A mutable deep copy of the resolved data (for building a changed scenario)."""
        return copy.deepcopy(self.data)

    # -- paths --------------------------------------------------------------------------------

    def get(self, path: str) -> Any:
        """The value at a dotted path, e.g. ``"services.falls_prevention.effect"``.

        List items are addressed by index (``"changes.0.month"``). An unknown path raises
        :class:`ScenarioError`.
        """
        node: Any = self.data
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ScenarioError(
                    "no such key path" + _suggest(path, self.parameter_paths()),
                    file=self._display(), key=path)
        return node

    def parameter_paths(self) -> list[str]:
        """Every addressable parameter, in document order.

        The numeric leaves of ``agencies``, ``cohorts`` (not ``utility``), ``services`` (not
        ``delay_order``; ``capacity`` only when set) and ``pool``, plus the switches in
        ``loops`` and ``pool.enabled`` (overridden as 0 or 1). Not ``time``, ``appraisal`` or
        ``changes``.
        """
        return _parameter_paths(self.data)

    # -- changed copies -----------------------------------------------------------------------

    def replace(self, *, dt: float | None = None, method: str | None = None,
                horizon: int | None = None, overrides: Mapping[str, float] | None = None,
                capacity_limits: bool = True) -> Scenario:
        """A copy with settings changed, fully re-validated (same name, path and locations).

        ``dt`` (months), ``method`` and ``horizon`` (months) replace the ``time`` settings
        where given; a shorter ``horizon`` drops the ``changes`` from months it never reaches. ``capacity_limits=False`` removes every reactive service's capacity
        (and the ``changes`` that set one). ``overrides`` maps paths from
        :meth:`parameter_paths` to numbers; switches accept 0 or 1 (or a bool); ``changes``
        still apply on top of the overridden values at their months. Returns ``self`` when
        nothing changes. Errors are :class:`ScenarioError`: an unknown override path or value
        names ``<overrides of NAME>``; otherwise the scenario's file and the key, e.g. a
        ``dt`` too large for the fastest rate is reported against ``time.dt``.
        """
        if dt is None and method is None and horizon is None and not overrides \
                and capacity_limits:
            return self
        data = copy.deepcopy(self.data)
        if dt is not None:
            data["time"]["dt"] = float(dt)
        if method is not None:
            data["time"]["method"] = method
        if horizon is not None:
            data["time"]["horizon"] = int(horizon)
            # a change from a month the shorter run never reaches cannot act: drop it
            data["changes"] = [ch for ch in data.get("changes", [])
                               if float(ch["month"]) < int(horizon)]
        if not capacity_limits:
            _remove_capacity_limits(data)
        source = self._display()
        if overrides:
            source = f"<overrides of {self.name}>"
            paths = _parameter_paths(data)
            known = set(paths)
            for path, value in overrides.items():
                if path not in known:
                    raise ScenarioError(_unknown_parameter(path, paths, data), file=source,
                                        key=path)
                _set_path(data, path, _parameter_value(value, path, _is_switch(path), source,
                                                       path))
        resolved = _Validator(source, {}).resolve(data, self.name)
        return Scenario(self.name, self.path, resolved, self.locations)

    def _display(self) -> str:
        return os.fspath(self.path) if self.path is not None else f"<{self.name}>"


def _remove_capacity_limits(data: dict) -> None:
    """Set every reactive service's capacity to None (unlimited) in resolved ``data`` and drop
    the capacity settings from its ``changes`` (a change left empty goes)."""
    for service in data["services"].values():
        if service["kind"] == "reactive":
            service["capacity"] = None
    changes = []
    for change in data["changes"]:
        kept = {p: v for p, v in change["set"].items()
                if not (p.startswith("services.") and p.endswith(".capacity"))}
        if kept:
            changes.append({"month": change["month"], "set": kept})
    data["changes"] = changes


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load, merge (``extends``) and validate the scenario file at ``path``."""
    path = Path(path)
    display = os.fspath(path)
    problem = file_problem(path, "scenario file")
    if problem:
        raise ScenarioError(problem, file=display)
    raw, locations = _load_merged(path, display, chain=())
    resolved = _Validator(display, locations).resolve(raw, _stem(path))
    return Scenario(resolved["name"], path, resolved, locations)


def scenario_from_dict(
    data: Mapping[str, Any],
    source: str = "<dict>",
    base_dir: str | os.PathLike[str] | None = None,
) -> Scenario:
    """Validate a scenario given as a dict (tests, programmatic use).

    ``source`` names the scenario in error messages; the default name is its file stem, or
    ``"scenario"`` for a ``<...>`` source. An ``extends`` path is relative to ``base_dir``
    (default: the current directory). ``data`` is not modified.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(f"a scenario must be a mapping of keys, got {_describe(data)}",
                            file=source)
    raw = copy.deepcopy(dict(data))
    locations: dict[str, Location] = {}
    if "extends" in raw:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        raw, locations = _follow_extends(raw, locations, source, base, None, chain=())
    default_name = "scenario" if source.startswith("<") else _stem(Path(source))
    resolved = _Validator(source, locations).resolve(raw, default_name)
    return Scenario(resolved["name"], None, resolved, locations)


# ---------------------------------------------------------------------------------------------
# Reading YAML, recording lines, following extends
# ---------------------------------------------------------------------------------------------


def _read_yaml(path: Path, display: str) -> tuple[dict, dict[str, Location]]:
    """Parse one file (:func:`tpsim.config.yamlio.read_yaml`): its data and each key's line."""
    document = read_yaml(path, display, ScenarioError)
    data = document.data
    if data is None:
        raise ScenarioError("the file is empty (a scenario needs at least price_year, agencies, "
                            "cohorts and services, or extends: another scenario)", file=display)
    if not isinstance(data, dict):
        raise ScenarioError(f"a scenario must be a mapping of keys, got {_describe(data)}",
                            file=display, line=1)
    return data, document.locations


def _load_merged(path: Path, display: str,
                 chain: tuple[tuple[Path, str], ...]) -> tuple[dict, dict[str, Location]]:
    """Read a file and everything it extends, merged; ``chain`` is the files being loaded."""
    raw, locations = _read_yaml(path, display)
    chain = (*chain, (path.resolve(), display))
    return _follow_extends(raw, locations, display, path.parent, Path(display).parent, chain)


def _follow_extends(raw: dict, locations: dict[str, Location], display: str, base_dir: Path,
                    display_dir: Path | None, chain: tuple[tuple[Path, str], ...],
                    ) -> tuple[dict, dict[str, Location]]:
    """Merge ``raw`` (which may name a parent in ``extends``) into its parent."""
    if "extends" not in raw:
        return raw, locations
    ref = raw.pop("extends")
    location = locations.pop("extends", None)
    line = location[1] if location else None

    def fail(message: str) -> ScenarioError:
        return ScenarioError(message, file=display, key="extends", line=line)

    if not isinstance(ref, str) or not ref.strip():
        raise fail(f"expected the path of a scenario file, got {_describe(ref)}")
    target = base_dir / ref
    target_display = (os.path.normpath(os.path.join(display_dir, ref)) if display_dir is not None
                      else os.fspath(target))
    resolved = target.resolve()
    for index, (seen, _) in enumerate(chain):
        if seen == resolved:
            cycle = " -> ".join([d for _, d in chain[index:]] + [target_display])
            raise fail(f"extends cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise fail(f"the chain of extends is more than {MAX_EXTENDS_DEPTH} files deep (from "
                   f"{chain[0][1]}); merge some of the files")
    problem = file_problem(target, "scenario file")
    if problem:
        raise fail(f"extended file not found: {target_display}" if problem.endswith("not found")
                   else f"the extended {target_display} {problem}")
    try:
        parent, parent_locations = _load_merged(target, target_display, chain)
    except ScenarioError as err:
        if err.file != target_display or err.key is not None:
            raise  # a problem with a key of the parent, located there
        # the parent cannot be read at all (not text, not YAML, not a mapping): say who asked
        raise fail(f"cannot extend {err}") from None
    for key in _NOT_INHERITED:
        parent.pop(key, None)
    return _merge(parent, parent_locations, raw, locations)


def _merge(parent: dict, parent_locations: dict[str, Location], child: dict,
           child_locations: dict[str, Location]) -> tuple[dict, dict[str, Location]]:
    """Merge child into parent: mappings key by key, everything else replaces."""
    replaced: list[str] = []
    merged = _deep_merge(parent, child, "", replaced)
    dropped = tuple(replaced) + _NOT_INHERITED
    locations = {
        path: loc for path, loc in parent_locations.items()
        if not any(path == p or path.startswith(p + ".") for p in dropped)
    }
    locations.update(child_locations)
    return merged, locations


def _deep_merge(parent: dict, child: dict, path: str, replaced: list[str]) -> dict:
    merged = dict(parent)
    for key, value in child.items():
        here = _join(path, str(key))
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _deep_merge(merged[key], value, here, replaced)
        else:
            if key in merged:
                replaced.append(here)
            merged[key] = copy.deepcopy(value)
    return merged


# ---------------------------------------------------------------------------------------------
# Validation and defaults
# ---------------------------------------------------------------------------------------------


class _Validator:
    """Checks a merged raw mapping and builds the resolved dict; raises on the first problem.

    ``source`` is the file shown when a key has no recorded location.
    """

    def __init__(self, source: str, locations: Mapping[str, Location]) -> None:
        self.source = source
        self.locations = locations

    # -- errors -------------------------------------------------------------------------------

    def error(self, path: str, message: str) -> ScenarioError:
        """An error at ``path``, located at the key or its nearest located ancestor."""
        where = locate(self.locations, path)
        if where is not None:
            return ScenarioError(message, file=where[0], key=path or None, line=where[1])
        return ScenarioError(message, file=self.source, key=path or None)

    # -- the whole scenario -------------------------------------------------------------------

    def resolve(self, raw: Any, default_name: str) -> dict:
        """The resolved dict for ``raw`` (which must not contain ``extends``)."""
        top = self.mapping(raw, "")
        self.check_keys(top, "", _TOP_KEYS)
        name = self.text(top, "name", "", default_name)
        problem = name_problem(name)
        if problem:
            given = "" if "name" in top else " (the default name is the file name; set name:)"
            raise self.error("name", problem + given)
        data: dict[str, Any] = {
            "name": name,
            "title": self.text(top, "title", "", name),
            "description": self.text(top, "description", "", ""),
            "price_year": self.price_year(top),
            "sources": self.sources(top.get("sources")),
            "time": self.time(top.get("time")),
            "loops": self.loops(top.get("loops")),
        }
        data["agencies"] = self.agencies(top)
        data["cohorts"] = self.cohorts(top)
        data["services"] = self.services(top, data["agencies"], data["cohorts"])
        data["pool"] = self.pool(top.get("pool"), data["agencies"], data["services"])
        data["appraisal"] = self.appraisal(top.get("appraisal"), data)
        data["changes"] = []
        self.check_time_step(data)
        data["changes"] = self.changes(top.get("changes"), data)
        data["uncertainty"] = self.uncertainty(top.get("uncertainty"), data)
        return data

    # -- sections -----------------------------------------------------------------------------

    def price_year(self, top: Mapping) -> str:
        if "price_year" not in top:
            raise self.error("price_year", "required key is missing (e.g. price_year: \"2024-25\")")
        value = top["price_year"]
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.error("price_year", f"expected text such as \"2024-25\", got "
                                           f"{_describe(value)}")
        return value

    def sources(self, raw: Any) -> dict[str, str]:
        sources = self.mapping(raw, "sources")
        for key, value in sources.items():
            if not isinstance(value, str):
                raise self.error(f"sources.{key}", f"expected citation text, got "
                                                   f"{_describe(value)}")
        return dict(sources)

    def time(self, raw: Any) -> dict[str, Any]:
        m = self.mapping(raw, "time")
        self.check_keys(m, "time", _TIME_KEYS)
        start = self.text(m, "start", "time", "2026-04")
        if not _START_MONTH.match(start):
            raise self.error("time.start", f"expected a month written YYYY-MM, got {start!r}")
        horizon = self.integer(m, "horizon", "time", 60, 1, MAX_HORIZON)
        dt = self.number(m, "dt", "time", _Num(0.25, _POSITIVE))
        steps = 1.0 / dt
        if round(steps) < 1 or abs(steps - round(steps)) > _DT_WHOLE_TOLERANCE:
            raise self.error("time.dt", f"1/dt must be a whole number of steps per month "
                                        f"(got dt = {dt:g}, 1/dt = {steps:g})")
        total = horizon * round(steps)
        if total > MAX_STEPS:
            raise self.error("time.dt", f"dt = {dt:g} months over time.horizon = {horizon} "
                                        f"months is {total:,} steps a run, more than the "
                                        f"{MAX_STEPS:,} allowed: use a larger dt or a shorter "
                                        f"horizon")
        method = self.choice(m, "method", "time", _METHODS, "euler")
        return {"start": start, "horizon": horizon, "dt": dt, "method": method}

    def loops(self, raw: Any) -> dict[str, bool]:
        m = self.mapping(raw, "loops")
        self.check_keys(m, "loops", _LOOP_KEYS)
        return {key: self.boolean(m, key, "loops", True) for key in _LOOP_KEYS}

    def agencies(self, top: Mapping) -> dict[str, dict]:
        out = {}
        for agency_id, body in self.entities(top, "agencies", "agency").items():
            path = f"agencies.{agency_id}"
            m = self.mapping(body, path)
            self.check_keys(m, path, _AGENCY_KEYS)
            out[agency_id] = {
                "label": self.text(m, "label", path, agency_id),
                "type": self.choice(m, "type", path, _AGENCY_TYPES, "other"),
                **self.numbers(m, path, _AGENCY_NUMBERS),
            }
        return out

    def cohorts(self, top: Mapping) -> dict[str, dict]:
        out = {}
        for cohort_id, body in self.entities(top, "cohorts", "cohort").items():
            path = f"cohorts.{cohort_id}"
            m = self.mapping(body, path)
            self.check_keys(m, path, _COHORT_KEYS)
            out[cohort_id] = {
                "label": self.text(m, "label", path, cohort_id),
                **self.numbers(m, path, _COHORT_NUMBERS),
                "states": self.states(m, path),
            }
        for cohort_id, cohort in out.items():
            m = top["cohorts"][cohort_id]
            cohort["transition"] = self.transition(m.get("transition"),
                                                   f"cohorts.{cohort_id}", cohort_id, out)
        return out

    def transition(self, raw: Any, cohort_path: str, cohort_id: str,
                   cohorts: Mapping) -> dict | None:
        """Where people leaving the cohort by ``transition_share`` go: a cohort and, for every
        state with a transition share above 0, the state they enter (None without one)."""
        path = f"{cohort_path}.transition"
        states = cohorts[cohort_id]["states"]
        moving = [s for s, body in states.items() if body["transition_share"] > 0.0]
        if raw is None:
            if moving:
                raise self.error(f"{cohort_path}.states.{moving[0]}.transition_share",
                                 f"is above 0 but the cohort has no transition (add "
                                 f"{path}: {{cohort: ..., states: {{{moving[0]}: ...}}}})")
            return None
        m = self.mapping(raw, path)
        self.check_keys(m, path, _TRANSITION_KEYS)
        target = self.reference(m, "cohort", path, cohorts, "cohort")
        if target == cohort_id:
            raise self.error(f"{path}.cohort", "must be another cohort (people move between "
                                               "cohorts, not within one)")
        target_states = list(cohorts[target]["states"])
        mapping = self.mapping(m.get("states"), f"{path}.states")
        out = {}
        for state, to_state in mapping.items():
            key_path = f"{path}.states.{state}"
            if state not in states:
                raise self.error(key_path, f"'{state}' is not a state of cohort '{cohort_id}'"
                                           + _suggest(state, list(states)))
            if not isinstance(to_state, str) or to_state not in target_states:
                raise self.error(key_path, f"expected a state of cohort '{target}', got "
                                           f"{_describe(to_state)}"
                                           + (_suggest(to_state, target_states)
                                              if isinstance(to_state, str) else ""))
            out[state] = to_state
        for state in moving:
            if state not in out:
                raise self.error(f"{path}.states", f"has no entry for '{state}', whose "
                                                   f"transition_share is above 0")
        return {"cohort": target, "states": out}

    def states(self, cohort: Mapping, cohort_path: str) -> dict[str, dict]:
        path = f"{cohort_path}.states"
        if "states" not in cohort:
            raise self.error(path, "required key is missing (at least two need states, "
                                   "from low to high need)")
        raw = self.mapping(cohort["states"], path)
        if len(raw) < 2:
            raise self.error(path, f"needs at least two states, from low to high need "
                                   f"(got {len(raw)})")
        states = {}
        for state_id, body in raw.items():
            state_path = f"{path}.{state_id}"
            self.check_id(state_id, state_path, "state")
            m = self.mapping(body, state_path)
            self.check_keys(m, state_path, tuple(_STATE_NUMBERS))
            states[state_id] = self.numbers(m, state_path, _STATE_NUMBERS)
        for state_id, state in states.items():
            shares = state["death_share"] + state["transition_share"]
            if shares > 1.0 + _SHARE_SUM_TOLERANCE:
                raise self.error(f"{path}.{state_id}.transition_share",
                                 f"death_share + transition_share must be at most 1, the "
                                 f"whole exit (got {shares:g})")
        first, last = next(iter(states)), next(reversed(states))
        if states[last]["escalation"] != 0.0:
            raise self.error(f"{path}.{last}.escalation",
                             f"must be 0 in the last state, which has no higher state "
                             f"(got {states[last]['escalation']:g})")
        if states[first]["recovery"] != 0.0:
            raise self.error(f"{path}.{first}.recovery",
                             f"must be 0 in the first state, which has no lower state "
                             f"(got {states[first]['recovery']:g})")
        return states

    def services(self, top: Mapping, agencies: Mapping, cohorts: Mapping) -> dict[str, dict]:
        out = {}
        for service_id, body in self.entities(top, "services", "service").items():
            path = f"services.{service_id}"
            m = self.mapping(body, path)
            self.check_keys(m, path, (*_SERVICE_KEYS, "transfer"))
            kind = self.choice(m, "kind", path, _SERVICE_KINDS, _REQUIRED)
            # transfer: payments (benefits) that are cash to the agency but not a real resource
            # cost; kept out of the economic case and the NPSV (docs/appraisal.md)
            transfer = self.boolean(m, "transfer", path, False)
            if transfer and kind != "reactive":
                raise self.error(f"{path}.transfer", "only a reactive service can be a transfer "
                                                     "(a payment such as a benefit)")
            other_kind, other_keys = (("reactive", _REACTIVE_KEYS) if kind == "preventive"
                                      else ("preventive", _PREVENTIVE_KEYS))
            for key in m:
                if key in other_keys:
                    raise self.error(f"{path}.{key}",
                                     f"{key} applies to {other_kind} services only")
            cohort_id = self.reference(m, "cohort", path, cohorts, "cohort")
            service = {
                "label": self.text(m, "label", path, service_id),
                "agency": self.reference(m, "agency", path, agencies, "agency"),
                "cohort": cohort_id,
                "kind": kind,
                "unit_cost": self.number(m, "unit_cost", path, _UNIT_COST),
            }
            state_ids = list(cohorts[cohort_id]["states"])
            if kind == "preventive":
                service.update(self.preventive(m, path, state_ids, cohort_id))
            else:
                service.update(self.reactive(m, path, state_ids, cohort_id))
            if transfer:  # stored only when set, so unmarked services resolve as before
                service["transfer"] = True
            out[service_id] = service
        for service_id, service in out.items():
            if service["kind"] == "preventive":
                m = top["services"][service_id]
                path = f"services.{service_id}"
                service["utilisation_effects"] = self.links(
                    m, "utilisation_effects", path, service, out, cohorts, above=False)
                service["substitutes"] = self.links(
                    m, "substitutes", path, service, out, cohorts, above=True)
        return out

    def links(self, m: Mapping, key: str, path: str, service: Mapping, services: Mapping,
              cohorts: Mapping, above: bool) -> dict[str, float]:
        """A preventive service's effects on named reactive services (fractions at full
        coverage): ``utilisation_effects`` act on use in the service's own states, so the
        reactive service must be used in one of them; ``substitutes`` divert escalation into
        a state where the reactive service is used, so it must be used in the state above one
        of them."""
        link_path = f"{path}.{key}"
        raw = self.mapping(m.get(key), link_path)
        state_ids = list(cohorts[service["cohort"]]["states"])
        own = [state_ids.index(s) for s in service["states"]]
        targets = {state_ids[i + 1] for i in own if i + 1 < len(state_ids)} if above else \
            {state_ids[i] for i in own}
        out = {}
        for reactive_id in raw:
            item_path = f"{link_path}.{reactive_id}"
            if reactive_id not in services:
                raise self.error(item_path, f"unknown service '{reactive_id}'"
                                            + _suggest(reactive_id, services))
            target = services[reactive_id]
            if target["kind"] != "reactive":
                raise self.error(item_path, f"'{reactive_id}' is a preventive service; "
                                            f"{key} name reactive services")
            if target["cohort"] != service["cohort"] or not targets & set(target["utilisation"]):
                where = ("the state above one of its states" if above
                         else "one of its eligible states")
                raise self.error(item_path, f"'{reactive_id}' is not used in {where} "
                                            f"({', '.join(sorted(targets)) or 'none'})")
            out[reactive_id] = self.number(raw, reactive_id, link_path, _LINK_EFFECT)
        return out

    def preventive(self, m: Mapping, path: str, state_ids: list[str], cohort_id: str) -> dict:
        community_path = f"{path}.community"
        community = self.mapping(m.get("community"), community_path)
        self.check_keys(community, community_path, tuple(_COMMUNITY_NUMBERS))
        numbers = self.numbers(m, path, _PREVENTIVE_NUMBERS)
        return {
            "states": self.eligible_states(m, path, state_ids, cohort_id),
            "places": numbers["places"],
            "uptake": numbers["uptake"],
            "effect": numbers["effect"],
            "time_to_effect": numbers["time_to_effect"],
            "delay_order": self.integer(m, "delay_order", path, _DELAY_ORDER_DEFAULT,
                                        *_DELAY_ORDER_RANGE),
            "community": self.numbers(community, community_path, _COMMUNITY_NUMBERS),
            **{key: numbers[key] for key in ("recovery_effect", "short_run_effect",
                                             "effect_decay", "deadweight", "displacement",
                                             "attribution")},
        }

    def eligible_states(self, m: Mapping, path: str, state_ids: list[str],
                        cohort_id: str) -> list[str]:
        states_path = f"{path}.states"
        if "states" not in m:
            raise self.error(states_path, "required key is missing (the eligible states)")
        raw = m["states"]
        if not isinstance(raw, list) or not raw:
            raise self.error(states_path, f"expected a non-empty list of state ids, got "
                                          f"{_describe(raw)}")
        chosen = set()
        for index, state in enumerate(raw):
            item_path = f"{states_path}.{index}"
            if not isinstance(state, str):
                raise self.error(item_path, f"expected a state id, got {_describe(state)}")
            if state not in state_ids:
                raise self.error(item_path, f"'{state}' is not a state of cohort '{cohort_id}'"
                                            + _suggest(state, state_ids))
            if state in chosen:
                raise self.error(item_path, f"'{state}' is listed twice")
            chosen.add(state)
        return [state for state in state_ids if state in chosen]

    def reactive(self, m: Mapping, path: str, state_ids: list[str], cohort_id: str) -> dict:
        use_path = f"{path}.utilisation"
        if "utilisation" not in m:
            raise self.error(use_path, "required key is missing (events per person-month by "
                                       "state served)")
        raw = self.mapping(m["utilisation"], use_path)
        if not raw:
            raise self.error(use_path, "needs at least one state served")
        for state in raw:
            if state not in state_ids:
                raise self.error(f"{use_path}.{state}",
                                 f"'{state}' is not a state of cohort '{cohort_id}'"
                                 + _suggest(state, state_ids))
        utilisation = {state: self.number(raw, state, use_path, _UTILISATION)
                       for state in state_ids if state in raw}
        return {"utilisation": utilisation, **self.numbers(m, path, _REACTIVE_NUMBERS)}

    def pool(self, raw: Any, agencies: Mapping, services: Mapping) -> dict[str, Any]:
        m = self.mapping(raw, "pool")
        self.check_keys(m, "pool", _POOL_KEYS)
        contributions = self.mapping(m.get("contributions"), "pool.contributions")
        for agency_id in contributions:
            if agency_id not in agencies:
                raise self.error(f"pool.contributions.{agency_id}",
                                 f"unknown agency '{agency_id}'" + _suggest(agency_id, agencies))
        shares = self.mapping(m.get("services"), "pool.services")
        for service_id in shares:
            if service_id not in services:
                raise self.error(f"pool.services.{service_id}",
                                 f"unknown service '{service_id}'"
                                 + _suggest(service_id, services))
            if services[service_id]["kind"] != "preventive":
                raise self.error(f"pool.services.{service_id}",
                                 f"'{service_id}' is a reactive service; the pool funds "
                                 f"preventive services only")
        pooled_services = {sid: self.number(shares, sid, "pool.services", _POOL_SHARE)
                           for sid in shares}
        total = sum(pooled_services.values())
        if total > 1.0 + _SHARE_SUM_TOLERANCE:
            raise self.error("pool.services", f"shares must sum to at most 1 (got {total:g})")
        double_running = self.mapping(m.get("double_running"), "pool.double_running")
        self.check_keys(double_running, "pool.double_running", tuple(_DOUBLE_RUNNING_NUMBERS))
        return {
            "enabled": self.boolean(m, "enabled", "pool", False),
            **self.numbers(m, "pool", _POOL_NUMBERS_HEAD),
            "contributions": {aid: self.number(contributions, aid, "pool.contributions",
                                               _POOL_SHARE) for aid in contributions},
            "services": pooled_services,
            **self.numbers(m, "pool", _POOL_NUMBERS_MID),
            "double_running": self.numbers(double_running, "pool.double_running",
                                           _DOUBLE_RUNNING_NUMBERS),
            **self.numbers(m, "pool", _POOL_NUMBERS_TAIL),
        }

    def appraisal(self, raw: Any, data: Mapping) -> dict[str, Any]:
        """The appraisal section (docs/appraisal.md): rates, optimism bias by project category
        (a stepped-down value needs a reason), the QALY value and its price year, optimism
        bias on benefits, and declared outcome values (series -> £ per unit, with a source)."""
        m = self.mapping(raw, "appraisal")
        self.check_keys(m, "appraisal", _APPRAISAL_KEYS)
        out = {**self.numbers(m, "appraisal", _APPRAISAL_NUMBERS),
               "value_qalys": self.boolean(m, "value_qalys", "appraisal", True)}
        category = m.get("optimism_bias_category")
        if category is not None:
            category = self.choice(m, "optimism_bias_category", "appraisal",
                                   tuple(_OPTIMISM_BIAS_CATEGORIES), _REQUIRED)
        reason = self.text(m, "optimism_bias_reason", "appraisal", "") or None
        bound = _OPTIMISM_BIAS_CATEGORIES.get(category)
        if out["optimism_bias"] is None:
            out["optimism_bias"] = bound if bound is not None else 0.0
        if bound is not None and out["optimism_bias"] > bound:
            raise self.error("appraisal.optimism_bias",
                             f"{out['optimism_bias']:g} is above the {category} upper bound "
                             f"{bound:g}; state the project category that fits")
        if bound is not None and out["optimism_bias"] < bound and reason is None:
            raise self.error("appraisal.optimism_bias_reason",
                             f"required key is missing: optimism_bias {out['optimism_bias']:g} "
                             f"is stepped down from the {category} upper bound {bound:g}; say why")
        price_year = m.get("qaly_price_year")
        if price_year is not None:
            price_year = self.text(m, "qaly_price_year", "appraisal", "")
            if price_year != data["price_year"] and "qaly_uprating" not in m:
                raise self.error("appraisal.qaly_uprating",
                                 f"required key is missing: qaly_value is at {price_year} "
                                 f"prices and the scenario at {data['price_year']}; give the "
                                 f"deflator factor between them")
        output_source = self.text(m, "employment_output_source", "appraisal", "") or None
        if out["employment_output_value"] > 0 and output_source is None:
            raise self.error("appraisal.employment_output_source",
                             "required key is missing: say where employment_output_value comes "
                             "from (a source, or 'assumption: ...')")
        out["employment_output_source"] = output_source
        values = {}
        ov_path = "appraisal.outcome_values"
        for series, body in self.mapping(m.get("outcome_values"), ov_path).items():
            path = f"{ov_path}.{series}"
            head, _, rest = series.partition(".")
            known = ((head in _OUTCOME_MEASURES and rest in data["cohorts"])
                     or (head == "activity" and rest in data["services"]))
            if not known:
                raise self.error(path, "expected <escalations|crisis_person_months|exits>.<cohort> "
                                       "or activity.<service>")
            v = self.mapping(body, path)
            self.check_keys(v, path, _OUTCOME_VALUE_KEYS)
            source = self.text(v, "source", path, "")
            if not source:
                raise self.error(f"{path}.source", "required key is missing (where the value "
                                                   "comes from)")
            values[series] = {"value": self.number(v, "value", path, _Num(_REQUIRED, _NONNEG)),
                              "per": self.choice(v, "per", path, ("avoided", "gained"), "avoided"),
                              "discount": self.choice(v, "discount", path, ("standard", "health"),
                                                      "standard"),
                              "source": source}
        out.update({"qaly_price_year": price_year, "optimism_bias_category": category,
                    "optimism_bias_reason": reason,
                    "benefit_delay_months": self.integer(m, "benefit_delay_months", "appraisal",
                                                         0, 0, None),
                    "outcome_values": values})
        return out

    def changes(self, raw: Any, data: dict) -> list[dict]:
        """Time-keyed changes, checked by applying them cumulatively in month order."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.error("changes", f"expected a list of changes, got {_describe(raw)}")
        if not raw:
            return []
        horizon = data["time"]["horizon"]
        paths = _parameter_paths(data)
        known = set(paths)
        changes = []
        for index, item in enumerate(raw):
            path = f"changes.{index}"
            m = self.mapping(item, path)
            self.check_keys(m, path, _CHANGE_KEYS)
            month = self.number(m, "month", path, _Num(_REQUIRED, _NONNEG))
            if month >= horizon:
                raise self.error(f"{path}.month", f"must be before the end of the run, "
                                                  f"time.horizon = {horizon} (got {month:g})")
            if "set" not in m:
                raise self.error(f"{path}.set", "required key is missing (dotted path: value)")
            settings = self.mapping(m["set"], f"{path}.set")
            if not settings:
                raise self.error(f"{path}.set", "must set at least one parameter")
            values = {}
            for key, value in settings.items():
                key_path = f"{path}.set.{key}"
                if key not in known:
                    raise self.error(key_path, _unknown_parameter(key, paths, data))
                if _is_initial_stock(key):
                    raise self.error(key_path, "an initial stock (people at month 0) cannot "
                                               "change later in the run; set it under cohorts, "
                                               "or use the cohort's inflow or rates to move "
                                               "people from this month")
                values[key] = float(_parameter_value(value, key, _is_switch(key),
                                                     self.source, key_path, self.error))
            changes.append({"month": month, "set": values})
        order = sorted(range(len(changes)), key=lambda i: changes[i]["month"])
        self.check_changes_apply(data, changes, order)
        return [changes[i] for i in order]

    def uncertainty(self, raw: Any, data: dict) -> dict:
        """The ``uncertainty`` section (docs/uncertainty.md), checked by
        :func:`tpsim.config.uncertainty.resolve_section`: ``{}`` when absent."""
        def check(trial: dict) -> ScenarioError | None:
            try:
                _Validator(self.source, {}).resolve(trial, data["name"])
            except ScenarioError as err:
                return err
            return None

        where = self.locations.get("uncertainty.posterior")
        base_dir = os.path.dirname(where[0]) if where else None
        return resolve_section(self.mapping(raw, "uncertainty"), data, self.error, check,
                               base_dir)

    def check_changes_apply(self, data: dict, changes: list[dict], order: list[int]) -> None:
        """Re-validate the scenario after each change, cumulatively, in month order. Each trial
        copies only the mappings along the changed paths (validation never mutates its input)."""
        trial = data
        for index in order:
            settings = changes[index]["set"]
            for key, value in settings.items():
                trial = _with_path(trial, key, bool(value) if _is_switch(key) else value)
            try:
                _Validator(self.source, {}).resolve(trial, data["name"])
            except ScenarioError as err:
                if err.key in settings:
                    raise self.error(f"changes.{index}.set.{err.key}", err.message) from None
                raise self.error(f"changes.{index}",
                                 f"after this change, {err.key}: {err.message}") from None

    def check_time_step(self, data: dict) -> None:
        """dt x rate <= 1 for the fastest per-month rate (and 1/time-constant)."""
        dt = data["time"]["dt"]
        fastest = max(_rates(data), key=lambda r: r[2], default=None)
        if fastest is None:
            return
        path, what, rate = fastest
        if dt * rate <= 1.0 + _DT_RATE_TOLERANCE:
            return
        steps = math.ceil(rate / (1.0 + _DT_RATE_TOLERANCE))
        raise self.error("time.dt",
                         f"dt = {dt:g} months is too large for the fastest rate, {path} "
                         f"({what} = {rate:g} per month{self.set_in(path, 'time.dt')}): dt x "
                         f"rate must be at most 1, so the largest allowed dt is 1/{steps} = "
                         f"{1.0 / steps:.6g}")

    def set_in(self, path: str, near: str) -> str:
        """``, set in FILE:LINE`` when ``path`` was written in another file than ``near`` (a
        parent's dt meeting a child's rate), else ''."""
        here, there = locate(self.locations, path), locate(self.locations, near)
        if here is None or (there is not None and here[0] == there[0]):
            return ""
        return f", set in {here[0]}:{here[1]}"

    # -- building blocks ----------------------------------------------------------------------

    def mapping(self, value: Any, path: str) -> Mapping:
        """A mapping with text keys; None (an empty YAML section) is an empty mapping."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            what = "a scenario must be" if not path else "expected"
            raise self.error(path, f"{what} a mapping of keys, got {_describe(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.error(_join(path, str(key)), f"key {key!r} must be text")
        return value

    def check_keys(self, m: Mapping, path: str, allowed: Sequence[str]) -> None:
        for key in m:
            if key not in allowed:
                raise self.error(_join(path, key), "unknown key" + _suggest(key, allowed))

    def entities(self, top: Mapping, section: str, what: str) -> Mapping:
        """A non-empty id -> body mapping (agencies, cohorts, services) with valid ids."""
        if section not in top:
            raise self.error(section, f"required key is missing (at least one {what})")
        entities = self.mapping(top[section], section)
        if not entities:
            raise self.error(section, f"needs at least one {what}")
        for entity_id in entities:
            self.check_id(entity_id, f"{section}.{entity_id}", what)
        return entities

    def check_id(self, entity_id: str, path: str, what: str) -> None:
        if not _ID.match(entity_id):
            raise self.error(path, f"{what} id '{entity_id}' must start with a lower-case letter "
                                   f"and use only lower-case letters, digits and _")

    def reference(self, m: Mapping, key: str, path: str, known: Mapping, what: str) -> str:
        key_path = f"{path}.{key}"
        if key not in m:
            raise self.error(key_path, f"required key is missing (an {what} id)")
        value = m[key]
        if not isinstance(value, str):
            raise self.error(key_path, f"expected an {what} id, got {_describe(value)}")
        if value not in known:
            raise self.error(key_path, f"unknown {what} '{value}'" + _suggest(value, known))
        return value

    def numbers(self, m: Mapping, path: str, specs: Mapping[str, _Num]) -> dict[str, Any]:
        return {key: self.number(m, key, path, spec) for key, spec in specs.items()}

    def number(self, m: Mapping, key: str, path: str, spec: _Num) -> float | None:
        if key not in m:
            if spec.default is _REQUIRED:
                raise self.error(_join(path, key), "required key is missing")
            return spec.default
        value = m[key]
        if value is None and spec.nullable:
            return None
        if plain_number(value, spec.bound, MAX_MAGNITUDE):
            return value
        return check_number(value, _join(path, key), self.error, spec.bound,
                            magnitude=MAX_MAGNITUDE)

    def integer(self, m: Mapping, key: str, path: str, default: int, low: int,
                high: int | None) -> int:
        key_path = _join(path, key)
        if key not in m:
            return default
        x = check_number(m[key], key_path, self.error, whole=True)
        if x < low or (high is not None and x > high):
            limit = f"from {low} to {high}" if high is not None else f">= {low}"
            raise self.error(key_path, f"must be a whole number {limit} (got {x:g})")
        return int(x)

    def boolean(self, m: Mapping, key: str, path: str, default: bool) -> bool:
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, bool):
            raise self.error(_join(path, key), f"expected true or false, got {_describe(value)}")
        return value

    def text(self, m: Mapping, key: str, path: str, default: str) -> str:
        value = m.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(_join(path, key), f"expected text, got {_describe(value)}")
        return value

    def choice(self, m: Mapping, key: str, path: str, choices: Sequence[str], default: Any) -> str:
        key_path = _join(path, key)
        if key not in m:
            if default is _REQUIRED:
                raise self.error(key_path, f"required key is missing (one of "
                                           f"{', '.join(choices)})")
            return default
        value = m[key]
        if not isinstance(value, str):
            raise self.error(key_path, f"expected one of {', '.join(choices)}, got "
                                       f"{_describe(value)}")
        if value not in choices:
            raise self.error(key_path, f"unknown value {value!r}" + _suggest(value, choices))
        return value


# ---------------------------------------------------------------------------------------------
# Rates, parameter paths and small helpers
# ---------------------------------------------------------------------------------------------


def _rates(data: dict) -> list[tuple[str, str, float]]:
    """Every per-month rate that bounds dt: (key path, description, rate per month)."""
    rates = []
    for cohort_id, cohort in data["cohorts"].items():
        for state_id, state in cohort["states"].items():
            boost = 1.0
            for service in data["services"].values():
                if service["kind"] == "preventive" and service["cohort"] == cohort_id and \
                        state_id in service["states"]:
                    boost *= 1.0 + service["recovery_effect"] * _credit(service)
            rise = _escalation_rise(data, cohort_id, state_id)
            what = ["escalation"]
            if rise != 1.0:
                what.append("x (waiting and erosion multipliers at their highest)")
            what.append("+ recovery" if boost == 1.0 else "+ recovery x (1 + recovery effects)")
            rates.append((f"cohorts.{cohort_id}.states.{state_id}", " ".join(what) + " + exit",
                          state["escalation"] * rise + state["recovery"] * boost + state["exit"]))
    for service_id, service in data["services"].items():
        path = f"services.{service_id}"
        if service["kind"] == "preventive":
            rates.append((f"{path}.time_to_effect", "delay_order / time_to_effect",
                          service["delay_order"] / service["time_to_effect"]))
            rates.append((f"{path}.community.ramp_time", "1 / ramp_time",
                          1.0 / service["community"]["ramp_time"]))
            if service["effect_decay"] is not None:
                rates.append((f"{path}.effect_decay", "1 / effect_decay",
                              1.0 / service["effect_decay"]))
        else:
            rates.append((f"{path}.queue_clear_time", "1 / queue_clear_time",
                          1.0 / service["queue_clear_time"]))
            rates.append((f"{path}.decommission_delay", "1 / decommission_delay",
                          1.0 / service["decommission_delay"]))
    for agency_id, agency in data["agencies"].items():
        path = f"agencies.{agency_id}"
        rates.append((f"{path}.perception_delay", "1 / perception_delay",
                      1.0 / agency["perception_delay"]))
        rates.append((f"{path}.restore_rate", "restore_rate", agency["restore_rate"]))
    pool = data["pool"]
    if pool["enabled"]:
        for key in ("reinvestment_delay", "adjust_time", "spend_down_time"):
            rates.append((f"pool.{key}", f"1 / {key}", 1.0 / pool[key]))
    return rates


def _escalation_rise(data: dict, cohort_id: str, state_id: str) -> float:
    """The largest factor the feedback loops can raise state ``state_id``'s escalation rate by
    (docs/model.md, "Validation of dt"): ``1 + deterioration`` for each capacity-limited
    reactive service serving it (the waiting share ``min(1, W/Served)`` is at most 1) and
    ``1 + quality_erosion x (1 - E_min)`` for each agency serving it, where ``E_min =
    (1 - efficiency_target)^(horizon/12)`` is the lowest unit-cost efficiency the run reaches.
    Preventive effects only lower escalation, so they are left at 1."""
    loops = data["loops"]
    horizon = data["time"]["horizon"]
    rise = 1.0
    serving: set[str] = set()
    for service in data["services"].values():
        if service["cohort"] != cohort_id:
            continue
        if service["kind"] == "reactive":
            if state_id not in service["utilisation"]:
                continue
            if loops["waiting_deterioration"] and service["capacity"] is not None:
                rise *= 1.0 + service["deterioration"]
        elif state_id not in service["states"]:
            continue
        serving.add(service["agency"])
    if loops["quality_erosion"]:
        for agency_id in serving:
            agency = data["agencies"][agency_id]
            shortfall = 1.0 - (1.0 - agency["efficiency_target"]) ** (horizon / 12.0)
            rise *= 1.0 + agency["quality_erosion"] * shortfall
    return rise


def _is_initial_stock(path: str) -> bool:
    """Whether ``path`` is ``cohorts.<c>.states.<s>.initial``, read only at month 0."""
    parts = path.split(".")
    return len(parts) == 5 and parts[0] == "cohorts" and parts[2] == "states" \
        and parts[4] == "initial"


def _credit(service: Mapping) -> float:
    """The share of a preventive service's effects credited to it (docs/model.md):
    (1 - deadweight) x (1 - displacement) x attribution."""
    return (1.0 - service["deadweight"]) * (1.0 - service["displacement"]) * \
        service["attribution"]


def _parameter_value(value: Any, path: str, switch: bool, source: str, key_path: str,
                     error: Any = None) -> float | bool:
    """A parameter override: a number, or for a switch 0/1/true/false (returned as bool)."""
    def fail(message: str) -> ScenarioError:
        if error is not None:
            return error(key_path, message)
        return ScenarioError(message, file=source, key=key_path)

    if switch:
        if isinstance(value, bool):
            return value
        if isinstance(value, numbers.Real) and value in (0, 1):
            return bool(value)
        raise fail(f"{path} is a switch: expected 0, 1, true or false, got {_describe(value)}")
    return check_number(value, key_path, lambda _path, message: fail(message))


#: Longest scenario name (it names folders and files of the outputs).
MAX_NAME_LENGTH = 100
_NAME_FORBIDDEN = set('/\\:*?"<>|')


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a scenario name, or None. A scenario name is used as it is for
    the folder of its run (``outputs/<name>/``, ``<out>/<name>/timeseries.csv``) and in chart
    file names, so it must be a safe folder name on every system: 1 to 100 characters, none
    of them a control character (newline, tab, ...) or one of / \\ : * ? " < > |; not starting
    with a dot or a space, not ending with a space or a dot."""
    if not name.strip():
        return "must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters (got {len(name)}); use title"
    bad = sorted({c for c in name if c in _NAME_FORBIDDEN
                  or unicodedata.category(c).startswith("C")})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (f"{name!r} cannot name an output folder: it contains {shown}; use letters, "
                f"digits, spaces, _ - . + ( ) (put free text in title)")
    if name[0] in ". " or name[-1] in ". ":
        return (f"{name!r} cannot name an output folder: it must not start with a dot or a "
                f"space or end with one")
    return None


def _stem(path: Path) -> str:
    """The file name without .yaml / .yml."""
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
