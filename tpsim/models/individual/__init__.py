"""The individual-level (discrete-event) model on simpy: people, not stocks.

Each simulated person moves between the need states of a cohort in continuous time. Holding
times are exponential with the scenario's escalation, recovery and exit rates (competing
risks), so the model is the continuous-time Markov chain whose expectation the aggregate model
integrates. Capacity-limited reactive services are :class:`simpy.Resource` objects with FIFO
queues; people waiting in them escalate faster. The model, its units and the mapping from
aggregate parameters are in ``docs/individual.md``.

Data flow (no YAML and no files in here)::

    compiled Model + aggregate Results --plan.build_plan--> IndividualPlan + SpendPlan
    IndividualPlan + SeedSequence --replication.simulate_replication--> ReplicationOutput
    [ReplicationOutput] + SpendPlan --series.place_series--> series in place units

``results.run_individual`` does all three, with replications in worker processes
(``workers.py``). One replication is a :class:`~replication.Replication` state object whose
per-event callbacks live in ``people.py`` (state changes by thinning, arrivals) and
``services.py`` (queues and service activity), on the bucketed calendar of ``events.py``.
"""
from tpsim.models.individual.plan import COVERAGE_MODES, IndividualPlan, SpendPlan, build_plan
from tpsim.models.individual.replication import (Replication, ReplicationOutput,
                                                 simulate_replication)
from tpsim.models.individual.results import IndividualResults, run_individual
from tpsim.models.individual.series import place_series
from tpsim.models.individual.workers import default_workers, run_replications

__all__ = ["COVERAGE_MODES", "IndividualPlan", "SpendPlan", "build_plan", "Replication",
           "ReplicationOutput", "simulate_replication", "IndividualResults", "run_individual",
           "place_series", "default_workers", "run_replications"]
