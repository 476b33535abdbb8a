"""Independent replications of the individual-level model, in this process or in worker
processes; seeds are spawned per replication so results do not depend on the worker count."""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from tpsim.models.individual.plan import IndividualPlan
from tpsim.models.individual.replication import ReplicationOutput, simulate_replication

_PARALLEL_MIN_PERSON_MONTHS = 5_000_000  # below this, worker start-up costs more than it saves


def _replicate(args) -> ReplicationOutput:
    plan, seed = args
    return simulate_replication(plan, seed)


def default_workers(plan: IndividualPlan, replications: int) -> int:
    """Worker processes to use: ``min(2, replications, CPUs)``, or 1 when the whole job is
    smaller than about a second of simulation (starting a worker process costs about that)."""
    work = plan.people * plan.n_months * replications  # simulated person-months
    if work < _PARALLEL_MIN_PERSON_MONTHS:
        return 1
    return max(1, min(2, replications, os.cpu_count() or 1))


def run_replications(plan: IndividualPlan, replications: int, seed: int = 0,
                     workers: int | None = None) -> tuple[list[ReplicationOutput], float, int]:
    """Simulate ``replications`` independent replications; return them, the wall seconds and
    the number of worker processes used.

    Replication k uses ``numpy.random.SeedSequence(seed).spawn(replications)[k]``, so the
    results do not depend on the number of workers. ``workers`` defaults to
    :func:`default_workers`; with one worker (or one replication) everything runs in this
    process, otherwise in a :class:`concurrent.futures.ProcessPoolExecutor`.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    seeds = np.random.SeedSequence(seed).spawn(replications)
    if workers is None:
        workers = default_workers(plan, replications)
    workers = max(1, min(int(workers), replications))
    started = time.perf_counter()
    if workers == 1:
        outputs = [simulate_replication(plan, sq) for sq in seeds]
    else:
        # spawn: the parent may hold numba worker threads, which fork does not copy safely
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            outputs = list(pool.map(_replicate, [(plan, sq) for sq in seeds]))
    return outputs, time.perf_counter() - started, workers
