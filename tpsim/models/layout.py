"""Index layout shared by the compile step, the numba kernel and the numpy reference.

The kernel works on two flat vectors per run:

* ``theta`` — parameters, grouped in blocks (``P_*`` constants below give each block's slot in
  the offsets array ``po``; the block for pop-level escalation starts at ``po[P_ESC]``, ...);
* ``x`` — state: stocks and cumulative-flow accumulators, grouped the same way (``X_*`` slots
  in ``xo``).

Blocks are sized by the scenario (people-state count ``npop``, preventive services ``nprev``,
reactive services ``nreact``, agencies ``nag``, cohorts ``nco``, delay stages ``nstage``,
utilisation pairs ``nutil``), so the offsets are computed at compile time and passed to the
kernel as small int arrays. Nothing in here depends on YAML.
"""
from __future__ import annotations

import numpy as np

# ---- parameter blocks (theta) -------------------------------------------------------------
# per population index (cohort x state)
P_INITIAL, P_INFLOW, P_ESC, P_REC, P_EXIT = 0, 1, 2, 3, 4
# per cohort
P_INFLOW_GROWTH = 5
# per preventive service
(P_PV_UNIT_COST, P_PV_PLACES, P_PV_UPTAKE, P_PV_EFFECT, P_PV_TIME_TO_EFFECT,
 P_PV_COMM_PLACES, P_PV_COMM_UNIT_COST, P_PV_COMM_RAMP, P_PV_POOL_SHARE) = range(6, 15)
# per reactive service
(P_RV_UNIT_COST, P_RV_FIXED_SHARE, P_RV_DECOMMISSION, P_RV_CAPACITY, P_RV_QUEUE_CLEAR,
 P_RV_DETERIORATION) = range(15, 21)
# per utilisation pair (reactive service x served population index)
P_UTIL = 21
# per agency
(P_AG_BUDGET, P_AG_GROWTH, P_AG_RESERVES, P_AG_OVERHEAD, P_AG_PERCEPTION, P_AG_CUT_RATE,
 P_AG_RESTORE_RATE, P_AG_FLOOR, P_AG_EFFICIENCY, P_AG_EROSION, P_AG_CONTRIBUTION) = range(22, 33)
# scalars
P_GLOBAL = 33
# prevention mechanisms, exit split, employment and cashability (docs/model.md): per
# population index, per cohort, per preventive service, per reactive service, then one per
# (preventive, reactive) utilisation-effect link and one per substitution link
P_DEATH_SHARE, P_TRANS_SHARE, P_EMPLOYMENT = 34, 35, 36
P_EMPLOY_VALUE = 37
(P_PV_RECOVERY, P_PV_SHORT_RUN, P_PV_DECAY, P_PV_DEADWEIGHT, P_PV_DISPLACEMENT,
 P_PV_ATTRIBUTION) = range(38, 44)
P_RV_CASHABLE = 44
P_UTIL_EFFECT = 45
P_SUBSTITUTION = 46
N_PBLOCKS = 47

# offsets within the P_GLOBAL block
(G_LOOP_DOOM, G_LOOP_REINVEST, G_LOOP_WAITING, G_LOOP_EROSION, G_POOL_ON, G_POOL_START,
 G_CAPTURE, G_REINVEST_DELAY, G_BASELINE_GROWTH, G_ADJUST_TIME, G_SPEND_DOWN, G_SETUP_COST,
 G_SETUP_MONTHS, G_DR_COST, G_DR_MONTHS, G_OH_REDUCTION, G_OH_RAMP) = range(17)
N_GLOBAL = 17

# ---- state blocks (x) ---------------------------------------------------------------------
(X_POP, X_STAGE, X_FUNDING, X_POOL_PLACES, X_COMMUNITY, X_WAITING, X_CAPBASE, X_RESERVES,
 X_PERCEIVED, X_CAPTURED, X_POOL) = range(11)
# cumulative flows since month 0 (accumulators)
(A_INFLOW, A_EXIT, A_ESC, A_PERSON_MONTHS, A_ACT_PREV, A_ACT_REACT, A_SPEND_PREV,
 A_SPEND_REACT, A_VALUE_REACT, A_AG_SPEND, A_AG_OVERHEAD, A_AG_CONTRIB, A_AG_CAPTURE,
 A_BUDGET, A_POOL_IN, A_REINVESTED, A_POOL_SPEND, A_SETUP, A_DOUBLE_RUNNING, A_DISC_AG,
 A_DISC_TOTAL, A_DISC_QALY, A_TOTAL) = range(11, 34)
# stocks of the mechanisms: the persisting effect of each preventive service and the
# capacity in place at month 0 of each reactive service (constant)
X_PERSIST, X_CAPINIT = 34, 35
# cumulative flows per cohort: recoveries (including substituted escalations), deaths,
# transitions out of and into the cohort, person-months in work, tax and NI of people in work
A_REC, A_DEATH, A_TRANS_OUT, A_TRANS_IN, A_EMPLOYED, A_EMPLOY_VALUE = range(36, 42)
N_XBLOCKS = 42
FIRST_ACCUMULATOR = A_INFLOW

# growth factors tracked per lane: inflow per cohort, budget per agency, unit-cost efficiency
# per agency, and the pool's savings baseline: ngrowth = nco + 2 * nag + 1


def param_sizes(npop: int, nco: int, nprev: int, nreact: int, nutil: int, nag: int,
                nulink: int = 0, nsub: int = 0) -> list[int]:
    """Size of each parameter block, in block order (``nulink`` utilisation-effect links,
    ``nsub`` substitution links)."""
    sizes = [npop] * 5 + [nco] + [nprev] * 9 + [nreact] * 6 + [nutil] + [nag] * 11 + [N_GLOBAL]
    sizes += [npop] * 3 + [nco] + [nprev] * 6 + [nreact] + [nulink] + [nsub]
    assert len(sizes) == N_PBLOCKS
    return sizes


def state_sizes(npop: int, nco: int, nstage: int, nprev: int, nreact: int, nag: int) -> list[int]:
    """Size of each state block, in block order."""
    sizes = [npop, nstage, nprev, nprev, nprev, nreact, nreact, nag, nag, nag, 1,
             nco, nco, nco, npop, nprev, nreact, nprev, nreact, nreact,
             nag, nag, nag, nag, nag, 1, 1, 1, 1, 1, nag, 1, 1, 1,
             nprev, nreact, nco, nco, nco, nco, nco, nco]
    assert len(sizes) == N_XBLOCKS
    return sizes


def offsets(sizes: list[int]) -> np.ndarray:
    """Start offset of each block plus the total length as the last entry."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
