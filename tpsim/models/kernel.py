"""The generic numba kernel: simulate many parameter sets of one compiled model in one call.

It reads the model's structure from index arrays at run time, so one compiled kernel serves
every model. :mod:`tpsim.models.codegen` generates a faster Euler kernel per model structure,
which :func:`tpsim.models.simulate.simulate` runs for Euler; this kernel runs RK4 and is the
reference the generated one is tested against.

Design (see docs/model.md for every equation):

* Runs are processed in blocks of ``LANES`` runs. Every array inside a block is shaped
  ``[row, LANES]`` and every arithmetic loop has the lane loop innermost, so LLVM vectorises
  the model across runs (SIMD) while threads (``prange``) take different chunks of blocks.
* All buffers are allocated once per chunk, before the time loop.
* The kernel knows nothing of YAML or files: it takes flat arrays (``theta`` parameters per run,
  structure index arrays, offsets from :mod:`tpsim.models.layout`) and writes into
  preallocated outputs: the final state per run (all cumulative accumulators, i.e. totals) and,
  optionally, month-end snapshots of chosen state entries.

How the hot code is kept vectorised and cheap (benchmarks/README.md has the measurements):

* **Records.** Inside a block the kernel does not use the ``po``/``xo`` block layout of
  :mod:`tpsim.models.layout` (where the fields of one service are ``nreact`` rows apart).
  Parameters (``par``) and state (``x``) are laid out as one *record* per entity (population
  index, preventive service, reactive service, agency, cohort, plus one global record), with
  fields at fixed offsets (the ``PP_*``, ``XR_*`` ... constants below); scratch values live in
  one array per entity type (``sp``, ``sv``, ``sr``, ``sa``, ``sc``, ``sg``), also as records.
  A lane loop over entity ``r`` takes record views (``xr = x[b:b + NXR]``) and indexes them
  with the field constants, so every access is a constant offset from a few base pointers.
  ``_layout`` computes the record bases; ``xrow`` maps the layout's state indices to record
  rows (initial state, outputs).
* **Steps.** ``_derivative`` is a sequence of steps, one per entity type in the order of
  docs/model.md (``_preventive_services``, ``_reactive_services``, ``_people_flows`` ...);
  each takes the record views of its arrays itself (``_lane_rows``) and passes what later
  steps read through the scratch records, so a step is one compiled function with its own
  lane loops, whether or not LLVM inlines it.
* **No overlap checks.** The derivative's steps are compiled with numba's ``noalias`` flag
  (the one numba sets on parallel-loop bodies), so LLVM knows their array arguments never
  overlap; with the records that leaves no runtime overlap checks in the lane loops, and one
  fat lane loop can do all of an entity's work. Without it LLVM needed a check per pair of rows and left
  loops with more than a few of them scalar.
* **Write once.** The derivative writes ``out = keep * x + h * f`` for every state row: with
  ``keep = 1, h = dt`` that is the Euler step itself (``x`` and ``out`` are swapped each step,
  no separate ``dx`` pass); with ``keep = 0, h = 1`` it is plain ``f`` (RK4 stages, set-up).
* **Few divisions.** Reciprocals of parameter-only delays (``1/queue_clear_time`` ...) are
  computed once per block and after each time-keyed change (``_load_params``); the run-time
  divisions left are the ones whose denominators change every step.
* **Fixed-width gathers.** Sums and products over a variable list (people served by a
  service, factors of an escalation multiplier) are done four terms per lane loop, padded with
  a zero (sums) or one (products) row, so the additions and multiplications happen in the same
  order as a term-by-term loop; the last four terms are added inside the entity's main loop
  (most lists have at most four, so most entities need one loop in all).
* **Index hoisting.** Every row index is computed into a local int before its lane loop (a
  load from an index array inside the loop stops vectorisation), and record fields are
  indexed by constants (no negative-index wraparound code per access).
* **Trip count.** Lane loops run to ``x.shape[1]`` (== LANES at run time), not to the constant:
  a constant trip count makes LLVM fully unroll the loop into scalar code before the loop
  vectoriser runs. ``_lane_rows`` makes the row length (the distance between fields) the
  constant instead.
* **No reference counting.** The functions below ``simulate_batch`` never allocate, so they are
  compiled without the NRT: otherwise each call increfs/decrefs every array argument with
  atomic operations on cache lines that both threads share.

Block width: every block computes ``LANES`` lanes, so wider blocks amortise each lane loop's
start-up cost at the price of small batches (one run costs a whole block) and of the cache a
block's rows occupy; ``LANES`` is the one constant to change.

Floating-point order: every quantity is computed with the same operations as the plain
formulas of docs/model.md except (a) a division by a parameter-only delay is a multiplication
by its reciprocal (computed per block), (b) an agency's spend on services is its preventive
spend plus its reactive cash (each summed in service order), (c) FMA contraction may differ.
Results agree with a term-by-term implementation to ~1e-10 relative.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from tpsim.models.layout import (
    P_INITIAL, P_INFLOW, P_ESC, P_REC, P_EXIT, P_INFLOW_GROWTH,
    P_PV_UNIT_COST, P_PV_PLACES, P_PV_UPTAKE, P_PV_EFFECT, P_PV_TIME_TO_EFFECT,
    P_PV_COMM_PLACES, P_PV_COMM_UNIT_COST, P_PV_COMM_RAMP, P_PV_POOL_SHARE,
    P_RV_UNIT_COST, P_RV_FIXED_SHARE, P_RV_DECOMMISSION, P_RV_CAPACITY, P_RV_QUEUE_CLEAR,
    P_RV_DETERIORATION, P_UTIL,
    P_AG_BUDGET, P_AG_GROWTH, P_AG_RESERVES, P_AG_OVERHEAD, P_AG_PERCEPTION, P_AG_CUT_RATE,
    P_AG_RESTORE_RATE, P_AG_FLOOR, P_AG_EFFICIENCY, P_AG_EROSION, P_AG_CONTRIBUTION, P_GLOBAL,
    G_LOOP_DOOM, G_LOOP_REINVEST, G_LOOP_WAITING, G_LOOP_EROSION, G_POOL_ON, G_POOL_START,
    G_CAPTURE, G_REINVEST_DELAY, G_BASELINE_GROWTH, G_ADJUST_TIME, G_SPEND_DOWN, G_SETUP_COST,
    G_SETUP_MONTHS, G_DR_COST, G_DR_MONTHS, G_OH_REDUCTION, G_OH_RAMP,
    X_POP, X_STAGE, X_FUNDING, X_POOL_PLACES, X_COMMUNITY, X_WAITING, X_CAPBASE, X_RESERVES,
    X_PERCEIVED, X_CAPTURED, X_POOL,
    A_INFLOW, A_EXIT, A_ESC, A_PERSON_MONTHS, A_ACT_PREV, A_ACT_REACT, A_SPEND_PREV,
    A_SPEND_REACT, A_VALUE_REACT, A_AG_SPEND, A_AG_OVERHEAD, A_AG_CONTRIB, A_AG_CAPTURE,
    A_BUDGET, A_POOL_IN, A_REINVESTED, A_POOL_SPEND, A_SETUP, A_DOUBLE_RUNNING, A_DISC_AG,
    A_DISC_TOTAL, A_DISC_QALY, A_TOTAL,
    P_DEATH_SHARE, P_TRANS_SHARE, P_EMPLOYMENT, P_EMPLOY_VALUE, P_PV_RECOVERY, P_PV_SHORT_RUN,
    P_PV_DECAY, P_PV_DEADWEIGHT, P_PV_DISPLACEMENT, P_PV_ATTRIBUTION, P_RV_CASHABLE,
    P_UTIL_EFFECT, P_SUBSTITUTION,
    X_PERSIST, X_CAPINIT, A_REC, A_DEATH, A_TRANS_OUT, A_TRANS_IN, A_EMPLOYED, A_EMPLOY_VALUE,
)

LANES = 64
"""Runs simulated together in one SIMD block."""

_TINY = 1e-12
_JIT = dict(cache=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"})
# for functions that never allocate (see the module docstring: no reference counting)
_JIT_NO_NRT = dict(_JIT, _nrt=False)


def _noalias_option() -> dict:
    """``noalias=True`` as a jit option: numba has the compiler flag (it sets it on the bodies
    of parallel loops) but does not map a jit option to it. Registering the mapping adds the
    option and changes nothing else; if a numba version lacks the flag, compile without it
    (same results, slower)."""
    try:
        from numba.core.compiler import Flags
        from numba.core.cpu import CPUTargetOptions
        from numba.core.options import TargetOptions
        if not hasattr(Flags, "noalias"):
            return {}
        if not isinstance(getattr(CPUTargetOptions, "noalias", None), TargetOptions.Mapping):
            CPUTargetOptions.noalias = TargetOptions.Mapping("noalias")
        return dict(noalias=True)
    except Exception:  # pragma: no cover - depends on numba internals
        return {}


# for the derivative: its array arguments are distinct buffers (callers must keep it so)
_JIT_DERIVATIVE = dict(_JIT_NO_NRT, **_noalias_option())

GATHER = 4
"""Terms per lane loop in the padded sums and products (the lane loops spell out four)."""

# ---- parameter records (``par``), rebuilt from theta per block and after each change ---------
# per population index; escalation is 0 in a cohort's top state, recovery 0 in its bottom one;
# LEAVE_SHARE = 1 - death_share - transition_share, EMPLOY_VALUE = the cohort's value per
# person-month in work
(PP_INFLOW, PP_ESC, PP_REC, PP_EXIT, PP_DEATH_SHARE, PP_TRANS_SHARE, PP_LEAVE_SHARE,
 PP_EMPLOY, PP_EMPLOY_VALUE) = range(9)
NPP = 9
# per preventive service; RATE = delay_order / time_to_effect, POOL_FLAG = (pool share > 0);
# the effects (EFFECT, SHORT_RUN, RECOVERY) are credited: multiplied by
# (1 - deadweight) x (1 - displacement) x attribution; INV_DECAY = 1 / effect_decay (0 when
# unset) and PERSIST_FLAG = 1 when effect_decay is set
(PV_UNIT_COST, PV_PLACES, PV_UPTAKE, PV_EFFECT, PV_RATE, PV_COMM_PLACES, PV_COMM_UNIT_COST,
 PV_INV_COMM_RAMP, PV_POOL_SHARE, PV_POOL_FLAG, PV_SHORT_RUN, PV_RECOVERY, PV_INV_DECAY,
 PV_PERSIST_FLAG) = range(14)
NPV = 14
# per reactive service; WAIT_COEF = loops.waiting_deterioration x deterioration,
# RETAINED = 1 - cashable_share
(PR_UNIT_COST, PR_VARIABLE_SHARE, PR_FIXED_SHARE, PR_INV_DECOMMISSION, PR_CAPACITY,
 PR_INV_QUEUE_CLEAR, PR_WAIT_COEF, PR_RETAINED) = range(8)
NPR = 8
# per agency; EROSION_COEF = loops.quality_erosion x quality_erosion,
# PARTICIPATES = (pool contribution > 0)
(PA_BUDGET, PA_OVERHEAD, PA_INV_PERCEPTION, PA_CUT_RATE, PA_RESTORE_RATE, PA_FLOOR,
 PA_EROSION_COEF, PA_CONTRIBUTION, PA_PARTICIPATES) = range(9)
NPA = 9
# global; SETUP_RATE = setup_cost / setup_months, *_END = pool.start + months
(PG_LOOP_DOOM, PG_LOOP_REINVEST, PG_POOL_ON, PG_POOL_START, PG_CAPTURE, PG_INV_REINVEST_DELAY,
 PG_INV_ADJUST, PG_INV_SPEND_DOWN, PG_SETUP_RATE, PG_SETUP_END, PG_DR_COST, PG_DR_END,
 PG_OH_REDUCTION, PG_INV_OH_RAMP) = range(14)
NPG = 14
# then one utilisation row per (reactive service, population index) pair, then a row of 0s,
# then the credited effect of each utilisation-effect link and each substitution link, then
# the effective utilisation of each pair (scratch rows, rewritten by every derivative)

# ---- state records (``x``); the stages of the delays are one block, ``nstage`` rows ------------
XP_PEOPLE, XP_PERSON_MONTHS = range(2)
NXP = 2
XV_FUNDING, XV_POOL_PLACES, XV_COMMUNITY, XV_ACT, XV_SPEND, XV_PERSIST = range(6)
NXV = 6
XR_WAITING, XR_CAPBASE, XR_ACT, XR_SPEND, XR_VALUE, XR_CAPINIT = range(6)
NXR = 6
(XA_RESERVES, XA_PERCEIVED, XA_CAPTURED, XA_SPEND, XA_OVERHEAD, XA_CONTRIB, XA_CAPTURE,
 XA_BUDGET, XA_DISC) = range(9)
NXA = 9
(XC_INFLOW, XC_EXIT, XC_ESC, XC_REC, XC_DEATH, XC_TRANS_OUT, XC_TRANS_IN, XC_EMPLOYED,
 XC_EMPLOY_VALUE) = range(9)
NXC = 9
# XG_ZERO is never written: the padding row of the people gathers
(XG_POOL, XG_POOL_IN, XG_REINVESTED, XG_POOL_SPEND, XG_SETUP, XG_DR, XG_DISC_TOTAL,
 XG_DISC_QALY, XG_TOTAL, XG_ZERO) = range(10)
NXG = 10

# ---- scratch records, one array per entity type, written during a derivative evaluation -----
# ``sp`` per population index: scaled escalation and flow down (recovery plus substituted
# escalation), net flow of the stock itself, escalation multiplier, recovery multiplier, share
# of escalation not substituted, flow to another cohort; one extra zero row at the end (the
# neighbour of a cohort's end states)
SP_ESC, SP_REC, SP_NET, SP_MULT, SP_RMULT, SP_KEEP, SP_MOVE = range(7)
NSP = 7
# ``sv`` per preventive service (ELIG only for services with more than GATHER states);
# EFFECTIVE = the effect coverage after the delay and the persistence of the effect
SV_ELIG, SV_COV, SV_UNIT_COST, SV_POOLED, SV_EFFECTIVE = range(5)
NSV = 5
# ``sr`` per reactive service, partial sums (only for more than GATHER utilisation pairs)
SR_SERVED, SR_DEMAND = range(2)
NSR = 2
# ``sa`` per agency: spend on its preventive services and its reactive cash spend (summed
# separately: one sum per reactive service less), budget; REF_NORM (the pool's savings
# baseline) persists between evaluations
SA_PREV_SPEND, SA_REACT_CASH, SA_BUDGET, SA_REF_NORM = range(4)
NSA = 4
# ``sc`` per cohort
(SC_INFLOW, SC_EXIT, SC_ESC, SC_REC, SC_DEATH, SC_TRANS_OUT, SC_TRANS_IN, SC_EMPLOYED,
 SC_EMPLOY_VALUE) = range(9)
NSC = 9
# ``sg`` global
# ZERO and ONE are constant rows (never written): the start of sums and products
(SG_ACTIVE, SG_RAMP, SG_SETUP, SG_DR, SG_POOL_COMMUNITY, SG_AVAILABLE, SG_PLACES_COST,
 SG_POOL_IN, SG_REINVESTED, SG_TOTAL, SG_QALY, SG_ZERO, SG_ONE) = range(13)
NSG = 13
# ``fac``: the factors of the escalation multipliers, one row per preventive service
# (prevention), reactive service (waiting list) and agency (quality erosion), then the
# recovery factor of each preventive service, the factor of each utilisation-effect link and
# of each substitution link, then a row of 1s (the padding of the products)

# ---- record bases (``lo``), from _layout ------------------------------------------------------
(LO_PP, LO_PV, LO_PR, LO_PA, LO_PG, LO_PU, LO_PZERO, LO_NPAR,
 LO_XP, LO_XV, LO_XS, LO_XR, LO_XA, LO_XC, LO_XG, LO_NX, LO_PUL, LO_PSUB, LO_PUE) = range(19)
N_LO = 19


@njit(**_JIT)
def _layout(npop, nco, nprev, nstage, nreact, nag, nutil, nulink, nsub):
    """Record bases of the parameter and state arrays of a block (``nulink`` utilisation-effect
    links, ``nsub`` substitution links)."""
    lo = np.zeros(N_LO, dtype=np.int64)
    lo[LO_PP] = 0
    lo[LO_PV] = lo[LO_PP] + npop * NPP
    lo[LO_PR] = lo[LO_PV] + nprev * NPV
    lo[LO_PA] = lo[LO_PR] + nreact * NPR
    lo[LO_PG] = lo[LO_PA] + nag * NPA
    lo[LO_PU] = lo[LO_PG] + NPG
    lo[LO_PZERO] = lo[LO_PU] + nutil
    lo[LO_PUL] = lo[LO_PZERO] + 1
    lo[LO_PSUB] = lo[LO_PUL] + nulink
    lo[LO_PUE] = lo[LO_PSUB] + nsub
    lo[LO_NPAR] = lo[LO_PUE] + nutil
    lo[LO_XP] = 0
    lo[LO_XV] = lo[LO_XP] + npop * NXP
    lo[LO_XS] = lo[LO_XV] + nprev * NXV
    lo[LO_XR] = lo[LO_XS] + nstage
    lo[LO_XA] = lo[LO_XR] + nreact * NXR
    lo[LO_XC] = lo[LO_XA] + nag * NXA
    lo[LO_XG] = lo[LO_XC] + nco * NXC
    lo[LO_NX] = lo[LO_XG] + NXG
    return lo


# (block of the ``xo`` state layout, field of the entity's record) for each entity type
_POP_FIELDS = np.array([[X_POP, XP_PEOPLE], [A_PERSON_MONTHS, XP_PERSON_MONTHS]])
_PREV_FIELDS = np.array([[X_FUNDING, XV_FUNDING], [X_POOL_PLACES, XV_POOL_PLACES],
                         [X_COMMUNITY, XV_COMMUNITY], [A_ACT_PREV, XV_ACT],
                         [A_SPEND_PREV, XV_SPEND], [X_PERSIST, XV_PERSIST]])
_REACT_FIELDS = np.array([[X_WAITING, XR_WAITING], [X_CAPBASE, XR_CAPBASE], [A_ACT_REACT, XR_ACT],
                          [A_SPEND_REACT, XR_SPEND], [A_VALUE_REACT, XR_VALUE],
                          [X_CAPINIT, XR_CAPINIT]])
_AGENCY_FIELDS = np.array([[X_RESERVES, XA_RESERVES], [X_PERCEIVED, XA_PERCEIVED],
                           [X_CAPTURED, XA_CAPTURED], [A_AG_SPEND, XA_SPEND],
                           [A_AG_OVERHEAD, XA_OVERHEAD], [A_AG_CONTRIB, XA_CONTRIB],
                           [A_AG_CAPTURE, XA_CAPTURE], [A_BUDGET, XA_BUDGET],
                           [A_DISC_AG, XA_DISC]])
_COHORT_FIELDS = np.array([[A_INFLOW, XC_INFLOW], [A_EXIT, XC_EXIT], [A_ESC, XC_ESC],
                           [A_REC, XC_REC], [A_DEATH, XC_DEATH], [A_TRANS_OUT, XC_TRANS_OUT],
                           [A_TRANS_IN, XC_TRANS_IN], [A_EMPLOYED, XC_EMPLOYED],
                           [A_EMPLOY_VALUE, XC_EMPLOY_VALUE]])
_GLOBAL_FIELDS = np.array([[X_POOL, XG_POOL], [A_POOL_IN, XG_POOL_IN],
                           [A_REINVESTED, XG_REINVESTED], [A_POOL_SPEND, XG_POOL_SPEND],
                           [A_SETUP, XG_SETUP], [A_DOUBLE_RUNNING, XG_DR],
                           [A_DISC_TOTAL, XG_DISC_TOTAL], [A_DISC_QALY, XG_DISC_QALY],
                           [A_TOTAL, XG_TOTAL]])


@njit(**_JIT)
def _field_rows(xrow, xo, fields, base, stride, n):
    """Record rows of ``n`` entities whose records start at ``base`` and are ``stride`` rows
    apart, for each (state block, record field) pair of ``fields``."""
    for k in range(fields.shape[0]):
        first = xo[fields[k, 0]]
        for e in range(n):
            xrow[first + e] = base + e * stride + fields[k, 1]


@njit(**_JIT)
def _state_rows(xo, lo, npop, nco, nprev, nstage, nreact, nag):
    """Record row of every state entry of the ``xo`` layout."""
    xrow = np.empty(xo[-1], dtype=np.int64)
    _field_rows(xrow, xo, _POP_FIELDS, lo[LO_XP], NXP, npop)
    for k in range(nstage):
        xrow[xo[X_STAGE] + k] = lo[LO_XS] + k
    _field_rows(xrow, xo, _PREV_FIELDS, lo[LO_XV], NXV, nprev)
    _field_rows(xrow, xo, _REACT_FIELDS, lo[LO_XR], NXR, nreact)
    _field_rows(xrow, xo, _AGENCY_FIELDS, lo[LO_XA], NXA, nag)
    _field_rows(xrow, xo, _COHORT_FIELDS, lo[LO_XC], NXC, nco)
    _field_rows(xrow, xo, _GLOBAL_FIELDS, lo[LO_XG], 0, 1)
    return xrow


@njit(**_JIT)
def _count_chunks(ptr):
    n = 0
    for e in range(ptr.shape[0] - 1):
        n += max(1, (ptr[e + 1] - ptr[e] + GATHER - 1) // GATHER)
    return n


@njit(**_JIT)
def _gather_chunks(ptr, rows, pad_row):
    """Split each entity's list ``rows[ptr[e]:ptr[e+1]]`` into chunks of GATHER rows, padded
    with ``pad_row``; every entity gets at least one chunk. Returns (chunk_ptr, chunk_rows):
    the chunks of entity e are ``chunk_rows[chunk_ptr[e]:chunk_ptr[e+1]]``."""
    n_entity = ptr.shape[0] - 1
    chunk_ptr = np.zeros(n_entity + 1, dtype=np.int64)
    chunk_rows = np.full((_count_chunks(ptr), GATHER), pad_row, dtype=np.int64)
    c = 0
    for e in range(n_entity):
        chunk_ptr[e] = c
        n = ptr[e + 1] - ptr[e]
        for k in range(n):
            chunk_rows[c + k // GATHER, k % GATHER] = rows[ptr[e] + k]
        c += max(1, (n + GATHER - 1) // GATHER)
    chunk_ptr[n_entity] = c
    return chunk_ptr, chunk_rows


@njit(**_JIT_NO_NRT)
def _credit(th, po, v, l):
    """Share of preventive service v's effects credited to it, in lane l."""
    return (1.0 - th[po[P_PV_DEADWEIGHT] + v, l]) * (1.0 - th[po[P_PV_DISPLACEMENT] + v, l]) * \
        th[po[P_PV_ATTRIBUTION] + v, l]


# (theta block, record field) of the parameters copied as they are, per entity type
_POP_COPIES = np.array([[P_INFLOW, PP_INFLOW], [P_EXIT, PP_EXIT],
                        [P_DEATH_SHARE, PP_DEATH_SHARE], [P_TRANS_SHARE, PP_TRANS_SHARE],
                        [P_EMPLOYMENT, PP_EMPLOY]])
_PREV_COPIES = np.array([[P_PV_UNIT_COST, PV_UNIT_COST], [P_PV_PLACES, PV_PLACES],
                         [P_PV_UPTAKE, PV_UPTAKE], [P_PV_COMM_PLACES, PV_COMM_PLACES],
                         [P_PV_COMM_UNIT_COST, PV_COMM_UNIT_COST],
                         [P_PV_POOL_SHARE, PV_POOL_SHARE]])
_REACT_COPIES = np.array([[P_RV_UNIT_COST, PR_UNIT_COST], [P_RV_FIXED_SHARE, PR_FIXED_SHARE],
                          [P_RV_CAPACITY, PR_CAPACITY]])
_AGENCY_COPIES = np.array([[P_AG_BUDGET, PA_BUDGET], [P_AG_OVERHEAD, PA_OVERHEAD],
                           [P_AG_CUT_RATE, PA_CUT_RATE], [P_AG_RESTORE_RATE, PA_RESTORE_RATE],
                           [P_AG_FLOOR, PA_FLOOR], [P_AG_CONTRIBUTION, PA_CONTRIBUTION]])


@njit(**_JIT_NO_NRT)
def _copy_params(th, par, po, copies, base, stride, n):
    """Copy entry e of each theta block of ``copies`` into its field of record e (records from
    ``base``, ``stride`` rows apart), in every lane."""
    L = th.shape[1]
    for k in range(copies.shape[0]):
        src = po[copies[k, 0]]
        field = copies[k, 1]
        for e in range(n):
            dst = base + e * stride + field
            for l in range(L):
                par[dst, l] = th[src + e, l]


@njit(**_JIT_NO_NRT)
def _cohort_params(th, par, lo, po, npop, pop_first, pop_last, pop_cohort):
    """Per population index: flow rates (no escalation from a top state, no recovery from a
    bottom one), exit split, employment and its value."""
    L = th.shape[1]
    _copy_params(th, par, po, _POP_COPIES, lo[LO_PP], NPP, npop)
    for i in range(npop):
        dst = lo[LO_PP] + i * NPP
        has_esc = not pop_last[i]
        has_rec = not pop_first[i]
        c = pop_cohort[i]
        for l in range(L):
            par[dst + PP_ESC, l] = th[po[P_ESC] + i, l] if has_esc else 0.0
            par[dst + PP_REC, l] = th[po[P_REC] + i, l] if has_rec else 0.0
            par[dst + PP_LEAVE_SHARE, l] = 1.0 - th[po[P_DEATH_SHARE] + i, l] - \
                th[po[P_TRANS_SHARE] + i, l]
            par[dst + PP_EMPLOY_VALUE, l] = th[po[P_EMPLOY_VALUE] + c, l]


@njit(**_JIT_NO_NRT)
def _preventive_params(th, par, lo, po, nprev, prev_order):
    """Per preventive service: costs, places, credited effects, delay rate and reciprocals."""
    L = th.shape[1]
    _copy_params(th, par, po, _PREV_COPIES, lo[LO_PV], NPV, nprev)
    for v in range(nprev):
        dst = lo[LO_PV] + v * NPV
        order = prev_order[v]
        for l in range(L):
            credit = _credit(th, po, v, l)
            decay = th[po[P_PV_DECAY] + v, l]
            persists = decay < np.inf
            par[dst + PV_EFFECT, l] = th[po[P_PV_EFFECT] + v, l] * credit
            par[dst + PV_SHORT_RUN, l] = th[po[P_PV_SHORT_RUN] + v, l] * credit
            par[dst + PV_RECOVERY, l] = th[po[P_PV_RECOVERY] + v, l] * credit
            par[dst + PV_INV_DECAY, l] = 1.0 / decay if persists else 0.0
            par[dst + PV_PERSIST_FLAG, l] = 1.0 if persists else 0.0
            par[dst + PV_RATE, l] = order / th[po[P_PV_TIME_TO_EFFECT] + v, l]
            par[dst + PV_INV_COMM_RAMP, l] = 1.0 / th[po[P_PV_COMM_RAMP] + v, l]
            par[dst + PV_POOL_FLAG, l] = 1.0 if th[po[P_PV_POOL_SHARE] + v, l] > 0.0 else 0.0


@njit(**_JIT_NO_NRT)
def _reactive_params(th, par, lo, po, nreact):
    """Per reactive service: costs, capacity, reciprocal delays, waiting-list coefficient."""
    L = th.shape[1]
    g = po[P_GLOBAL]
    _copy_params(th, par, po, _REACT_COPIES, lo[LO_PR], NPR, nreact)
    for r in range(nreact):
        dst = lo[LO_PR] + r * NPR
        for l in range(L):
            par[dst + PR_VARIABLE_SHARE, l] = 1.0 - th[po[P_RV_FIXED_SHARE] + r, l]
            par[dst + PR_INV_DECOMMISSION, l] = 1.0 / th[po[P_RV_DECOMMISSION] + r, l]
            par[dst + PR_INV_QUEUE_CLEAR, l] = 1.0 / th[po[P_RV_QUEUE_CLEAR] + r, l]
            par[dst + PR_WAIT_COEF, l] = th[g + G_LOOP_WAITING, l] * \
                th[po[P_RV_DETERIORATION] + r, l]
            par[dst + PR_RETAINED, l] = 1.0 - th[po[P_RV_CASHABLE] + r, l]


@njit(**_JIT_NO_NRT)
def _agency_params(th, par, lo, po, nag):
    """Per agency: budget, overhead, policy rates, erosion coefficient, pool contribution."""
    _copy_params(th, par, po, _AGENCY_COPIES, lo[LO_PA], NPA, nag)
    erosion_loop = po[P_GLOBAL] + G_LOOP_EROSION
    L = th.shape[1]
    for a in range(nag):
        dst = lo[LO_PA] + a * NPA
        for l in range(L):
            par[dst + PA_INV_PERCEPTION, l] = 1.0 / th[po[P_AG_PERCEPTION] + a, l]
            par[dst + PA_EROSION_COEF, l] = th[erosion_loop, l] * th[po[P_AG_EROSION] + a, l]
            par[dst + PA_PARTICIPATES, l] = \
                1.0 if th[po[P_AG_CONTRIBUTION] + a, l] > 0.0 else 0.0


@njit(**_JIT_NO_NRT)
def _global_params(th, par, lo, po):
    """The global record: loops, the pool's timing and costs, reciprocal delays."""
    L = th.shape[1]
    g = po[P_GLOBAL]
    dst = lo[LO_PG]
    for l in range(L):
        start = th[g + G_POOL_START, l]
        par[dst + PG_LOOP_DOOM, l] = th[g + G_LOOP_DOOM, l]
        par[dst + PG_LOOP_REINVEST, l] = th[g + G_LOOP_REINVEST, l]
        par[dst + PG_POOL_ON, l] = th[g + G_POOL_ON, l]
        par[dst + PG_POOL_START, l] = start
        par[dst + PG_CAPTURE, l] = th[g + G_CAPTURE, l]
        par[dst + PG_INV_REINVEST_DELAY, l] = 1.0 / th[g + G_REINVEST_DELAY, l]
        par[dst + PG_INV_ADJUST, l] = 1.0 / th[g + G_ADJUST_TIME, l]
        par[dst + PG_INV_SPEND_DOWN, l] = 1.0 / th[g + G_SPEND_DOWN, l]
        par[dst + PG_SETUP_RATE, l] = th[g + G_SETUP_COST, l] / th[g + G_SETUP_MONTHS, l]
        par[dst + PG_SETUP_END, l] = start + th[g + G_SETUP_MONTHS, l]
        par[dst + PG_DR_COST, l] = th[g + G_DR_COST, l]
        par[dst + PG_DR_END, l] = start + th[g + G_DR_MONTHS, l]
        par[dst + PG_OH_REDUCTION, l] = th[g + G_OH_REDUCTION, l]
        par[dst + PG_INV_OH_RAMP, l] = 1.0 / th[g + G_OH_RAMP, l]


@njit(**_JIT_NO_NRT)
def _utilisation_params(th, par, lo, po, nutil, ulink_prev, sub_prev):
    """Utilisation rates, one row per (reactive service, population index) pair, then a row
    of 0s, then the credited effects of the utilisation-effect and substitution links."""
    L = th.shape[1]
    # utilisation rates, one row per (reactive service, population index) pair, then 0s
    for k in range(nutil):
        src = po[P_UTIL] + k
        dst = lo[LO_PU] + k
        for l in range(L):
            par[dst, l] = th[src, l]
    for l in range(L):
        par[lo[LO_PZERO], l] = 0.0
    _credited_links(th, par, po, po[P_UTIL_EFFECT], lo[LO_PUL], ulink_prev)
    _credited_links(th, par, po, po[P_SUBSTITUTION], lo[LO_PSUB], sub_prev)


@njit(**_JIT_NO_NRT)
def _credited_links(th, par, po, src, dst, link_prev):
    """The effect of each link (theta rows from ``src``) credited to the preventive service
    ``link_prev[k]`` that makes it, into the rows of ``par`` from ``dst``."""
    L = th.shape[1]
    for k in range(link_prev.shape[0]):
        v = link_prev[k]
        for l in range(L):
            par[dst + k, l] = th[src + k, l] * _credit(th, po, v, l)


@njit(**_JIT_NO_NRT)
def _load_params(th, par, lo, po, npop, nprev, nreact, nag, nutil, pop_first, pop_last,
                 prev_order, pop_cohort, ulink_prev, sub_prev):
    """Fill the parameter records of a block from ``th`` (the ``po`` layout, per lane)."""
    _cohort_params(th, par, lo, po, npop, pop_first, pop_last, pop_cohort)
    _preventive_params(th, par, lo, po, nprev, prev_order)
    _reactive_params(th, par, lo, po, nreact)
    _agency_params(th, par, lo, po, nag)
    _global_params(th, par, lo, po)
    _utilisation_params(th, par, lo, po, nutil, ulink_prev, sub_prev)


LOAD_PARAMS_STEPS = (_credit, _copy_params, _credited_links, _cohort_params, _preventive_params,
                     _reactive_params, _agency_params, _global_params, _utilisation_params)
"""The steps :func:`_load_params` calls; the generated kernel calls it too, so its cache key
hashes their source."""


@intrinsic
def _lane_rows(typingctx, a):
    """The same rows x LANES array, with its row length the compile-time constant LANES
    (numba indexes a C-order array through its shape): the fields of a record view are then
    constant distances apart for LLVM. Only for arrays allocated with LANES columns."""
    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        dst = make_array(sig.return_type)(context, builder)
        n_rows = cgutils.unpack_tuple(builder, src.shape)[0]
        lanes = context.get_constant(types.intp, LANES)
        itemsize = context.get_constant(types.intp, 8)
        populate_array(dst, data=src.data, shape=[n_rows, lanes],
                       strides=[builder.mul(lanes, itemsize), itemsize], itemsize=src.itemsize,
                       meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, sig.return_type, dst._getvalue())
    if not (isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"
            and a.dtype == types.float64):
        return None
    return a(a), codegen


@njit(**_JIT_DERIVATIVE)
def _pool_switches(t, par, sg, sc, lo, nco):
    """Time-dependent switches of the pool at time ``t`` (months: active, overhead ramp, set-up
    and double-running cost) into ``sg``; zero the sums of ``sg`` and ``sc`` this evaluation
    adds to."""
    L = sg.shape[1]
    par, sg, sc = _lane_rows(par), _lane_rows(sg), _lane_rows(sc)
    pg = par[lo[LO_PG]:lo[LO_PG] + NPG]
    for l in range(L):
        start = pg[PG_POOL_START, l]
        active = pg[PG_POOL_ON, l] * (t >= start)
        sg[SG_ACTIVE, l] = active
        sg[SG_RAMP, l] = min(1.0, max(0.0, (t - start) * pg[PG_INV_OH_RAMP, l]))
        is_active = active > 0.0
        sg[SG_SETUP, l] = pg[PG_SETUP_RATE, l] if is_active and t < pg[PG_SETUP_END, l] else 0.0
        sg[SG_DR, l] = pg[PG_DR_COST, l] if is_active and t < pg[PG_DR_END, l] else 0.0
        sg[SG_POOL_COMMUNITY, l] = 0.0
        sg[SG_POOL_IN, l] = 0.0
        sg[SG_REINVESTED, l] = 0.0
        sg[SG_TOTAL, l] = 0.0
        sg[SG_QALY, l] = 0.0
        sg[SG_PLACES_COST, l] = 0.0
    for j in range(nco * NSC):
        for l in range(L):
            sc[j, l] = 0.0


@njit(**_JIT_DERIVATIVE)
def _agency_budgets(par, growth, sa, fac, lo, nco, f_erosion, nag):
    """Per agency: this month's budget and quality-erosion factor (row ``f_erosion + a`` of
    ``fac``); zero its spend sums."""
    L = sa.shape[1]
    par, growth, sa, fac = _lane_rows(par), _lane_rows(growth), _lane_rows(sa), _lane_rows(fac)
    for a in range(nag):
        b = lo[LO_PA] + a * NPA
        pa = par[b:b + NPA]
        sa_a = sa[a * NSA:(a + 1) * NSA]
        erosion = fac[f_erosion + a]
        budget_growth = growth[nco + a]
        efficiency = growth[nco + nag + a]
        for l in range(L):
            sa_a[SA_BUDGET, l] = pa[PA_BUDGET, l] * budget_growth[l]
            sa_a[SA_PREV_SPEND, l] = 0.0
            sa_a[SA_REACT_CASH, l] = 0.0
            erosion[l] = 1.0 + pa[PA_EROSION_COEF, l] * (1.0 - efficiency[l])


@njit(**_JIT_DERIVATIVE)
def _preventive_services(keep, h, x, out, par, growth, sv, sa, sg, fac, lo, nco, nag,
                         f_recovery, prev_agency, prev_order, prev_stage0, prev_chunk_ptr,
                         prev_chunk_x):
    """Per preventive service: coverage of the people eligible, its spend (added to the
    agency's and the pool's), the delay from coverage to effect, the persisting effect, and
    the service's prevention and recovery factors (rows ``v`` and ``f_recovery + v`` of ``fac``)."""
    nprev = prev_order.shape[0]
    L = x.shape[1]
    x, out, par, growth = _lane_rows(x), _lane_rows(out), _lane_rows(par), _lane_rows(growth)
    sv, sa, sg, fac = _lane_rows(sv), _lane_rows(sa), _lane_rows(sg), _lane_rows(fac)
    zero = sg[SG_ZERO]
    pool_community = sg[SG_POOL_COMMUNITY]
    for v in range(nprev):
        sv_v = sv[v * NSV:(v + 1) * NSV]
        # people eligible: GATHER states per loop; the last GATHER are added in the main loop
        # (spelled out four at a time on purpose: "Fixed-width gathers" in the module docstring)
        c_first = prev_chunk_ptr[v]
        c_last = prev_chunk_ptr[v + 1] - 1
        for c in range(c_first, c_last):
            x0 = x[prev_chunk_x[c, 0]]
            x1 = x[prev_chunk_x[c, 1]]
            x2 = x[prev_chunk_x[c, 2]]
            x3 = x[prev_chunk_x[c, 3]]
            so_far = zero if c == c_first else sv_v[SV_ELIG]
            elig = sv_v[SV_ELIG]
            for l in range(L):
                elig[l] = so_far[l] + max(x0[l], 0.0) + max(x1[l], 0.0) + max(x2[l], 0.0) + \
                    max(x3[l], 0.0)
        so_far = zero if c_last == c_first else sv_v[SV_ELIG]
        x0 = x[prev_chunk_x[c_last, 0]]
        x1 = x[prev_chunk_x[c_last, 1]]
        x2 = x[prev_chunk_x[c_last, 2]]
        x3 = x[prev_chunk_x[c_last, 3]]
        a = prev_agency[v]
        b = lo[LO_PV] + v * NPV
        pv = par[b:b + NPV]
        b = lo[LO_XV] + v * NXV
        xv = x[b:b + NXV]
        outv = out[b:b + NXV]
        s0 = lo[LO_XS] + prev_stage0[v]
        order = prev_order[v]
        last_stage = x[s0 + order - 1]
        efficiency = growth[nco + nag + a]
        prev_spend = sa[a * NSA + SA_PREV_SPEND]
        prevention = fac[v]
        recovery = fac[f_recovery + v]
        for l in range(L):
            eligible = so_far[l] + max(x0[l], 0.0) + max(x1[l], 0.0) + max(x2[l], 0.0) + \
                max(x3[l], 0.0)
            agency_places = xv[XV_FUNDING, l] * pv[PV_PLACES, l]
            pool_places = xv[XV_POOL_PLACES, l]
            community = xv[XV_COMMUNITY, l]
            places = agency_places + pool_places + community
            uptake = pv[PV_UPTAKE, l]
            # selects, not branches: no eligible people gives uptake if there are places
            coverage = uptake if places > 0.0 else 0.0
            coverage = min(uptake, places / eligible) if eligible > _TINY else coverage
            unit_cost = pv[PV_UNIT_COST, l] * efficiency[l]
            pooled = sg[SG_ACTIVE, l] * pv[PV_POOL_FLAG, l]
            # community places ramp towards their target
            outv[XV_COMMUNITY, l] = keep * community + \
                h * ((pv[PV_COMM_PLACES, l] - community) * pv[PV_INV_COMM_RAMP, l])
            community_cost = pv[PV_COMM_UNIT_COST, l] * community
            agency_cost = unit_cost * agency_places + (1.0 - pooled) * community_cost
            pool_cost = unit_cost * pool_places + pooled * community_cost
            outv[XV_SPEND, l] = keep * xv[XV_SPEND, l] + h * (agency_cost + pool_cost)
            outv[XV_ACT, l] = keep * xv[XV_ACT, l] + h * (coverage * eligible)
            sv_v[SV_COV, l] = coverage
            sv_v[SV_UNIT_COST, l] = unit_cost
            sv_v[SV_POOLED, l] = pooled
            prev_spend[l] += agency_cost
            pool_community[l] += pooled * community_cost
            # the effect persists after coverage falls (when effect_decay is set): the larger
            # of the delayed coverage and its slower-decaying memory
            delayed = last_stage[l]
            persist = xv[XV_PERSIST, l]
            effective = max(delayed, pv[PV_PERSIST_FLAG, l] * persist)
            outv[XV_PERSIST, l] = keep * persist + h * ((delayed - persist) * pv[PV_INV_DECAY, l])
            sv_v[SV_EFFECTIVE, l] = effective
            building = max(0.0, coverage - delayed)
            # prevention factor of the escalation of the people eligible (the short-run
            # effect acts while coverage runs ahead of the effect), and of their recovery
            prevention[l] = 1.0 - pv[PV_EFFECT, l] * effective + pv[PV_SHORT_RUN, l] * building
            recovery[l] = 1.0 + pv[PV_RECOVERY, l] * effective
        # the n-th order delay of coverage to effect
        x_stage = x[s0]
        out_stage = out[s0]
        for l in range(L):
            out_stage[l] = keep * x_stage[l] + \
                h * ((sv_v[SV_COV, l] - x_stage[l]) * pv[PV_RATE, l])
        xs = x[s0:s0 + order]
        outs = out[s0:s0 + order]
        for k in range(1, order):
            # consecutive stages: rows k-1 and k of the same view (k is not negative)
            xprev = xs[k - 1]
            xk = xs[k]
            outk = outs[k]
            for l in range(L):
                outk[l] = keep * xk[l] + h * ((xprev[l] - xk[l]) * pv[PV_RATE, l])


@njit(**_JIT_DERIVATIVE)
def _link_factors(par, sv, fac, p_first, f_first, link_prev):
    """Factor 1 - (credited effect x effective coverage of the service making the link) of
    each link: effects from row ``p_first`` of ``par``, factors to row ``f_first`` of ``fac``."""
    L = sv.shape[1]
    par, sv, fac = _lane_rows(par), _lane_rows(sv), _lane_rows(fac)
    for k in range(link_prev.shape[0]):
        v = link_prev[k]
        factor = fac[f_first + k]
        effect = par[p_first + k]
        effective = sv[v * NSV + SV_EFFECTIVE]
        for l in range(L):
            factor[l] = 1.0 - effect[l] * effective[l]


@njit(**_JIT_DERIVATIVE)
def _utilisation_links(par, sv, fac, lo, f_ulink, f_sub, ulink_prev, sub_prev,
                       util_link_ptr, util_link):
    """Factors of the utilisation-effect and substitution links (rows ``f_ulink + k`` and
    ``f_sub + k`` of ``fac``), and the effective utilisation of each (reactive service,
    population index) pair: its base rate times the product of its links' factors."""
    nutil = util_link_ptr.shape[0] - 1
    L = sv.shape[1]
    par, sv, fac = _lane_rows(par), _lane_rows(sv), _lane_rows(fac)
    _link_factors(par, sv, fac, lo[LO_PUL], f_ulink, ulink_prev)
    _link_factors(par, sv, fac, lo[LO_PSUB], f_sub, sub_prev)
    for k in range(nutil):
        rate = par[lo[LO_PUE] + k]
        for l in range(L):
            rate[l] = 1.0
        for j in range(util_link_ptr[k], util_link_ptr[k + 1]):
            factor = fac[f_ulink + util_link[j]]
            for l in range(L):
                rate[l] *= factor[l]
        base = par[lo[LO_PU] + k]
        for l in range(L):
            rate[l] = base[l] * rate[l]


@njit(**_JIT_DERIVATIVE)
def _reactive_services(keep, h, x, out, par, growth, sr, sa, sg, fac, lo, nco, nag,
                       f_waiting, react_agency, react_chunk_ptr, react_chunk_x,
                       react_chunk_util):
    """Per reactive service: people served and demand, activity within capacity, the waiting
    list and capacity cost base, cash spend (added to the agency's) and the waiting-list
    deterioration factor (row ``f_waiting + r`` of ``fac``)."""
    nreact = react_agency.shape[0]
    L = x.shape[1]
    x, out, par, growth = _lane_rows(x), _lane_rows(out), _lane_rows(par), _lane_rows(growth)
    sr, sa, sg, fac = _lane_rows(sr), _lane_rows(sa), _lane_rows(sg), _lane_rows(fac)
    zero = sg[SG_ZERO]
    # an Euler step (keep = 1) leaves an emptied waiting list at 0, not a rounding error
    # below it; a plain derivative (keep = 0) is not bounded
    stock_floor = 0.0 if keep > 0.0 else -np.inf
    for r in range(nreact):
        sr_r = sr[r * NSR:(r + 1) * NSR]
        # (spelled out four at a time on purpose: "Fixed-width gathers" in the module docstring)
        # people served and demand: GATHER utilisation pairs per loop, the last GATHER in the
        # main loop
        c_first = react_chunk_ptr[r]
        c_last = react_chunk_ptr[r + 1] - 1
        for c in range(c_first, c_last):
            x0 = x[react_chunk_x[c, 0]]
            x1 = x[react_chunk_x[c, 1]]
            x2 = x[react_chunk_x[c, 2]]
            x3 = x[react_chunk_x[c, 3]]
            u0 = par[react_chunk_util[c, 0]]
            u1 = par[react_chunk_util[c, 1]]
            u2 = par[react_chunk_util[c, 2]]
            u3 = par[react_chunk_util[c, 3]]
            served_so_far = zero if c == c_first else sr_r[SR_SERVED]
            demand_so_far = zero if c == c_first else sr_r[SR_DEMAND]
            served = sr_r[SR_SERVED]
            demand = sr_r[SR_DEMAND]
            for l in range(L):
                n0 = max(x0[l], 0.0)
                n1 = max(x1[l], 0.0)
                n2 = max(x2[l], 0.0)
                n3 = max(x3[l], 0.0)
                served[l] = served_so_far[l] + n0 + n1 + n2 + n3
                demand[l] = demand_so_far[l] + u0[l] * n0 + u1[l] * n1 + u2[l] * n2 + \
                    u3[l] * n3
        served_so_far = zero if c_last == c_first else sr_r[SR_SERVED]
        demand_so_far = zero if c_last == c_first else sr_r[SR_DEMAND]
        x0 = x[react_chunk_x[c_last, 0]]
        x1 = x[react_chunk_x[c_last, 1]]
        x2 = x[react_chunk_x[c_last, 2]]
        x3 = x[react_chunk_x[c_last, 3]]
        u0 = par[react_chunk_util[c_last, 0]]
        u1 = par[react_chunk_util[c_last, 1]]
        u2 = par[react_chunk_util[c_last, 2]]
        u3 = par[react_chunk_util[c_last, 3]]
        a = react_agency[r]
        b = lo[LO_PR] + r * NPR
        pr = par[b:b + NPR]
        b = lo[LO_XR] + r * NXR
        xr = x[b:b + NXR]
        outr = out[b:b + NXR]
        efficiency = growth[nco + nag + a]
        sa_a = sa[a * NSA:(a + 1) * NSA]
        waiting_factor = fac[f_waiting + r]
        for l in range(L):
            n0 = max(x0[l], 0.0)
            n1 = max(x1[l], 0.0)
            n2 = max(x2[l], 0.0)
            n3 = max(x3[l], 0.0)
            served = served_so_far[l] + n0 + n1 + n2 + n3
            demand = demand_so_far[l] + u0[l] * n0 + u1[l] * n1 + u2[l] * n2 + u3[l] * n3
            waiting = max(xr[XR_WAITING, l], 0.0)
            activity = min(pr[PR_CAPACITY, l], demand + waiting * pr[PR_INV_QUEUE_CLEAR, l])
            capbase = xr[XR_CAPBASE, l]
            capinit = xr[XR_CAPINIT, l]
            unit_cost = pr[PR_UNIT_COST, l] * efficiency[l]
            cash = unit_cost * (pr[PR_VARIABLE_SHARE, l] * activity +
                                pr[PR_FIXED_SHARE, l] * max(activity, capbase))
            # only the cashable share of capacity freed since month 0 is decommissioned
            capacity_kept = activity + pr[PR_RETAINED, l] * max(0.0, capinit - activity)
            outr[XR_WAITING, l] = max(keep * xr[XR_WAITING, l] + h * (demand - activity),
                                      stock_floor)
            outr[XR_CAPBASE, l] = keep * capbase + \
                h * ((capacity_kept - capbase) * pr[PR_INV_DECOMMISSION, l])
            outr[XR_CAPINIT, l] = keep * capinit
            outr[XR_ACT, l] = keep * xr[XR_ACT, l] + h * activity
            outr[XR_SPEND, l] = keep * xr[XR_SPEND, l] + h * cash
            outr[XR_VALUE, l] = keep * xr[XR_VALUE, l] + h * (unit_cost * activity)
            sa_a[SA_REACT_CASH, l] += cash
            # waiting-list deterioration factor of the escalation of the people served
            share_waiting = min(1.0, waiting / served) if served > _TINY else 0.0
            waiting_factor[l] = 1.0 + pr[PR_WAIT_COEF, l] * share_waiting


@njit(**_JIT_DERIVATIVE)
def _people_flows(keep, h, x, out, par, growth, sp, sc, sg, fac, dt, disc_h, lo, f_recovery,
                  f_sub, pop_cohort, pop_utility, pop_first, pop_prev_ptr, pop_prev,
                  pop_sub_ptr, pop_sub, mult_chunk_ptr, mult_chunk_fac):
    """Per population index: the escalation multiplier (prevention x waiting x erosion factors,
    GATHER per loop, the last GATHER in the main loop), outflows scaled so they never exceed
    the stock within a step (into ``sp``), person-months, the cohort's flow sums (``sc``) and
    the discounted QALYs."""
    npop = pop_cohort.shape[0]
    L = x.shape[1]
    x, out, par, growth = _lane_rows(x), _lane_rows(out), _lane_rows(par), _lane_rows(growth)
    sp, sc, sg, fac = _lane_rows(sp), _lane_rows(sc), _lane_rows(sg), _lane_rows(fac)
    one = sg[SG_ONE]
    qaly = sg[SG_QALY]
    for i in range(npop):
        sp_i = sp[i * NSP:(i + 1) * NSP]
        # the factors GATHER per loop, spelled out four at a time on purpose ("Fixed-width
        # gathers" in the module docstring)
        c_first = mult_chunk_ptr[i]
        c_last = mult_chunk_ptr[i + 1] - 1
        for c in range(c_first, c_last):
            f0 = fac[mult_chunk_fac[c, 0]]
            f1 = fac[mult_chunk_fac[c, 1]]
            f2 = fac[mult_chunk_fac[c, 2]]
            f3 = fac[mult_chunk_fac[c, 3]]
            so_far = one if c == c_first else sp_i[SP_MULT]
            mult = sp_i[SP_MULT]
            for l in range(L):
                mult[l] = so_far[l] * f0[l] * f1[l] * f2[l] * f3[l]
        so_far = one if c_last == c_first else sp_i[SP_MULT]
        f0 = fac[mult_chunk_fac[c_last, 0]]
        f1 = fac[mult_chunk_fac[c_last, 1]]
        f2 = fac[mult_chunk_fac[c_last, 2]]
        f3 = fac[mult_chunk_fac[c_last, 3]]
        # recovery multiplier and the share of escalation not substituted (products in list
        # order, from 1)
        rmult = sp_i[SP_RMULT]
        kept = sp_i[SP_KEEP]
        for l in range(L):
            rmult[l] = 1.0
            kept[l] = 1.0
        for k in range(pop_prev_ptr[i], pop_prev_ptr[i + 1]):
            factor = fac[f_recovery + pop_prev[k]]
            for l in range(L):
                rmult[l] *= factor[l]
        for k in range(pop_sub_ptr[i], pop_sub_ptr[i + 1]):
            factor = fac[f_sub + pop_sub[k]]
            for l in range(L):
                kept[l] *= factor[l]
        not_first = 0.0 if pop_first[i] else 1.0
        c = pop_cohort[i]
        b = lo[LO_PP] + i * NPP
        pp = par[b:b + NPP]
        b = lo[LO_XP] + i * NXP
        xp = x[b:b + NXP]
        outp = out[b:b + NXP]
        sc_c = sc[c * NSC:(c + 1) * NSC]
        inflow_growth = growth[c]
        utility = pop_utility[i]
        for l in range(L):
            mult = so_far[l] * f0[l] * f1[l] * f2[l] * f3[l]
            people = max(xp[XP_PEOPLE, l], 0.0)
            # escalation is 0 in the top state, recovery 0 in the bottom one (par rows are 0);
            # substituted escalation moves down instead of up (not out of a first state)
            esc_all = pp[PP_ESC, l] * mult * people
            esc = esc_all * kept[l]
            div = esc_all * (1.0 - kept[l]) * not_first
            rec = pp[PP_REC, l] * rmult[l] * people
            ext = pp[PP_EXIT, l] * people
            out_dt = (esc + div + rec + ext) * dt
            scale = people / out_dt if out_dt > people else 1.0  # 1.0 (exact) unless limited
            esc *= scale
            div *= scale
            rec *= scale
            ext *= scale
            inflow = pp[PP_INFLOW, l] * inflow_growth[l]
            move = ext * pp[PP_TRANS_SHARE, l]
            employed = pp[PP_EMPLOY, l] * people
            sp_i[SP_ESC, l] = esc
            sp_i[SP_REC, l] = rec + div
            sp_i[SP_NET, l] = inflow - esc - div - rec - ext
            sp_i[SP_MOVE, l] = move
            outp[XP_PERSON_MONTHS, l] = keep * xp[XP_PERSON_MONTHS, l] + h * people
            sc_c[SC_INFLOW, l] += inflow
            sc_c[SC_EXIT, l] += ext * pp[PP_LEAVE_SHARE, l]
            sc_c[SC_ESC, l] += esc
            sc_c[SC_REC, l] += rec + div
            sc_c[SC_DEATH, l] += ext * pp[PP_DEATH_SHARE, l]
            sc_c[SC_TRANS_OUT, l] += move
            sc_c[SC_EMPLOYED, l] += employed
            sc_c[SC_EMPLOY_VALUE, l] += employed * pp[PP_EMPLOY_VALUE, l]
            qaly[l] += utility * people / 12.0 * disc_h


@njit(**_JIT_DERIVATIVE)
def _people_stocks(keep, h, x, out, sp, sc, lo, pop_cohort, pop_esc_below, pop_rec_above,
                   trans_in_ptr, trans_in):
    """Per population index, the stock: escalation in from the state below, own net flow, flow
    down from the one above (the zero row of ``sp`` stands in at a cohort's ends; same
    additions, same order, as adding flow by flow), then arrivals from other cohorts."""
    npop = pop_cohort.shape[0]
    L = x.shape[1]
    x, out, sp, sc = _lane_rows(x), _lane_rows(out), _lane_rows(sp), _lane_rows(sc)
    # an Euler step (keep = 1) leaves an emptied stock at 0, not a rounding error below it
    stock_floor = 0.0 if keep > 0.0 else -np.inf
    for i in range(npop):
        row = lo[LO_XP] + i * NXP + XP_PEOPLE
        xp = x[row]
        outp = out[row]
        net = sp[i * NSP + SP_NET]
        esc_below = sp[pop_esc_below[i]]
        rec_above = sp[pop_rec_above[i]]
        arrivals = sp[i * NSP + SP_KEEP]  # free after the loop above: reused for arrivals
        for l in range(L):
            arrivals[l] = 0.0
        for k in range(trans_in_ptr[i], trans_in_ptr[i + 1]):
            moved = sp[trans_in[k] * NSP + SP_MOVE]
            for l in range(L):
                arrivals[l] += moved[l]
        arrived = sc[pop_cohort[i] * NSC + SC_TRANS_IN]
        for l in range(L):
            outp[l] = max(keep * xp[l] +
                          h * (((esc_below[l] + net[l]) + rec_above[l]) + arrivals[l]),
                          stock_floor)
            arrived[l] += arrivals[l]


@njit(**_JIT_DERIVATIVE)
def _cohort_totals(keep, h, x, out, sc, lo, nco):
    """Per cohort: the accumulators of its flows (inflow, exits, escalation, recovery, deaths,
    transitions, employment) from the sums in ``sc``."""
    L = x.shape[1]
    x, out, sc = _lane_rows(x), _lane_rows(out), _lane_rows(sc)
    for c in range(nco):
        b = lo[LO_XC] + c * NXC
        xc = x[b:b + NXC]
        outc = out[b:b + NXC]
        sc_c = sc[c * NSC:(c + 1) * NSC]
        for l in range(L):
            outc[XC_INFLOW, l] = keep * xc[XC_INFLOW, l] + h * sc_c[SC_INFLOW, l]
            outc[XC_EXIT, l] = keep * xc[XC_EXIT, l] + h * sc_c[SC_EXIT, l]
            outc[XC_ESC, l] = keep * xc[XC_ESC, l] + h * sc_c[SC_ESC, l]
            outc[XC_REC, l] = keep * xc[XC_REC, l] + h * sc_c[SC_REC, l]
            outc[XC_DEATH, l] = keep * xc[XC_DEATH, l] + h * sc_c[SC_DEATH, l]
            outc[XC_TRANS_OUT, l] = keep * xc[XC_TRANS_OUT, l] + h * sc_c[SC_TRANS_OUT, l]
            outc[XC_TRANS_IN, l] = keep * xc[XC_TRANS_IN, l] + h * sc_c[SC_TRANS_IN, l]
            outc[XC_EMPLOYED, l] = keep * xc[XC_EMPLOYED, l] + h * sc_c[SC_EMPLOYED, l]
            outc[XC_EMPLOY_VALUE, l] = keep * xc[XC_EMPLOY_VALUE, l] + \
                h * sc_c[SC_EMPLOY_VALUE, l]


@njit(**_JIT_DERIVATIVE)
def _agency_spend(t, keep, h, x, out, par, growth, sa, sg, disc, lo, nco, nag):
    """Per agency: overhead, pool contribution, captured savings, reserves, perceived spend and
    the spend accumulators; adds to the totals and the pool's income in ``sg``."""
    L = x.shape[1]
    x, out, par, growth = _lane_rows(x), _lane_rows(out), _lane_rows(par), _lane_rows(growth)
    sa, sg = _lane_rows(sa), _lane_rows(sg)
    pg = par[lo[LO_PG]:lo[LO_PG] + NPG]
    growth_base = growth[growth.shape[0] - 1]  # the pool's savings baseline growth
    for a in range(nag):
        b = lo[LO_PA] + a * NPA
        pa = par[b:b + NPA]
        b = lo[LO_XA] + a * NXA
        xa = x[b:b + NXA]
        outa = out[b:b + NXA]
        sa_a = sa[a * NSA:(a + 1) * NSA]
        efficiency = growth[nco + nag + a]
        for l in range(L):
            active = sg[SG_ACTIVE, l]
            participates = pa[PA_PARTICIPATES, l]
            overhead_rate = pa[PA_OVERHEAD, l] * \
                (1.0 - active * participates * pg[PG_OH_REDUCTION, l] * sg[SG_RAMP, l])
            service_spend = sa_a[SA_PREV_SPEND, l] + sa_a[SA_REACT_CASH, l]
            overhead = overhead_rate * service_spend
            budget = sa_a[SA_BUDGET, l]
            contribution = active * pa[PA_CONTRIBUTION, l] * budget
            reinvest_on = active * pg[PG_LOOP_REINVEST, l]
            capture_paid = reinvest_on * xa[XA_CAPTURED, l] * pg[PG_INV_REINVEST_DELAY, l]
            # savings are measured in volume at today's unit costs: the agreed baseline grows
            # at baseline_growth and is priced with the agency's efficiency factor, so a
            # unit-cost cut is not counted as a saving from prevention; capture starts once
            # the baseline is frozen (strictly after the pool opens)
            baseline = sa_a[SA_REF_NORM, l] * growth_base[l] * efficiency[l]
            savings = max(0.0, baseline - sa_a[SA_REACT_CASH, l])
            capturing = reinvest_on * (t > pg[PG_POOL_START, l])
            capture_in = capturing * participates * pg[PG_CAPTURE, l] * savings
            spend = service_spend + overhead + contribution + capture_paid
            outa[XA_CAPTURED, l] = keep * xa[XA_CAPTURED, l] + h * (capture_in - capture_paid)
            outa[XA_RESERVES, l] = keep * xa[XA_RESERVES, l] + h * (budget - spend)
            outa[XA_PERCEIVED, l] = keep * xa[XA_PERCEIVED, l] + \
                h * ((spend - xa[XA_PERCEIVED, l]) * pa[PA_INV_PERCEPTION, l])
            outa[XA_SPEND, l] = keep * xa[XA_SPEND, l] + h * spend
            outa[XA_OVERHEAD, l] = keep * xa[XA_OVERHEAD, l] + h * overhead
            outa[XA_CONTRIB, l] = keep * xa[XA_CONTRIB, l] + h * contribution
            outa[XA_CAPTURE, l] = keep * xa[XA_CAPTURE, l] + h * capture_paid
            outa[XA_BUDGET, l] = keep * xa[XA_BUDGET, l] + h * budget
            outa[XA_DISC, l] = keep * xa[XA_DISC, l] + h * (spend * disc)
            sg[SG_TOTAL, l] += service_spend + overhead
            sg[SG_REINVESTED, l] += capture_paid
            sg[SG_POOL_IN, l] += contribution + capture_paid


@njit(**_JIT_DERIVATIVE)
def _funding_and_pool_places(keep, h, x, out, par, sv, sa, sg, dt, lo, nprev, prev_agency):
    """The money the pool can commission places with, then per preventive service: siloed cuts
    (R1 doom loop) or restoration of funding, and the places commissioned by the pool (R2)."""
    L = x.shape[1]
    x, out, par, sv = _lane_rows(x), _lane_rows(out), _lane_rows(par), _lane_rows(sv)
    sa, sg = _lane_rows(sa), _lane_rows(sg)
    pg = par[lo[LO_PG]:lo[LO_PG] + NPG]
    xg = x[lo[LO_XG]:lo[LO_XG] + NXG]
    inv_dt = 1.0 / dt
    for l in range(L):
        sg[SG_AVAILABLE, l] = max(0.0, sg[SG_POOL_IN, l] +
                                  xg[XG_POOL, l] * pg[PG_INV_SPEND_DOWN, l] -
                                  sg[SG_SETUP, l] - sg[SG_DR, l] - sg[SG_POOL_COMMUNITY, l])
    for v in range(nprev):
        b = lo[LO_PV] + v * NPV
        pv = par[b:b + NPV]
        b = lo[LO_XV] + v * NXV
        xv = x[b:b + NXV]
        outv = out[b:b + NXV]
        sv_v = sv[v * NSV:(v + 1) * NSV]
        a = prev_agency[v]
        b = lo[LO_PA] + a * NPA
        pa = par[b:b + NPA]
        budget = sa[a * NSA + SA_BUDGET]
        perceived = x[lo[LO_XA] + a * NXA + XA_PERCEIVED]
        for l in range(L):
            pressure = perceived[l] / budget[l] if budget[l] > _TINY else 1e6
            funding = xv[XV_FUNDING, l]
            cut = min(pa[PA_CUT_RATE, l] * max(0.0, pressure - 1.0), inv_dt) * \
                max(0.0, funding - pa[PA_FLOOR, l])
            restore = pa[PA_RESTORE_RATE, l] * max(0.0, 1.0 - funding) \
                if pressure < 1.0 else 0.0
            ring_fenced = sv_v[SV_POOLED, l]
            outv[XV_FUNDING, l] = keep * funding + \
                h * (pg[PG_LOOP_DOOM, l] * (1.0 - ring_fenced) * (restore - cut))
            unit_cost = sv_v[SV_UNIT_COST, l]
            target = sg[SG_ACTIVE, l] * pv[PV_POOL_SHARE, l] * sg[SG_AVAILABLE, l] / unit_cost \
                if unit_cost > _TINY else 0.0
            places = xv[XV_POOL_PLACES, l]
            outv[XV_POOL_PLACES, l] = keep * places + \
                h * ((target - places) * pg[PG_INV_ADJUST, l])
            sg[SG_PLACES_COST, l] += unit_cost * places


@njit(**_JIT_DERIVATIVE)
def _pool_balance(keep, h, x, out, sg, disc, lo):
    """The pool's balance and the global accumulators (pool income and spend, set-up, double
    running, total and discounted spend, discounted QALYs)."""
    L = x.shape[1]
    x, out, sg = _lane_rows(x), _lane_rows(out), _lane_rows(sg)
    xg = x[lo[LO_XG]:lo[LO_XG] + NXG]
    og = out[lo[LO_XG]:lo[LO_XG] + NXG]
    for l in range(L):
        income = sg[SG_POOL_IN, l]
        setup = sg[SG_SETUP, l]
        double_running = sg[SG_DR, l]
        pool_spend = sg[SG_PLACES_COST, l] + setup + double_running + sg[SG_POOL_COMMUNITY, l]
        total = sg[SG_TOTAL, l] + pool_spend
        og[XG_POOL, l] = keep * xg[XG_POOL, l] + h * (income - pool_spend)
        og[XG_POOL_IN, l] = keep * xg[XG_POOL_IN, l] + h * income
        og[XG_REINVESTED, l] = keep * xg[XG_REINVESTED, l] + h * sg[SG_REINVESTED, l]
        og[XG_POOL_SPEND, l] = keep * xg[XG_POOL_SPEND, l] + h * pool_spend
        og[XG_SETUP, l] = keep * xg[XG_SETUP, l] + h * setup
        og[XG_DR, l] = keep * xg[XG_DR, l] + h * double_running
        og[XG_TOTAL, l] = keep * xg[XG_TOTAL, l] + h * total
        og[XG_DISC_TOTAL, l] = keep * xg[XG_DISC_TOTAL, l] + h * (total * disc)
        og[XG_DISC_QALY, l] = keep * xg[XG_DISC_QALY, l] + h * sg[SG_QALY, l]


@njit(**_JIT_DERIVATIVE)
def _derivative(t, keep, h, x, out, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, disc, disc_h,
                lo, sizes, topo):
    """Write ``out = keep * x + h * dx/dt`` at time ``t`` (months) for every state row.

    ``keep = 1, h = dt`` is an Euler step; ``keep = 0, h = 1`` gives dx/dt itself. All array
    arguments must be distinct buffers (compiled with ``noalias``). Scratch used after the
    call: coverage (``sv`` ``SV_COV``) and reactive cash per agency (``sa`` ``SA_REACT_CASH``).
    ``sizes`` and ``topo`` are made by ``simulate_batch``. The steps run in the order of
    docs/model.md; each passes what later steps read through the scratch records.
    """
    nco, _, nprev, nreact, nag = sizes
    (pop_cohort, pop_utility, pop_esc_below, pop_rec_above, prev_agency, prev_order,
     prev_stage0, react_agency, react_chunk_ptr, react_chunk_x, react_chunk_util,
     prev_chunk_ptr, prev_chunk_x, mult_chunk_ptr, mult_chunk_fac,
     pop_first, pop_prev_ptr, pop_prev, pop_sub_ptr, pop_sub, trans_in_ptr, trans_in,
     ulink_prev, sub_prev, util_link_ptr, util_link) = topo
    # first rows of the factor groups in ``fac``: prevention (row v), waiting, erosion,
    # recovery, utilisation-effect links, substitution links
    f_waiting = nprev
    f_erosion = nprev + nreact
    f_recovery = nprev + nreact + nag
    f_ulink = f_recovery + nprev
    f_sub = f_ulink + ulink_prev.shape[0]
    _pool_switches(t, par, sg, sc, lo, nco)
    _agency_budgets(par, growth, sa, fac, lo, nco, f_erosion, nag)
    _preventive_services(keep, h, x, out, par, growth, sv, sa, sg, fac, lo, nco, nag, f_recovery,
                         prev_agency, prev_order, prev_stage0, prev_chunk_ptr, prev_chunk_x)
    _utilisation_links(par, sv, fac, lo, f_ulink, f_sub, ulink_prev, sub_prev, util_link_ptr,
                       util_link)
    _reactive_services(keep, h, x, out, par, growth, sr, sa, sg, fac, lo, nco, nag, f_waiting,
                       react_agency, react_chunk_ptr, react_chunk_x, react_chunk_util)
    _people_flows(keep, h, x, out, par, growth, sp, sc, sg, fac, dt, disc_h, lo, f_recovery, f_sub,
                  pop_cohort, pop_utility, pop_first, pop_prev_ptr, pop_prev, pop_sub_ptr,
                  pop_sub, mult_chunk_ptr, mult_chunk_fac)
    _people_stocks(keep, h, x, out, sp, sc, lo, pop_cohort, pop_esc_below, pop_rec_above,
                   trans_in_ptr, trans_in)
    _cohort_totals(keep, h, x, out, sc, lo, nco)
    _agency_spend(t, keep, h, x, out, par, growth, sa, sg, disc, lo, nco, nag)
    _funding_and_pool_places(keep, h, x, out, par, sv, sa, sg, dt, lo, nprev, prev_agency)
    _pool_balance(keep, h, x, out, sg, disc, lo)


@njit(**_JIT_NO_NRT)
def _apply_changes(th, t, ev, nev, ev_month, ev_param, ev_value, run0, nrun, L):
    """Write into ``th`` every time-keyed change due at time ``t`` (months) from event ``ev``
    on (a change takes effect at the first step at or after its month); the next event."""
    while ev < nev and ev_month[ev] <= t + 1e-9:
        col = ev_param[ev]
        for l in range(L):
            th[col, l] = ev_value[run0 + min(l, nrun - 1), ev]
        ev += 1
    return ev


@njit(**_JIT_NO_NRT)
def _growth_steps(th, po, nco, nag, dt, step_full, step_half):
    """Per-lane growth factors over one step and half a step (exact compound growth)."""
    L = th.shape[1]
    g = po[P_GLOBAL]
    for l in range(L):
        for c in range(nco):
            rate = np.log1p(th[po[P_INFLOW_GROWTH] + c, l]) / 12.0
            step_full[c, l] = np.exp(rate * dt)
            step_half[c, l] = np.exp(rate * dt * 0.5)
        for a in range(nag):
            rate = np.log1p(th[po[P_AG_GROWTH] + a, l]) / 12.0
            step_full[nco + a, l] = np.exp(rate * dt)
            step_half[nco + a, l] = np.exp(rate * dt * 0.5)
            rate = np.log1p(-th[po[P_AG_EFFICIENCY] + a, l]) / 12.0
            step_full[nco + nag + a, l] = np.exp(rate * dt)
            step_half[nco + nag + a, l] = np.exp(rate * dt * 0.5)
        rate = np.log1p(th[g + G_BASELINE_GROWTH, l]) / 12.0
        step_full[nco + 2 * nag, l] = np.exp(rate * dt)
        step_half[nco + 2 * nag, l] = np.exp(rate * dt * 0.5)


@njit(**_JIT_NO_NRT)
def _lanes_of_block(theta, run0, nrun, th):
    """Copy runs ``run0 .. run0+nrun-1`` of ``theta`` into the lanes of ``th``; lanes beyond
    nrun repeat the last run (their results are not written)."""
    L = th.shape[1]
    for j in range(theta.shape[1]):
        for l in range(L):
            th[j, l] = theta[run0 + min(l, nrun - 1), j]


@njit(**_JIT_NO_NRT)
def _initial_state(th, po, lo, npop, nprev, nag, x, growth, sa):
    """State at month 0 before the set-up passes: initial people and reserves, full funding,
    growth factors 1, every accumulator and the savings baseline 0."""
    L = th.shape[1]
    for j in range(x.shape[0]):
        for l in range(L):
            x[j, l] = 0.0
    for j in range(growth.shape[0]):
        for l in range(L):
            growth[j, l] = 1.0
    for i in range(npop):
        src = po[P_INITIAL] + i
        dst = lo[LO_XP] + i * NXP + XP_PEOPLE
        for l in range(L):
            x[dst, l] = th[src, l]
    for v in range(nprev):
        dst = lo[LO_XV] + v * NXV + XV_FUNDING
        for l in range(L):
            x[dst, l] = 1.0
    for a in range(nag):
        src = po[P_AG_RESERVES] + a
        dst = lo[LO_XA] + a * NXA + XA_RESERVES
        ref_norm = a * NSA + SA_REF_NORM
        for l in range(L):
            x[dst, l] = th[src, l]
            sa[ref_norm, l] = 0.0


@njit(**_JIT_NO_NRT)
def _settle_month0(x, k1, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, lo, sizes, topo):
    """The two set-up passes of month 0: coverage sets the delay stages and the persisting
    effect (services already running are in steady state); then activity, with the effects in
    place, sets the capacity cost base, perceived spend starts at actual spend (the spend at
    K = activity is the spend at K = 0) and the savings baseline at month 0's reactive cash."""
    nco, npop, nprev, nreact, nag = sizes
    prev_order = topo[5]
    prev_stage0 = topo[6]
    L = x.shape[1]
    _derivative(0.0, 0.0, 1.0, x, k1, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, 1.0, 1.0,
                lo, sizes, topo)
    for v in range(nprev):
        s0 = lo[LO_XS] + prev_stage0[v]
        cov = v * NSV + SV_COV
        for k in range(prev_order[v]):
            for l in range(L):
                x[s0 + k, l] = sv[cov, l]
        xv = lo[LO_XV] + v * NXV
        for l in range(L):
            x[xv + XV_PERSIST, l] = sv[cov, l]
    _derivative(0.0, 0.0, 1.0, x, k1, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, 1.0, 1.0,
                lo, sizes, topo)
    for r in range(nreact):
        xr = lo[LO_XR] + r * NXR
        for l in range(L):
            x[xr + XR_CAPBASE, l] = k1[xr + XR_ACT, l]
            x[xr + XR_CAPINIT, l] = k1[xr + XR_ACT, l]
    for a in range(nag):
        xa = lo[LO_XA] + a * NXA
        for l in range(L):
            x[xa + XA_PERCEIVED, l] = k1[xa + XA_SPEND, l]
            sa[a * NSA + SA_REF_NORM, l] = sa[a * NSA + SA_REACT_CASH, l]


@njit(**_JIT_NO_NRT)
def _snapshot(x, record_rows, out_traj, run0, nrun, m):
    """Month-end snapshot ``m`` of the recorded rows, run by run, so each run's entries are
    written contiguously (a record-major order writes one value per run per pass, each to a
    different page)."""
    for l in range(nrun):
        for j in range(record_rows.shape[0]):
            out_traj[run0 + l, m, j] = x[record_rows[j], l]


@njit(**_JIT_NO_NRT)
def _follow_savings_baseline(t, par, growth, sa, lo, nco, nag):
    """Until the pool opens, the savings baseline of each agency follows its actual reactive
    cash spend (deflated by the baseline growth and the agency's efficiency factor)."""
    L = sa.shape[1]
    g_start = lo[LO_PG] + PG_POOL_START
    growth_base = growth.shape[0] - 1
    for a in range(nag):
        ref_norm = a * NSA + SA_REF_NORM
        cash = a * NSA + SA_REACT_CASH
        efficiency = nco + nag + a
        for l in range(L):
            sa[ref_norm, l] = sa[cash, l] / (growth[growth_base, l] * growth[efficiency, l]) \
                if t <= par[g_start, l] else sa[ref_norm, l]


@njit(**_JIT_NO_NRT)
def _rk4_stage_state(x, k, h, xn):
    """The state an RK4 stage is evaluated at: ``xn = x + h * k``."""
    L = x.shape[1]
    for j in range(x.shape[0]):
        for l in range(L):
            xn[j, l] = x[j, l] + h * k[j, l]


@njit(**_JIT_NO_NRT)
def _rk4_rest(t, x, xn, k1, k2, k3, k4, par, growth, gtmp, step_full, step_half, sp, sv, sr,
              sa, sc, sg, fac, dt, disc, disc_h, lo, sizes, topo):
    """The rest of a classical RK4 step once ``k1`` holds dx/dt at ``t``: stages 2 to 4 (the
    growth factors at the half and the full step), ``x`` advanced by dt, and the people and
    waiting stocks emptied within the step set to 0, not a rounding error below it."""
    nco, npop, nprev, nreact, nag = sizes
    L = x.shape[1]
    nx = x.shape[0]
    ngrowth = growth.shape[0]
    half = 0.5 * dt
    for j in range(ngrowth):
        for l in range(L):
            gtmp[j, l] = growth[j, l]
        for l in range(L):
            growth[j, l] = gtmp[j, l] * step_half[j, l]
    _rk4_stage_state(x, k1, half, xn)
    _derivative(t + half, 0.0, 1.0, xn, k2, par, growth, sp, sv, sr, sa, sc, sg, fac,
                dt, disc, disc_h, lo, sizes, topo)
    _rk4_stage_state(x, k2, half, xn)
    _derivative(t + half, 0.0, 1.0, xn, k3, par, growth, sp, sv, sr, sa, sc, sg, fac,
                dt, disc, disc_h, lo, sizes, topo)
    for j in range(ngrowth):
        for l in range(L):
            growth[j, l] = gtmp[j, l] * step_full[j, l]
    _rk4_stage_state(x, k3, dt, xn)
    _derivative(t + dt, 0.0, 1.0, xn, k4, par, growth, sp, sv, sr, sa, sc, sg, fac,
                dt, disc, disc_h, lo, sizes, topo)
    sixth = dt / 6.0
    for j in range(nx):
        for l in range(L):
            x[j, l] += sixth * (k1[j, l] + 2.0 * k2[j, l] + 2.0 * k3[j, l] + k4[j, l])
    for i in range(npop):
        row = lo[LO_XP] + i * NXP + XP_PEOPLE
        for l in range(L):
            x[row, l] = max(x[row, l], 0.0)
    for r in range(nreact):
        row = lo[LO_XR] + r * NXR + XR_WAITING
        for l in range(L):
            x[row, l] = max(x[row, l], 0.0)


@njit(**_JIT_NO_NRT)
def _simulate_block(run0, nrun, theta, ev_month, ev_param, ev_value, dt, steps_per_month,
                    n_months, rk4, disc_month, disc_health_month, record_rows, out_final,
                    out_traj, po, lo, xrow, sizes, nutil, pop_first, pop_last, topo,
                    th, par, x, xn, k1, k2, k3, k4, growth, gtmp, step_full, step_half,
                    sp, sv, sr, sa, sc, sg, fac):
    """Simulate runs ``run0 .. run0+nrun-1`` (nrun <= LANES) using the given buffers;
    ``record_rows`` are the rows of ``x`` snapshotted into ``out_traj`` at each month end.

    ``x``, ``xn``, ``k1`` .. ``k4`` must hold 0 in the padding row ``XG_ZERO``, ``sp`` 0 in its
    last row, ``sg`` 0 / 1 in ``SG_ZERO`` / ``SG_ONE`` and ``fac`` 1 in its last row
    (``simulate_batch`` allocates them so).
    """
    nco, npop, nprev, nreact, nag = sizes
    pop_cohort = topo[0]
    prev_order = topo[5]
    ulink_prev = topo[22]
    sub_prev = topo[23]
    L = th.shape[1]
    nev = ev_month.shape[0]
    nrec = record_rows.shape[0]
    _lanes_of_block(theta, run0, nrun, th)
    _load_params(th, par, lo, po, npop, nprev, nreact, nag, nutil, pop_first, pop_last,
                 prev_order, pop_cohort, ulink_prev, sub_prev)
    _initial_state(th, po, lo, npop, nprev, nag, x, growth, sa)
    _settle_month0(x, k1, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, lo, sizes, topo)
    _snapshot(x, record_rows, out_traj, run0, nrun, 0)

    _growth_steps(th, po, nco, nag, dt, step_full, step_half)
    ev = 0
    for step in range(n_months * steps_per_month):
        t = step * dt
        due = _apply_changes(th, t, ev, nev, ev_month, ev_param, ev_value, run0, nrun, L)
        if due != ev:
            ev = due
            _growth_steps(th, po, nco, nag, dt, step_full, step_half)
            _load_params(th, par, lo, po, npop, nprev, nreact, nag, nutil, pop_first, pop_last,
                         prev_order, pop_cohort, ulink_prev, sub_prev)
        month = step // steps_per_month
        disc = disc_month[month]
        disc_h = disc_health_month[month]
        if not rk4:
            # the Euler step itself: xn = x + dt * dx/dt, then swap
            _derivative(t, 1.0, dt, x, xn, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, disc,
                        disc_h, lo, sizes, topo)
        else:
            _derivative(t, 0.0, 1.0, x, k1, par, growth, sp, sv, sr, sa, sc, sg, fac, dt, disc,
                        disc_h, lo, sizes, topo)
        _follow_savings_baseline(t, par, growth, sa, lo, nco, nag)
        if not rk4:
            x, xn = xn, x
            for j in range(growth.shape[0]):
                for l in range(L):
                    growth[j, l] *= step_full[j, l]
        else:
            _rk4_rest(t, x, xn, k1, k2, k3, k4, par, growth, gtmp, step_full, step_half, sp, sv,
                      sr, sa, sc, sg, fac, dt, disc, disc_h, lo, sizes, topo)
        if (step + 1) % steps_per_month == 0 and nrec > 0:
            _snapshot(x, record_rows, out_traj, run0, nrun, (step + 1) // steps_per_month)

    for j in range(xrow.shape[0]):
        src = xrow[j]
        for l in range(nrun):
            out_final[run0 + l, j] = x[src, l]


@njit(**_JIT)
def _escalation_factor_rows(npop, nprev, nreact, pop_prev_ptr, pop_prev, pop_react_ptr,
                            pop_react, pop_ag_ptr, pop_ag):
    """The rows of ``fac`` whose product is each population index's escalation multiplier:
    its preventive services' prevention factors, its reactive services' waiting factors and
    its agencies' erosion factors, as a list per index (ptr, rows)."""
    mult_ptr = np.zeros(npop + 1, dtype=np.int64)
    for i in range(npop):
        mult_ptr[i + 1] = mult_ptr[i] + (pop_prev_ptr[i + 1] - pop_prev_ptr[i]) + \
            (pop_react_ptr[i + 1] - pop_react_ptr[i]) + (pop_ag_ptr[i + 1] - pop_ag_ptr[i])
    mult_rows = np.empty(mult_ptr[npop], dtype=np.int64)
    for i in range(npop):
        q = mult_ptr[i]
        for k in range(pop_prev_ptr[i], pop_prev_ptr[i + 1]):
            mult_rows[q] = pop_prev[k]
            q += 1
        for k in range(pop_react_ptr[i], pop_react_ptr[i + 1]):
            mult_rows[q] = nprev + pop_react[k]
            q += 1
        for k in range(pop_ag_ptr[i], pop_ag_ptr[i + 1]):
            mult_rows[q] = nprev + nreact + pop_ag[k]
            q += 1
    return mult_ptr, mult_rows


@njit(**_JIT)
def _topology(lo, nfac, nprev, nreact, pop_cohort, pop_first, pop_last, pop_utility,
              prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop, react_agency, react_ptr,
              react_pop, pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag,
              mechanisms):
    """The ``topo`` tuple :func:`_derivative` reads: the model's structure arrays, with the
    people and utilisation lists turned into record rows in padded chunks of GATHER
    (:func:`_gather_chunks`) and each need state's neighbours in its cohort's chain."""
    (pop_sub_ptr, pop_sub, trans_in_ptr, trans_in, ulink_prev, sub_prev, util_link_ptr,
     util_link) = mechanisms
    npop = pop_cohort.shape[0]
    nutil = react_pop.shape[0]
    zero_x = lo[LO_XG] + XG_ZERO
    react_people = np.empty(nutil, dtype=np.int64)
    react_util = np.empty(nutil, dtype=np.int64)
    for k in range(nutil):
        react_people[k] = lo[LO_XP] + react_pop[k] * NXP + XP_PEOPLE
        react_util[k] = lo[LO_PUE] + k  # the effective utilisation (scratch rows of par)
    react_chunk_ptr, react_chunk_x = _gather_chunks(react_ptr, react_people, zero_x)
    _, react_chunk_util = _gather_chunks(react_ptr, react_util, lo[LO_PZERO])
    prev_people = np.empty(prev_pop.shape[0], dtype=np.int64)
    for k in range(prev_pop.shape[0]):
        prev_people[k] = lo[LO_XP] + prev_pop[k] * NXP + XP_PEOPLE
    prev_chunk_ptr, prev_chunk_x = _gather_chunks(prev_ptr, prev_people, zero_x)
    mult_ptr, mult_rows = _escalation_factor_rows(npop, nprev, nreact, pop_prev_ptr, pop_prev,
                                                  pop_react_ptr, pop_react, pop_ag_ptr, pop_ag)
    mult_chunk_ptr, mult_chunk_fac = _gather_chunks(mult_ptr, mult_rows, nfac - 1)
    # neighbours in the cohort's chain of need states (the zero row of ``sp`` at the ends)
    zero_sp = npop * NSP
    pop_esc_below = np.empty(npop, dtype=np.int64)
    pop_rec_above = np.empty(npop, dtype=np.int64)
    for i in range(npop):
        pop_esc_below[i] = zero_sp if pop_first[i] else (i - 1) * NSP + SP_ESC
        pop_rec_above[i] = zero_sp if pop_last[i] else (i + 1) * NSP + SP_REC
    return (pop_cohort, pop_utility, pop_esc_below, pop_rec_above, prev_agency, prev_order,
            prev_stage0, react_agency, react_chunk_ptr, react_chunk_x, react_chunk_util,
            prev_chunk_ptr, prev_chunk_x, mult_chunk_ptr, mult_chunk_fac,
            pop_first, pop_prev_ptr, pop_prev, pop_sub_ptr, pop_sub, trans_in_ptr, trans_in,
            ulink_prev, sub_prev, util_link_ptr, util_link)


@njit(parallel=True, **_JIT)
def simulate_batch(theta, ev_month, ev_param, ev_value, dt, steps_per_month, n_months, rk4,
                   disc_month, disc_health_month, record_idx, out_final, out_traj,
                   po, xo, nco, npop, nprev, nreact, nag, naux, ngrowth,
                   pop_cohort, pop_first, pop_last, pop_utility,
                   prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                   react_agency, react_ptr, react_pop,
                   pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag,
                   mechanisms, n_threads):
    """Simulate every row of ``theta`` (runs x parameters); write ``out_final`` (runs x state)
    and, for the state entries in ``record_idx``, ``out_traj`` (runs x months+1 x records).

    ``mechanisms`` = (pop_sub_ptr, pop_sub, trans_in_ptr, trans_in, ulink_prev, sub_prev,
    util_link_ptr, util_link): the structure arrays of the substitution links, cohort
    transitions and utilisation-effect links (:func:`tpsim.models.structure.compile_scenario`).
    ``naux`` is accepted for compatibility and ignored: the kernel sizes its own scratch."""
    nulink = mechanisms[4].shape[0]
    nsub = mechanisms[5].shape[0]
    nruns = theta.shape[0]
    nparam = theta.shape[1]
    nblocks = (nruns + LANES - 1) // LANES
    nchunks = min(nblocks, 8 * n_threads)
    nstage = 0
    for v in range(nprev):
        nstage += prev_order[v]
    nutil = react_pop.shape[0]

    # record layout, record rows of the snapshots, and the structure tables (shared, read-only)
    lo = _layout(npop, nco, nprev, nstage, nreact, nag, nutil, nulink, nsub)
    xrow = _state_rows(xo, lo, npop, nco, nprev, nstage, nreact, nag)
    record_rows = np.empty(record_idx.shape[0], dtype=np.int64)
    for j in range(record_idx.shape[0]):
        record_rows[j] = xrow[record_idx[j]]
    # factors of the escalation and recovery multipliers and of the links (rows of ``fac``)
    nfac = 2 * nprev + nreact + nag + nulink + nsub + 1
    topo = _topology(lo, nfac, nprev, nreact, pop_cohort, pop_first, pop_last, pop_utility,
                     prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop, react_agency,
                     react_ptr, react_pop, pop_prev_ptr, pop_prev, pop_react_ptr, pop_react,
                     pop_ag_ptr, pop_ag, mechanisms)
    sizes = (nco, npop, nprev, nreact, nag)
    npar = lo[LO_NPAR]
    nx = lo[LO_NX]

    for chunk in prange(nchunks):
        # buffers allocated once per chunk, never inside the time loop
        # parameters: the block's theta and its records
        th, par = np.empty((nparam, LANES)), np.empty((npar, LANES))
        # the state, the Euler step's target, the RK4 stages
        x, xn = np.zeros((nx, LANES)), np.zeros((nx, LANES))
        k1, k2, k3, k4 = (np.zeros((nx, LANES)), np.zeros((nx, LANES)), np.zeros((nx, LANES)),
                          np.zeros((nx, LANES)))
        # growth factors, a copy within an RK4 step, their factors over a step and half one
        growth, gtmp = np.empty((ngrowth, LANES)), np.empty((ngrowth, LANES))
        step_full, step_half = np.empty((ngrowth, LANES)), np.empty((ngrowth, LANES))
        # scratch records
        sp = np.zeros((npop * NSP + 1, LANES))
        sv = np.zeros((max(nprev, 1) * NSV, LANES))
        sr = np.zeros((max(nreact, 1) * NSR, LANES))
        sa = np.zeros((max(nag, 1) * NSA, LANES))
        sc = np.zeros((max(nco, 1) * NSC, LANES))
        sg = np.zeros((NSG, LANES))
        sg[SG_ONE, :] = 1.0
        fac = np.ones((nfac, LANES))
        b0 = chunk * nblocks // nchunks
        b1 = (chunk + 1) * nblocks // nchunks
        for b in range(b0, b1):
            run0 = b * LANES
            nrun = min(LANES, nruns - run0)
            _simulate_block(run0, nrun, theta, ev_month, ev_param, ev_value, dt,
                            steps_per_month, n_months, rk4, disc_month, disc_health_month,
                            record_rows, out_final, out_traj, po, lo, xrow, sizes, nutil,
                            pop_first, pop_last, topo, th, par, x, xn, k1, k2, k3, k4, growth,
                            gtmp, step_full, step_half, sp, sv, sr, sa, sc, sg, fac)


def jit_cache_warm() -> bool | None:
    """True if this process has compiled the kernel or numba's on-disk cache holds it for this
    source; False if the next call compiles it (about half a minute); None if unknown (the
    check reads numba's cache index, an internal that may change)."""
    try:
        if simulate_batch.signatures:
            return True
        return bool(simulate_batch._cache._cache_file._load_index())
    except Exception:  # pragma: no cover - depends on numba internals
        return None
