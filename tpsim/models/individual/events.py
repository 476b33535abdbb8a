"""Event scheduling for one replication: random streams, the bucketed calendar, engine tallies.

The simpy event queue is a binary heap whose cost grows with its size, so only events due
before the end of the current bucket (a quarter of a month) go into it; later ones wait in
per-bucket lists and are scheduled when their bucket opens (:meth:`Replication.ticks`). Event
order is unchanged: a bucket opens before any of its events is due.
"""
from __future__ import annotations

import itertools

from simpy.events import Timeout

RANDOM_BLOCK = 1 << 14
BUCKETS_PER_MONTH = 4  # a power of two, so bucket boundaries are exact binary fractions

# engine overheads (not events): thinning candidates rejected, events of an old epoch; and
# service completions. Indices into ``Replication.tally``.
REJECTED, STALE, ENDS = 0, 1, 2


def stream(draw):
    """An endless iterator of floats drawn in blocks (``draw(n)`` returns an ndarray)."""
    return itertools.chain.from_iterable(map(lambda _: draw(RANDOM_BLOCK).tolist(),
                                             itertools.repeat(None)))


def make_wake(rep):
    """``wake(at, now, callback, value)``: call ``callback(event)`` at time ``at`` (months) with
    ``event._value == value``, through the heap if ``at`` is in the open bucket, else parked
    in its bucket (dropped at or after the horizon)."""
    env, parked, bucket_end, horizon = rep.env, rep.parked, rep.bucket_end, rep.horizon
    buckets_per_month = BUCKETS_PER_MONTH

    def wake(at: float, now: float, callback, value) -> None:
        if at < bucket_end[0]:
            Timeout(env, at - now, value).callbacks.append(callback)
        elif at < horizon:
            parked[int(at * buckets_per_month)].append((at, callback, value))

    return wake
