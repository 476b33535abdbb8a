"""Replications of the individual-level model together: :func:`run_individual` (plan,
replications, place series) and :class:`IndividualResults` (means, intervals, waiting and queue
tables)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tpsim.models.individual.plan import IndividualPlan, SpendPlan, build_plan
from tpsim.models.individual.series import place_series
from tpsim.models.individual.workers import run_replications


@dataclass
class IndividualResults:
    """Replications of the individual-level model, with series in place units."""

    plan: IndividualPlan
    spend: SpendPlan
    outputs: list
    series: dict                      # name -> replications x months
    seed: int
    seconds: float                    # wall time of all replications
    workers: int

    @property
    def replications(self) -> int:
        return len(self.outputs)

    @property
    def months(self) -> np.ndarray:
        return np.arange(1, self.plan.n_months + 1)

    @property
    def events(self) -> int:
        """Simulated events over all replications (arrivals, state changes, requests to
        capacity-limited services, service starts and ends, withdrawals)."""
        return int(sum(o.events for o in self.outputs))

    @property
    def events_per_second(self) -> float:
        """Throughput: events over the wall time of all replications (all workers)."""
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def events_per_cpu_second(self) -> float:
        """Events per CPU second spent in the replications (the speed of one core, robust to
        other load on the machine)."""
        busy = sum(o.cpu_seconds for o in self.outputs)
        return self.events / busy if busy > 0 else float("nan")

    def mean(self, name: str) -> np.ndarray:
        return self.series[name].mean(axis=0)

    def standard_error(self, name: str) -> np.ndarray:
        x = self.series[name]
        if x.shape[0] < 2:
            return np.full(x.shape[1], np.nan)
        return x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])

    def confidence_interval(self, name: str, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Student-t interval for the mean over replications (NaN with one replication)."""
        from scipy.stats import t as student_t

        R = self.replications
        m, se = self.mean(name), self.standard_error(name)
        if R < 2:
            return se, se
        half = student_t.ppf(0.5 + level / 2.0, R - 1) * se
        return m - half, m + half

    def waiting_table(self) -> tuple[list[str], list[list]]:
        """Waiting time (months) of served requests per capacity-limited service and month,
        pooled over replications: count, mean, median, 90th and 95th percentiles."""
        cols = ["service", "month", "served", "mean_months", "median_months", "p90_months",
                "p95_months"]
        rows = []
        for q, name in enumerate(self.spend.queued_names):
            month = np.concatenate([o.wait_month[q] for o in self.outputs])
            wait = np.concatenate([o.wait_time[q] for o in self.outputs])
            order = np.argsort(month, kind="stable")
            month, wait = month[order], wait[order]
            bounds = np.searchsorted(month, np.arange(self.plan.n_months + 1))
            for m in range(self.plan.n_months):
                w = wait[bounds[m]:bounds[m + 1]]
                if w.size:
                    stats = [float(w.mean()), *np.percentile(w, [50, 90, 95]).tolist()]
                else:
                    stats = [float("nan")] * 4
                rows.append([name, m + 1, int(w.size), *stats])
        return cols, rows

    def waiting_overall(self) -> dict:
        """Waiting-time summary over the whole horizon per capacity-limited service."""
        out = {}
        for q, name in enumerate(self.spend.queued_names):
            wait = np.concatenate([o.wait_time[q] for o in self.outputs])
            if wait.size:
                p50, p90, p95 = np.percentile(wait, [50, 90, 95]).tolist()
                out[name] = {"served": int(wait.size), "mean_months": float(wait.mean()),
                             "median_months": p50, "p90_months": p90, "p95_months": p95,
                             "share_waiting": float((wait > 0).mean())}
            else:
                out[name] = {"served": 0}
        return out

    def queue_table(self, aggregate=None) -> tuple[list[str], list[list]]:
        """Queue lengths per capacity-limited service and month, in people in the place:
        time-average (mean over replications and 95% interval), month end, month maximum,
        and the share of servers busy; with the aggregate waiting list when given."""
        from scipy.stats import t as student_t

        cols = ["service", "month", "queue_mean", "queue_mean_ci95_low", "queue_mean_ci95_high",
                "queue_month_end", "queue_max", "servers_busy_share", "requests", "withdrawn"]
        if aggregate is not None:
            cols.append("aggregate_waiting")
        rows = []
        R, w = self.replications, self.plan.weight
        tq = student_t.ppf(0.975, R - 1) if R > 1 else float("nan")
        for q, name in enumerate(self.spend.queued_names):
            qmean = np.stack([o.queue_mean[:, q] for o in self.outputs]) * w
            qend = np.stack([o.queue_end[:, q] for o in self.outputs]) * w
            qmax = np.stack([o.queue_max[:, q] for o in self.outputs]) * w
            busy = np.stack([o.busy_mean[:, q] for o in self.outputs]) / self.plan.servers[q]
            req = np.stack([o.requests[:, q] for o in self.outputs]) * w
            wd = np.stack([o.withdrawn[:, q] for o in self.outputs]) * w
            mean = qmean.mean(axis=0)
            se = qmean.std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else np.full(mean.shape, np.nan)
            agg = aggregate[f"waiting.{name}"][0] if aggregate is not None else None
            for m in range(self.plan.n_months):
                row = [name, m + 1, mean[m], mean[m] - tq * se[m], mean[m] + tq * se[m],
                       qend[:, m].mean(), qmax[:, m].mean(), busy[:, m].mean(), req[:, m].mean(),
                       wd[:, m].mean()]
                if agg is not None:
                    row.append(float(agg[m]))
                rows.append(row)
        return cols, rows


def run_individual(model, aggregate, people: int = 20_000, replications: int = 20,
                   seed: int = 0, workers: int | None = None, coverage: str = "aggregate",
                   service_time: float = 1.0, draw_requests: bool = False) -> IndividualResults:
    """Simulate ``replications`` replications of ``people`` simulated people for ``model``
    (compiled), against its aggregate run ``aggregate`` (:class:`tpsim.models.results.Results`)."""
    plan, spend = build_plan(model, aggregate, people=people, coverage=coverage,
                             service_time=service_time, draw_requests=draw_requests)
    outputs, seconds, workers = run_replications(plan, replications, seed=seed, workers=workers)
    series = place_series(plan, spend, outputs)
    return IndividualResults(plan=plan, spend=spend, outputs=outputs, series=series,
                             seed=int(seed), seconds=seconds, workers=int(workers))
