"""Generate, cache and load a numba Euler kernel specialised to one compiled model's structure.

The generic kernel (:mod:`tpsim.models.kernel`) reads the model's structure (who serves whom,
delay orders, gather lists) from index arrays at run time and keeps every intermediate value in
scratch rows. The generated kernel has that structure written into its source: every entity is
spelled out, intermediate values are local scalars, the state is updated in place (each state
row is read into a local before it is overwritten), Euler is the only method (no ``keep * x``
multiply) and the structurally zero terms (escalation out of a top state, recovery out of a
bottom state, utility 0) are left out. Parameters stay per run and per lane.

The step is split into lane loops of at most ``MAX_POINTERS`` distinct memory rows each: LLVM's
loop vectoriser gives up on a loop that touches too many distinct pointers, so one fat loop
would run scalar. Values needed by a later loop are carried through a small scratch block.

Generated source lives in a cache directory outside the package (``$TPSIM_CACHE_DIR``, else
``$XDG_CACHE_HOME/tpsim``, else ``~/.cache/tpsim``), under ``kernels/<key>.py``; the key hashes
the generated source, the generic-kernel helpers it calls (parameter loader, growth factors)
and the layout constants they read, so an edit elsewhere in the generic kernel does not force a
recompile. numba compiles it with ``cache=True`` next to it.

The generic kernel stays: it runs RK4 and is the reference the generated kernel is tested
against (:mod:`tests.test_codegen`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from tpsim.models import kernel as K

GENERATOR_VERSION = 3
LANES = 8
"""Runs per block of the generated kernel: one AVX-512 register of float64."""
MAX_POINTERS = 150
"""Upper bound on the distinct memory rows one generated lane loop touches."""

_modules: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Directory of the generated kernels (created on first use)."""
    root = os.environ.get("TPSIM_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "tpsim"
    return base / "kernels"


def structure_key(model, source: str | None = None) -> str:
    """Hash of the generated source (``source``, else generated now), of the generic-kernel
    helpers it calls, of the integer layout constants and field tables they read and of
    numba's version: the structure and this generator enter it, the parameters do not."""
    import inspect

    import numba

    from tpsim.models import layout
    h = hashlib.sha256(numba.__version__.encode())
    for fn in (K._apply_changes, K._load_params, K._growth_steps, *K.LOAD_PARAMS_STEPS):
        h.update(inspect.getsource(getattr(fn, "py_func", fn)).encode())
    for mod in (K, layout):
        consts = sorted((k, v) for k, v in vars(mod).items()
                        if k.isupper() and isinstance(v, int))
        h.update(repr(consts).encode())
    tables = sorted((k, v.tolist()) for k, v in vars(K).items() if isinstance(v, np.ndarray))
    h.update(repr(tables).encode())
    h.update((generate_source(model) if source is None else source).encode())
    return h.hexdigest()[:20]


def _layout_of(model) -> list[int]:
    """The generic kernel's record layout (:func:`tpsim.models.kernel._layout`) of ``model``."""
    s = model.structure
    nstage = int(np.asarray(s["prev_order"], dtype=np.int64).sum())
    layout_fn = getattr(K._layout, "py_func", K._layout)
    return [int(v) for v in layout_fn(model.npop, len(model.cohorts), len(model.preventive),
                                      nstage, len(model.reactive), len(model.agencies),
                                      int(s["react_pop"].shape[0]), int(s["ulink_prev"].shape[0]),
                                      int(s["sub_prev"].shape[0]))]


# ---- source generation ------------------------------------------------------------------------

_ASSIGN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(\+?=)")
_NAME = re.compile(r"\b[a-z_][a-z0-9_]*\b")
_LOADED = re.compile(r"^(x|p|g)(\d+)$")


class _Fragment:
    """Lines of one entity's lane-loop body; names ``x<row>``, ``p<row>``, ``g<row>`` stand for
    the state, parameter and growth rows (loaded at the start of the loop that uses them)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.writes: list[tuple[str, int, str]] = []   # (array, row, expression)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def names(self) -> set[str]:
        out = set()
        for line in self.lines + [w[2] for w in self.writes]:
            out.update(_NAME.findall(line))
        return out

    def defined(self) -> set[str]:
        return {m.group(1) for m in map(_ASSIGN.match, self.lines) if m}


def _rows(names: set[str]) -> set[str]:
    return {n for n in names if _LOADED.match(n)}


class _Builder:
    """Emit the per-lane formulas of docs/model.md for one model (same operations, same order
    as :func:`tpsim.models.kernel._derivative`)."""

    def __init__(self, model) -> None:
        s = model.structure
        self.nco, self.npop = len(model.cohorts), model.npop
        self.nprev, self.nreact, self.nag = len(model.preventive), len(model.reactive), \
            len(model.agencies)
        self.lo = _layout_of(model)
        self.s = s
        self.utility = np.asarray(model.pop_utility, dtype=float)
        self.frags: list[_Fragment] = []
        self.f = _Fragment()

    # names of rows
    def P(self, row: int) -> str:
        return f"p{row}"

    def X(self, row: int) -> str:
        return f"x{row}"

    def G(self, row: int) -> str:
        return f"g{row}"

    def pg(self, field: int) -> str:
        return self.P(self.lo[K.LO_PG] + field)

    def new(self) -> None:
        self.f = _Fragment()
        self.frags.append(self.f)

    def line(self, text: str) -> None:
        self.f.add(text)

    def update(self, row: int, rate: str, nonnegative: bool = False) -> None:
        """State row ``row`` advances by ``rate`` over the step (in place); a ``nonnegative``
        stock emptied within the step ends at 0, not a rounding error below it."""
        value = f"{self.X(row)} + dt * ({rate})"
        self.f.writes.append(("x", row, f"max({value}, 0.0)" if nonnegative else value))

    EMITTERS = ("pool_switches", "agencies_budget", "preventive_coverage", "link_factors",
                "reactive", "people_flows", "agencies_spend", "preventive_funding",
                "pool_balance")
    """The step's emitters in the order their lines run: each ``_emit_<name>`` appends the
    fragments of one term of docs/model.md (a fragment per entity) and may read the local
    names the emitters before it define. A new mechanism is a new emitter placed where its
    inputs exist (or a few lines added to the emitter of the entity it changes)."""

    def build(self) -> list[_Fragment]:
        for name in self.EMITTERS:
            getattr(self, f"_emit_{name}")()
        return self.frags

    def _emit_pool_switches(self) -> None:
        """Pool switches."""
        self.new()
        L = self.line
        L(f"start = {self.pg(K.PG_POOL_START)}")
        L(f"active = {self.pg(K.PG_POOL_ON)} * (t >= start)")
        L(f"ramp = min(1.0, max(0.0, (t - start) * {self.pg(K.PG_INV_OH_RAMP)}))")
        L("is_active = active > 0.0")
        L(f"setup = {self.pg(K.PG_SETUP_RATE)} if is_active and t < {self.pg(K.PG_SETUP_END)} "
          f"else 0.0")
        L(f"double_running = {self.pg(K.PG_DR_COST)} if is_active and "
          f"t < {self.pg(K.PG_DR_END)} else 0.0")
        L("pool_community = 0.0")

    def _emit_agencies_budget(self) -> None:
        """Agencies, first part."""
        lo, P, G = self.lo, self.P, self.G
        nco, nag = self.nco, self.nag
        for a in range(nag):
            self.new()
            L = self.line
            pa = lo[K.LO_PA] + a * K.NPA
            L(f"budget_{a} = {P(pa + K.PA_BUDGET)} * {G(nco + a)}")
            L(f"prev_spend_{a} = 0.0")
            L(f"react_cash_{a} = 0.0")
            L(f"erosion_{a} = 1.0 + {P(pa + K.PA_EROSION_COEF)} * (1.0 - {G(nco + nag + a)})")

    def _emit_preventive_coverage(self) -> None:
        """Preventive services."""
        lo, s, P, X, G = self.lo, self.s, self.P, self.X, self.G
        nco, nprev, nag = self.nco, self.nprev, self.nag
        prev_ptr, prev_pop, prev_agency, prev_order, prev_stage0 = (
            s["prev_ptr"], s["prev_pop"], s["prev_agency"], s["prev_order"], s["prev_stage0"])
        for v in range(nprev):
            self.new()
            L = self.line
            terms = [f"max({X(lo[K.LO_XP] + int(i) * K.NXP + K.XP_PEOPLE)}, 0.0)"
                     for i in prev_pop[prev_ptr[v]:prev_ptr[v + 1]]]
            a = int(prev_agency[v])
            pv = lo[K.LO_PV] + v * K.NPV
            xv = lo[K.LO_XV] + v * K.NXV
            s0 = lo[K.LO_XS] + int(prev_stage0[v])
            order = int(prev_order[v])
            L(f"eligible_{v} = {' + '.join(terms) if terms else '0.0'}")
            L(f"agency_places_{v} = {X(xv + K.XV_FUNDING)} * {P(pv + K.PV_PLACES)}")
            L(f"places_{v} = agency_places_{v} + {X(xv + K.XV_POOL_PLACES)} + "
              f"{X(xv + K.XV_COMMUNITY)}")
            L(f"coverage_{v} = {P(pv + K.PV_UPTAKE)} if places_{v} > 0.0 else 0.0")
            L(f"coverage_{v} = min({P(pv + K.PV_UPTAKE)}, places_{v} / eligible_{v}) "
              f"if eligible_{v} > {K._TINY!r} else coverage_{v}")
            L(f"unit_cost_{v} = {P(pv + K.PV_UNIT_COST)} * {G(nco + nag + a)}")
            L(f"pooled_{v} = active * {P(pv + K.PV_POOL_FLAG)}")
            self.update(xv + K.XV_COMMUNITY, f"({P(pv + K.PV_COMM_PLACES)} - "
                        f"{X(xv + K.XV_COMMUNITY)}) * {P(pv + K.PV_INV_COMM_RAMP)}")
            L(f"community_cost_{v} = {P(pv + K.PV_COMM_UNIT_COST)} * {X(xv + K.XV_COMMUNITY)}")
            L(f"agency_cost_{v} = unit_cost_{v} * agency_places_{v} + (1.0 - pooled_{v}) * "
              f"community_cost_{v}")
            L(f"pool_cost_{v} = unit_cost_{v} * {X(xv + K.XV_POOL_PLACES)} + pooled_{v} * "
              f"community_cost_{v}")
            self.update(xv + K.XV_SPEND, f"agency_cost_{v} + pool_cost_{v}")
            self.update(xv + K.XV_ACT, f"coverage_{v} * eligible_{v}")
            L(f"prev_spend_{a} += agency_cost_{v}")
            L(f"pool_community += pooled_{v} * community_cost_{v}")
            # the effect persists after coverage falls (when effect_decay is set); the
            # short-run effect acts while coverage runs ahead of the delayed effect
            delayed, persist = X(s0 + order - 1), X(xv + K.XV_PERSIST)
            L(f"effective_{v} = max({delayed}, {P(pv + K.PV_PERSIST_FLAG)} * {persist})")
            self.update(xv + K.XV_PERSIST, f"({delayed} - {persist}) * {P(pv + K.PV_INV_DECAY)}")
            L(f"building_{v} = max(0.0, coverage_{v} - {delayed})")
            L(f"prevention_{v} = 1.0 - {P(pv + K.PV_EFFECT)} * effective_{v} + "
              f"{P(pv + K.PV_SHORT_RUN)} * building_{v}")
            L(f"recovery_{v} = 1.0 + {P(pv + K.PV_RECOVERY)} * effective_{v}")
            self.update(s0, f"(coverage_{v} - {X(s0)}) * {P(pv + K.PV_RATE)}")
            for k in range(1, order):
                self.update(s0 + k, f"({X(s0 + k - 1)} - {X(s0 + k)}) * {P(pv + K.PV_RATE)}")

    def _emit_link_factors(self) -> None:
        """Factors of the utilisation-effect and substitution links, and the effective
        utilisation rate of each (reactive service, population index) pair: its base rate
        times the product of its links' factors."""
        lo, s, P = self.lo, self.s, self.P
        ulink_prev, sub_prev = s["ulink_prev"], s["sub_prev"]
        for k in range(int(ulink_prev.shape[0])):
            self.new()
            self.line(f"ulink_{k} = 1.0 - {P(lo[K.LO_PUL] + k)} * effective_{int(ulink_prev[k])}")
        for k in range(int(sub_prev.shape[0])):
            self.new()
            self.line(f"sub_{k} = 1.0 - {P(lo[K.LO_PSUB] + k)} * effective_{int(sub_prev[k])}")
        ptr, links = s["util_link_ptr"], s["util_link"]
        for k in range(int(ptr.shape[0]) - 1):
            factors = [f"ulink_{int(j)}" for j in links[ptr[k]:ptr[k + 1]]]
            if factors:
                self.new()
                self.line(f"util_{k} = {P(lo[K.LO_PU] + k)} * ({' * '.join(factors)})")

    def util(self, k: int) -> str:
        """The effective utilisation rate of pair ``k`` (its parameter row when no link
        scales it)."""
        s = self.s
        linked = s["util_link_ptr"][k + 1] > s["util_link_ptr"][k]
        return f"util_{k}" if linked else self.P(self.lo[K.LO_PU] + k)

    def _emit_reactive(self) -> None:
        """Reactive services."""
        lo, s, P, X, G = self.lo, self.s, self.P, self.X, self.G
        nco, nreact, nag = self.nco, self.nreact, self.nag
        react_ptr, react_pop, react_agency = s["react_ptr"], s["react_pop"], s["react_agency"]
        for r in range(nreact):
            self.new()
            L = self.line
            ks = range(int(react_ptr[r]), int(react_ptr[r + 1]))
            for k in ks:
                L(f"n_{r}_{k} = max({X(lo[K.LO_XP] + int(react_pop[k]) * K.NXP + K.XP_PEOPLE)},"
                  f" 0.0)")
            served = " + ".join(f"n_{r}_{k}" for k in ks) or "0.0"
            demand = " + ".join(f"{self.util(k)} * n_{r}_{k}" for k in ks) or "0.0"
            a = int(react_agency[r])
            pr = lo[K.LO_PR] + r * K.NPR
            xr = lo[K.LO_XR] + r * K.NXR
            L(f"served_{r} = {served}")
            L(f"demand_{r} = {demand}")
            L(f"waiting_{r} = max({X(xr + K.XR_WAITING)}, 0.0)")
            L(f"activity_{r} = min({P(pr + K.PR_CAPACITY)}, demand_{r} + waiting_{r} * "
              f"{P(pr + K.PR_INV_QUEUE_CLEAR)})")
            L(f"r_unit_cost_{r} = {P(pr + K.PR_UNIT_COST)} * {G(nco + nag + a)}")
            L(f"cash_{r} = r_unit_cost_{r} * ({P(pr + K.PR_VARIABLE_SHARE)} * activity_{r} + "
              f"{P(pr + K.PR_FIXED_SHARE)} * max(activity_{r}, {X(xr + K.XR_CAPBASE)}))")
            self.update(xr + K.XR_WAITING, f"demand_{r} - activity_{r}", nonnegative=True)
            # only the cashable share of capacity freed since month 0 is decommissioned
            L(f"capacity_kept_{r} = activity_{r} + {P(pr + K.PR_RETAINED)} * "
              f"max(0.0, {X(xr + K.XR_CAPINIT)} - activity_{r})")
            self.update(xr + K.XR_CAPBASE, f"(capacity_kept_{r} - {X(xr + K.XR_CAPBASE)}) * "
                        f"{P(pr + K.PR_INV_DECOMMISSION)}")
            self.update(xr + K.XR_ACT, f"activity_{r}")
            self.update(xr + K.XR_SPEND, f"cash_{r}")
            self.update(xr + K.XR_VALUE, f"r_unit_cost_{r} * activity_{r}")
            L(f"react_cash_{a} += cash_{r}")
            L(f"share_waiting_{r} = min(1.0, waiting_{r} / served_{r}) if served_{r} > "
              f"{K._TINY!r} else 0.0")
            L(f"waiting_factor_{r} = 1.0 + {P(pr + K.PR_WAIT_COEF)} * share_waiting_{r}")

    COHORT_FLOWS = (("inflow", K.XC_INFLOW), ("exit", K.XC_EXIT), ("esc", K.XC_ESC),
                    ("rec", K.XC_REC), ("death", K.XC_DEATH), ("trans_out", K.XC_TRANS_OUT),
                    ("trans_in", K.XC_TRANS_IN), ("employed", K.XC_EMPLOYED),
                    ("employ_value", K.XC_EMPLOY_VALUE))
    """The cumulative flows of a cohort: local name ``c_<name>_<cohort>`` and state field."""

    def _emit_people_flows(self) -> None:
        """People: escalation multiplier, recovery multiplier, substituted escalation (moving
        down instead of up), outflows (scaled to the stock), exits split into leaving, deaths
        and transitions to another cohort, employment, flows of the cohort."""
        lo, s, P, X, G = self.lo, self.s, self.P, self.X, self.G
        nco, npop = self.nco, self.npop
        pop_cohort, pop_first, pop_last = s["pop_cohort"], s["pop_first"], s["pop_last"]
        self.new()
        self.line("qaly = 0.0")
        for c in range(nco):
            for name, _ in self.COHORT_FLOWS:
                self.line(f"c_{name}_{c} = 0.0")
        for i in range(npop):
            self.new()
            L = self.line
            prev = [int(v) for v in s["pop_prev"][s["pop_prev_ptr"][i]:s["pop_prev_ptr"][i + 1]]]
            factors = [f"prevention_{v}" for v in prev]
            factors += [f"waiting_factor_{int(r)}" for r in
                        s["pop_react"][s["pop_react_ptr"][i]:s["pop_react_ptr"][i + 1]]]
            factors += [f"erosion_{int(a)}" for a in
                        s["pop_ag"][s["pop_ag_ptr"][i]:s["pop_ag_ptr"][i + 1]]]
            subs = [f"sub_{int(k)}" for k in
                    s["pop_sub"][s["pop_sub_ptr"][i]:s["pop_sub_ptr"][i + 1]]]
            c = int(pop_cohort[i])
            pp = lo[K.LO_PP] + i * K.NPP
            xp = lo[K.LO_XP] + i * K.NXP
            top, bottom = bool(pop_last[i]), bool(pop_first[i])
            L(f"people_{i} = max({X(xp + K.XP_PEOPLE)}, 0.0)")
            # flows in the generic kernel's order: escalation, substituted escalation,
            # recovery, exit (a structurally zero flow is left out: adding 0 is exact)
            flows = []
            if not top:
                mult = " * ".join(factors) or "1.0"
                if subs:
                    L(f"esc_all_{i} = {P(pp + K.PP_ESC)} * ({mult}) * people_{i}")
                    L(f"kept_{i} = {' * '.join(subs)}")
                    L(f"esc_{i} = esc_all_{i} * kept_{i}")
                    flows.append(f"esc_{i}")
                    if not bottom:
                        L(f"div_{i} = esc_all_{i} * (1.0 - kept_{i})")
                        flows.append(f"div_{i}")
                else:
                    L(f"esc_{i} = {P(pp + K.PP_ESC)} * ({mult}) * people_{i}")
                    flows.append(f"esc_{i}")
            if not bottom:
                rmult = " * ".join(f"recovery_{v}" for v in prev)
                rmult = f" * ({rmult})" if rmult else ""
                L(f"rec_{i} = {P(pp + K.PP_REC)}{rmult} * people_{i}")
                flows.append(f"rec_{i}")
            L(f"ext_{i} = {P(pp + K.PP_EXIT)} * people_{i}")
            flows.append(f"ext_{i}")
            L(f"out_dt_{i} = ({' + '.join(flows)}) * dt")
            L(f"scale_{i} = people_{i} / out_dt_{i} if out_dt_{i} > people_{i} else 1.0")
            for fl in flows:
                L(f"{fl} = {fl} * scale_{i}")
            # the flow to the state below: recovery plus substituted escalation
            down = [fl for fl in (f"rec_{i}", f"div_{i}") if fl in flows]
            if down:
                L(f"down_{i} = {' + '.join(down)}")
            L(f"inflow_{i} = {P(pp + K.PP_INFLOW)} * {G(c)}")
            L(f"net_{i} = inflow_{i}" + "".join(f" - {fl}" for fl in flows))
            L(f"move_{i} = ext_{i} * {P(pp + K.PP_TRANS_SHARE)}")
            L(f"employed_{i} = {P(pp + K.PP_EMPLOY)} * people_{i}")
            self.update(xp + K.XP_PERSON_MONTHS, f"people_{i}")
            L(f"c_inflow_{c} += inflow_{i}")
            L(f"c_exit_{c} += ext_{i} * {P(pp + K.PP_LEAVE_SHARE)}")
            if not top:
                L(f"c_esc_{c} += esc_{i}")
            if down:
                L(f"c_rec_{c} += down_{i}")
            L(f"c_death_{c} += ext_{i} * {P(pp + K.PP_DEATH_SHARE)}")
            L(f"c_trans_out_{c} += move_{i}")
            L(f"c_employed_{c} += employed_{i}")
            L(f"c_employ_value_{c} += employed_{i} * {P(pp + K.PP_EMPLOY_VALUE)}")
            if self.utility[i] != 0.0:
                L(f"qaly += {float(self.utility[i])!r} * people_{i} / 12.0 * disc_h")
        # stocks: escalation in from the state below, own net flow, flow down from the one
        # above, then arrivals from other cohorts
        for i in range(npop):
            self.new()
            xp = lo[K.LO_XP] + i * K.NXP
            below = f"esc_{i - 1}" if not pop_first[i] else "0.0"
            above = f"down_{i + 1}" if not pop_last[i] else "0.0"
            rate = f"({below} + net_{i}) + {above}"
            arrivals = [f"move_{int(j)}" for j in
                        s["trans_in"][s["trans_in_ptr"][i]:s["trans_in_ptr"][i + 1]]]
            if arrivals:
                self.line(f"arrivals_{i} = {' + '.join(arrivals)}")
                self.line(f"c_trans_in_{int(pop_cohort[i])} += arrivals_{i}")
                rate = f"({rate}) + arrivals_{i}"
            self.update(xp + K.XP_PEOPLE, rate, nonnegative=True)
        for c in range(nco):
            self.new()
            xc = lo[K.LO_XC] + c * K.NXC
            for name, field in self.COHORT_FLOWS:
                self.update(xc + field, f"c_{name}_{c}")

    def _emit_agencies_spend(self) -> None:
        """Agencies: overhead, pool contributions, captured savings, budgets, policy."""
        lo, P, X, G = self.lo, self.P, self.X, self.G
        nco, nag = self.nco, self.nag
        g_base, xg = nco + 2 * nag, lo[K.LO_XG]
        self.new()
        self.line("total = 0.0")
        self.line("reinvested = 0.0")
        self.line("pool_in = 0.0")
        for a in range(nag):
            self.new()
            L = self.line
            pa = lo[K.LO_PA] + a * K.NPA
            xa = lo[K.LO_XA] + a * K.NXA
            L(f"overhead_rate_{a} = {P(pa + K.PA_OVERHEAD)} * (1.0 - active * "
              f"{P(pa + K.PA_PARTICIPATES)} * {self.pg(K.PG_OH_REDUCTION)} * ramp)")
            L(f"service_spend_{a} = prev_spend_{a} + react_cash_{a}")
            L(f"overhead_{a} = overhead_rate_{a} * service_spend_{a}")
            L(f"contribution_{a} = active * {P(pa + K.PA_CONTRIBUTION)} * budget_{a}")
            L(f"reinvest_on_{a} = active * {self.pg(K.PG_LOOP_REINVEST)}")
            L(f"capture_paid_{a} = reinvest_on_{a} * {X(xa + K.XA_CAPTURED)} * "
              f"{self.pg(K.PG_INV_REINVEST_DELAY)}")
            L(f"baseline_{a} = ref[{a * LANES} + l] * {G(g_base)} * {G(nco + nag + a)}")
            L(f"savings_{a} = max(0.0, baseline_{a} - react_cash_{a})")
            L(f"capturing_{a} = reinvest_on_{a} * (t > {self.pg(K.PG_POOL_START)})")
            L(f"capture_in_{a} = capturing_{a} * {P(pa + K.PA_PARTICIPATES)} * "
              f"{self.pg(K.PG_CAPTURE)} * savings_{a}")
            L(f"spend_{a} = service_spend_{a} + overhead_{a} + contribution_{a} + "
              f"capture_paid_{a}")
            self.update(xa + K.XA_CAPTURED, f"capture_in_{a} - capture_paid_{a}")
            self.update(xa + K.XA_RESERVES, f"budget_{a} - spend_{a}")
            self.update(xa + K.XA_PERCEIVED, f"(spend_{a} - {X(xa + K.XA_PERCEIVED)}) * "
                        f"{P(pa + K.PA_INV_PERCEPTION)}")
            self.update(xa + K.XA_SPEND, f"spend_{a}")
            self.update(xa + K.XA_OVERHEAD, f"overhead_{a}")
            self.update(xa + K.XA_CONTRIB, f"contribution_{a}")
            self.update(xa + K.XA_CAPTURE, f"capture_paid_{a}")
            self.update(xa + K.XA_BUDGET, f"budget_{a}")
            self.update(xa + K.XA_DISC, f"spend_{a} * disc")
            L(f"total += service_spend_{a} + overhead_{a}")
            L(f"reinvested += capture_paid_{a}")
            L(f"pool_in += contribution_{a} + capture_paid_{a}")
        self.new()
        self.line(f"available = max(0.0, pool_in + {X(xg + K.XG_POOL)} * "
                  f"{self.pg(K.PG_INV_SPEND_DOWN)} - setup - double_running - pool_community)")
        self.line("places_cost = 0.0")

    def _emit_preventive_funding(self) -> None:
        """Preventive services: siloed cuts / restoration, places commissioned by the pool."""
        lo, s, P, X = self.lo, self.s, self.P, self.X
        nprev = self.nprev
        prev_agency = s["prev_agency"]
        for v in range(nprev):
            self.new()
            L = self.line
            a = int(prev_agency[v])
            pv = lo[K.LO_PV] + v * K.NPV
            xv = lo[K.LO_XV] + v * K.NXV
            pa = lo[K.LO_PA] + a * K.NPA
            perceived = X(lo[K.LO_XA] + a * K.NXA + K.XA_PERCEIVED)
            funding = X(xv + K.XV_FUNDING)
            L(f"pressure_{v} = {perceived} / budget_{a} if budget_{a} > {K._TINY!r} else 1e6")
            L(f"cut_{v} = min({P(pa + K.PA_CUT_RATE)} * max(0.0, pressure_{v} - 1.0), inv_dt) * "
              f"max(0.0, {funding} - {P(pa + K.PA_FLOOR)})")
            L(f"restore_{v} = {P(pa + K.PA_RESTORE_RATE)} * max(0.0, 1.0 - {funding}) "
              f"if pressure_{v} < 1.0 else 0.0")
            self.update(xv + K.XV_FUNDING, f"{self.pg(K.PG_LOOP_DOOM)} * (1.0 - pooled_{v}) * "
                        f"(restore_{v} - cut_{v})")
            L(f"target_{v} = active * {P(pv + K.PV_POOL_SHARE)} * available / unit_cost_{v} "
              f"if unit_cost_{v} > {K._TINY!r} else 0.0")
            self.update(xv + K.XV_POOL_PLACES, f"(target_{v} - {X(xv + K.XV_POOL_PLACES)}) * "
                        f"{self.pg(K.PG_INV_ADJUST)}")
            L(f"places_cost += unit_cost_{v} * {X(xv + K.XV_POOL_PLACES)}")

    def _emit_pool_balance(self) -> None:
        """The pool's balance and the global accumulators."""
        lo, G = self.lo, self.G
        nco, nprev, nag = self.nco, self.nprev, self.nag
        g_base, xg = nco + 2 * nag, lo[K.LO_XG]
        self.new()
        L = self.line
        L("pool_spend = places_cost + setup + double_running + pool_community")
        L("grand_total = total + pool_spend")
        self.update(xg + K.XG_POOL, "pool_in - pool_spend")
        self.update(xg + K.XG_POOL_IN, "pool_in")
        self.update(xg + K.XG_REINVESTED, "reinvested")
        self.update(xg + K.XG_POOL_SPEND, "pool_spend")
        self.update(xg + K.XG_SETUP, "setup")
        self.update(xg + K.XG_DR, "double_running")
        self.update(xg + K.XG_TOTAL, "grand_total")
        self.update(xg + K.XG_DISC_TOTAL, "grand_total * disc")
        self.update(xg + K.XG_DISC_QALY, "qaly")
        # the savings baseline follows reactive spend until the pool opens; coverage and
        # reactive cash also go to ``aux`` (the set-up passes read them)
        for a in range(nag):
            L(f"ref[{a * LANES} + l] = react_cash_{a} / ({G(g_base)} * {G(nco + nag + a)}) "
              f"if t <= start else ref[{a * LANES} + l]")
        for v in range(nprev):
            L(f"aux[{v * LANES} + l] = coverage_{v}")
        for a in range(nag):
            L(f"aux[{(nprev + a) * LANES} + l] = react_cash_{a}")


def _pack(frags: list[_Fragment], ngrowth: int) -> tuple[list[list[str]], int]:
    """Pack consecutive fragments into lane loops of at most MAX_POINTERS rows; returns the
    loop bodies (with their loads, carries and stores) and the number of carry slots."""
    def rows_of(f: _Fragment) -> set[str]:
        out = _rows(f.names())
        out.update(f"{w[0]}w{w[1]}" for w in f.writes)
        return out

    loops: list[list[_Fragment]] = []
    cur: list[_Fragment] = []
    cur_rows: set[str] = set()
    for f in frags:
        r = rows_of(f)
        if cur and len(cur_rows | r) > MAX_POINTERS:
            loops.append(cur)
            cur, cur_rows = [], set()
        cur.append(f)
        cur_rows |= r
    if cur:
        loops.append(cur)
    # names defined per loop; state rows are loaded in the first loop that uses them and
    # carried after (later loops must see the value before this step's update)
    defined_in: dict[str, int] = {}
    used: list[set[str]] = []
    for j, group in enumerate(loops):
        names: set[str] = set()
        for f in group:
            names |= f.names()
        used.append(names)
        for f in group:
            for n in f.defined():
                defined_in.setdefault(n, j)
        for n in _rows(names):
            if n[0] == "x":
                defined_in.setdefault(n, j)
    assigns = [set().union(*(f.defined() for f in group)) for group in loops]
    carried = sorted(n for n, j0 in defined_in.items()
                     if any(n in used[j] for j in range(j0 + 1, len(loops))))
    slot = {n: k for k, n in enumerate(carried)}
    bodies = []
    for j, group in enumerate(loops):
        body = []
        for n in sorted(used[j], key=lambda s: (s[0], int(s[1:]) if _LOADED.match(s) else 0, s)):
            m = _LOADED.match(n)
            if m is None:
                continue
            kind, row = m.group(1), int(m.group(2))
            if kind == "x" and defined_in[n] != j:
                continue
            src = {"x": "x", "p": "par", "g": "growth"}[kind]
            body.append(f"{n} = {src}[{row * LANES} + l]")
        for n in carried:
            if defined_in[n] < j and n in used[j]:
                body.append(f"{n} = s[{slot[n] * LANES} + l]")
        for f in group:
            body.extend(f.lines)
            for arr, row, expr in f.writes:
                body.append(f"{arr}[{row * LANES} + l] = {expr}")
        if j == len(loops) - 1:
            for k in range(ngrowth):
                body.append(f"growth[{k * LANES} + l] = growth[{k * LANES} + l] * "
                            f"step_full[{k * LANES} + l]")
        for n in carried:
            if (n in assigns[j] or defined_in[n] == j) and \
                    any(n in used[k] for k in range(j + 1, len(loops))):
                body.append(f"s[{slot[n] * LANES} + l] = {n}")
        bodies.append(body)
    return bodies, max(1, len(carried))


_JIT_LINE = ("@njit(cache=True, error_model='numpy', fastmath={{'contract', 'arcp', 'nsz'}}, "
             "_nrt=False{noalias})")


def generate_source(model) -> str:
    """Readable numba source of the Euler kernel for ``model``'s structure."""
    s = model.structure
    nco, npop = len(model.cohorts), model.npop
    nprev, nreact, nag = len(model.preventive), len(model.reactive), len(model.agencies)
    ngrowth = nco + 2 * nag + 1
    nstage = int(np.asarray(s["prev_order"]).sum())
    nutil = int(s["react_pop"].shape[0])
    lo = _layout_of(model)
    noalias = ", noalias=True" if K._noalias_option() else ""
    jit = _JIT_LINE.format(noalias=noalias)
    step_bodies, nslot = _pack(_Builder(model).build(), ngrowth)

    def arr(name, values, dtype):
        cast = float if dtype == "float64" else int
        return f"{name} = np.array({[cast(v) for v in values]!r}, dtype=np.{dtype})"

    out = [f'"""Euler kernel generated by tpsim.models.codegen (version {GENERATOR_VERSION}) for '
           f'a model with', f'{npop} need states, {nprev} preventive and {nreact} reactive '
           f'services, {nag} agencies, {nco} cohorts.',
           'Do not edit: tpsim regenerates it when the structure or the generator changes."""',
           "import numpy as np",
           "from numba import njit, prange",
           "from tpsim.models.kernel import _apply_changes, _load_params, _growth_steps",
           "",
           f"LANES = {LANES}",
           f"NSLOT = {nslot}",
           f"NX = {lo[K.LO_NX]}",
           f"NPAR = {lo[K.LO_NPAR]}",
           f"NGROWTH = {ngrowth}",
           f"NPREV, NREACT, NAG, NUTIL = {nprev}, {nreact}, {nag}, {nutil}",
           arr("LO", lo, "int64"),
           arr("XROW", getattr(K._state_rows, "py_func", K._state_rows)(
               np.asarray(model.xo, dtype=np.int64), np.asarray(lo, dtype=np.int64), npop, nco,
               nprev, nstage, nreact, nag), "int64"),
           "\"\"\"Record row of every state entry of the model's xo layout.\"\"\"",
           arr("PO", model.po, "int64"),
           arr("POP_FIRST", s["pop_first"], "bool_"),
           arr("POP_LAST", s["pop_last"], "bool_"),
           arr("PREV_ORDER", s["prev_order"], "int64"),
           arr("PREV_STAGE0", s["prev_stage0"], "int64"),
           arr("POP_COHORT", s["pop_cohort"], "int64"),
           arr("ULINK_PREV", s["ulink_prev"], "int64"),
           arr("SUB_PREV", s["sub_prev"], "int64"),
           "",
           ""]

    def function(name, args, doc, bodies):
        out.append(jit)
        out.append(f"def {name}({args}):")
        out.append(f'    """{doc}"""')
        for k, body in enumerate(bodies):
            out.append(f"    # lane loop {k + 1} of {len(bodies)}")
            out.append("    for l in range(L):")
            out.extend("        " + line for line in body)
        out.append("")
        out.append("")

    function("euler_step",
             "t, dt, inv_dt, disc, disc_h, L, x, par, growth, step_full, s, ref, aux",
             "One Euler step in place: x, growth and the savings baseline ref advance by dt;\n"
             "    coverage per preventive service and reactive cash per agency go to aux.\n"
             "    With dt = 1 on a copy of a state whose accumulators are 0, the accumulators\n"
             "    become the flows themselves (the set-up passes use that).",
             step_bodies)
    out.append(_driver_text(model, lo))
    return "\n".join(out) + "\n"


_DRIVER = '''
@njit(cache=True, error_model='numpy', _nrt=False)
def _block(run0, nrun, theta, ev_month, ev_param, ev_value, dt, steps_per_month, n_months,
           disc_month, disc_health_month, record_rows, xrow, out_final, out_traj,
           th, par2, x, f, growth2, step_full2, step_half2, ones, s, ref, aux):
    """Simulate runs run0 .. run0 + nrun - 1 (nrun <= LANES) in one block of lanes; lanes
    beyond nrun repeat the last run and are not written."""
    L = LANES
    par = par2.reshape(par2.size)
    growth = growth2.reshape(growth2.size)
    step_full = step_full2.reshape(step_full2.size)
    nparam = theta.shape[1]
    nev = ev_month.shape[0]
    nrec = record_rows.shape[0]
    inv_dt = 1.0 / dt
    for j in range(nparam):
        for l in range(L):
            th[j, l] = theta[run0 + min(l, nrun - 1), j]
    _load_params(th, par2, LO, PO, POP_FIRST.shape[0], NPREV, NREACT, NAG, NUTIL,
                 POP_FIRST, POP_LAST, PREV_ORDER, POP_COHORT, ULINK_PREV, SUB_PREV)
    for j in range(x.shape[0]):
        x[j] = 0.0
    for j in range(growth.shape[0]):
        growth[j] = 1.0
    for j in range(ref.shape[0]):
        ref[j] = 0.0
    for i in range(POP_FIRST.shape[0]):
        for l in range(L):
            x[(%(XP)d + i * %(NXP)d) * L + l] = th[%(P_INITIAL)d + i, l]
    for v in range(NPREV):
        for l in range(L):
            x[(%(XV)d + v * %(NXV)d + %(XV_FUNDING)d) * L + l] = 1.0
    for a in range(NAG):
        for l in range(L):
            x[(%(XA)d + a * %(NXA)d + %(XA_RESERVES)d) * L + l] = th[%(P_AG_RESERVES)d + a, l]
    # first pass: coverage at month 0 sets the delay stages and the persisting effect
    # (services already running are in steady state); the passes step a copy of the state
    # (accumulators 0) by dt = 1, so its accumulators hold the flows
    for j in range(x.shape[0]):
        f[j] = x[j]
    euler_step(0.0, 1.0, 1.0, 1.0, 1.0, L, f, par, growth, ones, s, ref, aux)
    for v in range(NPREV):
        for k in range(PREV_ORDER[v]):
            for l in range(L):
                x[(%(XS)d + PREV_STAGE0[v] + k) * L + l] = aux[v * L + l]
        for l in range(L):
            x[(%(XV)d + v * %(NXV)d + %(XV_PERSIST)d) * L + l] = aux[v * L + l]
    # second pass: activity at month 0 (with the effects in place) sets the capacity cost
    # base and the capacity in place at month 0; perceived spend starts at actual spend;
    # savings baseline at month 0
    for j in range(x.shape[0]):
        f[j] = x[j]
    euler_step(0.0, 1.0, 1.0, 1.0, 1.0, L, f, par, growth, ones, s, ref, aux)
    for r in range(NREACT):
        for l in range(L):
            activity = f[(%(XR)d + r * %(NXR)d + %(XR_ACT)d) * L + l]
            x[(%(XR)d + r * %(NXR)d + %(XR_CAPBASE)d) * L + l] = activity
            x[(%(XR)d + r * %(NXR)d + %(XR_CAPINIT)d) * L + l] = activity
    for a in range(NAG):
        for l in range(L):
            x[(%(XA)d + a * %(NXA)d + %(XA_PERCEIVED)d) * L + l] = \
                f[(%(XA)d + a * %(NXA)d + %(XA_SPEND)d) * L + l]
            ref[a * L + l] = aux[(NPREV + a) * L + l]
    for l in range(nrun):
        for j in range(nrec):
            out_traj[run0 + l, 0, j] = x[record_rows[j] * L + l]
    _growth_steps(th, PO, %(NCO)d, NAG, dt, step_full2, step_half2)
    ev = 0
    n_steps = n_months * steps_per_month
    for step in range(n_steps):
        t = step * dt
        due = _apply_changes(th, t, ev, nev, ev_month, ev_param, ev_value, run0, nrun, L)
        if due != ev:
            ev = due
            _growth_steps(th, PO, %(NCO)d, NAG, dt, step_full2, step_half2)
            _load_params(th, par2, LO, PO, POP_FIRST.shape[0], NPREV, NREACT,
                         NAG, NUTIL, POP_FIRST, POP_LAST, PREV_ORDER, POP_COHORT, ULINK_PREV,
                         SUB_PREV)
        month = step // steps_per_month
        euler_step(t, dt, inv_dt, disc_month[month], disc_health_month[month], L, x, par,
                   growth, step_full, s, ref, aux)
        if (step + 1) %% steps_per_month == 0 and nrec > 0:
            m = (step + 1) // steps_per_month
            for l in range(nrun):
                for j in range(nrec):
                    out_traj[run0 + l, m, j] = x[record_rows[j] * L + l]
    for j in range(xrow.shape[0]):
        for l in range(nrun):
            out_final[run0 + l, j] = x[xrow[j] * L + l]


@njit(parallel=True, cache=True, error_model='numpy')
def simulate_batch(theta, ev_month, ev_param, ev_value, dt, steps_per_month, n_months,
                   disc_month, disc_health_month, record_rows, xrow, out_final, out_traj,
                   n_chunks):
    """Simulate every row of theta in blocks of LANES runs, n_chunks chunks of blocks in
    parallel; record_rows and xrow are record rows (tpsim.models.kernel._state_rows)."""
    nruns = theta.shape[0]
    nblocks = (nruns + LANES - 1) // LANES
    nchunks = min(nblocks, n_chunks)
    for chunk in prange(nchunks):
        th = np.empty((theta.shape[1], LANES))
        par2 = np.zeros((NPAR, LANES))
        x = np.zeros(NX * LANES)
        f = np.zeros(NX * LANES)
        growth2 = np.ones((NGROWTH, LANES))
        step_full2 = np.ones((NGROWTH, LANES))
        step_half2 = np.ones((NGROWTH, LANES))
        ones = np.ones(NGROWTH * LANES)
        s = np.zeros(NSLOT * LANES)
        ref = np.zeros(max(NAG, 1) * LANES)
        aux = np.zeros(max(NPREV + NAG, 1) * LANES)
        b0 = chunk * nblocks // nchunks
        b1 = (chunk + 1) * nblocks // nchunks
        for b in range(b0, b1):
            run0 = b * LANES
            nrun = min(LANES, nruns - run0)
            _block(run0, nrun, theta, ev_month, ev_param, ev_value, dt, steps_per_month,
                   n_months, disc_month, disc_health_month, record_rows, xrow, out_final,
                   out_traj, th, par2, x, f, growth2, step_full2, step_half2, ones, s, ref, aux)
'''


def _driver_text(model, lo: list[int]) -> str:
    from tpsim.models import layout as lay
    return _DRIVER % dict(
        P_INITIAL=int(model.po[lay.P_INITIAL]), P_AG_RESERVES=int(model.po[lay.P_AG_RESERVES]),
        NCO=len(model.cohorts), XP=lo[K.LO_XP], XV=lo[K.LO_XV], XS=lo[K.LO_XS], XR=lo[K.LO_XR],
        XA=lo[K.LO_XA], NXP=K.NXP, NXV=K.NXV, NXR=K.NXR, NXA=K.NXA, XV_FUNDING=K.XV_FUNDING,
        XA_RESERVES=K.XA_RESERVES, XR_CAPBASE=K.XR_CAPBASE, XR_ACT=K.XR_ACT,
        XV_PERSIST=K.XV_PERSIST, XR_CAPINIT=K.XR_CAPINIT,
        XA_PERCEIVED=K.XA_PERCEIVED, XA_SPEND=K.XA_SPEND)


def is_warm(module: ModuleType) -> bool | None:
    """True if numba's on-disk cache holds the compiled kernel of ``module`` (or this process
    compiled it), False if the next call compiles it, None if unknown (numba internals)."""
    try:
        if module.simulate_batch.signatures:
            return True
        return bool(module.simulate_batch._cache._cache_file._load_index())
    except Exception:  # pragma: no cover - depends on numba internals
        return None


def _fingerprint(model) -> bytes:
    """Digest of every model field :func:`generate_source` reads: within one process (one
    generator) equal fingerprints give equal source, so :func:`load` generates, hashes and
    imports once per structure instead of once per call (that took 7-50 ms a call)."""
    h = hashlib.sha256()
    sizes = (len(model.cohorts), model.npop, len(model.preventive), len(model.reactive),
             len(model.agencies))
    h.update(repr(sizes).encode())
    arrays = [("po", model.po), ("xo", model.xo), ("pop_utility", model.pop_utility)]
    arrays += sorted(model.structure.items())
    for name, value in arrays:
        arr = np.ascontiguousarray(value)
        h.update(f"{name} {arr.dtype} {arr.shape}".encode())
        h.update(arr.tobytes())
    return h.digest()


_by_fingerprint: dict[tuple[Path, bytes], ModuleType] = {}


_recent: list[tuple[object, bytes]] = []
"""The fingerprints of the last few models loaded (the model objects themselves, compared by
identity): an ensemble calls :func:`load` for the same two models thousands of times, and
hashing their arrays took 0.4 ms a call."""


def _fingerprint_of(model) -> bytes:
    for known, digest in _recent:
        if known is model:
            return digest
    digest = _fingerprint(model)
    _recent.insert(0, (model, digest))
    del _recent[8:]
    return digest


def load(model) -> ModuleType:
    """The generated kernel module for ``model`` (generated and written on first use). A
    model's structure must not be edited in place after its first load (compile a new one)."""
    fingerprint = (cache_dir(), _fingerprint_of(model))
    mod = _by_fingerprint.get(fingerprint)
    if mod is not None:
        return mod
    text = generate_source(model)
    key = structure_key(model, text)
    mod = _modules.get(key)
    if mod is not None:
        _by_fingerprint[fingerprint] = mod
        return mod
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"tpsim_kernel_{key}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    name = f"tpsim_kernel_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _modules[key] = mod
    _by_fingerprint[fingerprint] = mod
    return mod
