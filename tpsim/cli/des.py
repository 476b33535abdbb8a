"""``tpsim des``: simulate a sample of individuals with the discrete-event (simpy) model and
cross-check it against the aggregate model.

Writes to DIR (default ``outputs/<scenario>/des/``):

* ``des_timeseries.csv``: the series of ``tpsim run`` (population, activity, waiting, spend,
  flows) as the mean over replications with 95% confidence-interval columns;
* ``waiting_times.csv``: waiting time of served requests per capacity-limited service and month
  (mean, median, 90th and 95th percentiles, months);
* ``queues.csv``: queue length per capacity-limited service and month (people in the place);
* ``crosscheck.json``: the standardised differences from the aggregate model and the verdict;
* ``des_summary.json``: settings, measured speed, waiting-time summary;
* ``comparison.png`` (and ``waiting_times.png`` when a service has a capacity limit).
"""
from __future__ import annotations

import click

from tpsim.models import runner
from tpsim.analysis.crosscheck import check_individual, reference_run, summary_line
from tpsim.models.individual import COVERAGE_MODES, run_individual
from tpsim.output import OutputFolder
from tpsim.present.documents import des_summary, des_timeseries_table
from tpsim.present.charts_des import comparison_chart, save_figure, waiting_chart
from tpsim.cli.options import (DES_BYTES_PER_PERSON, MAX_PEOPLE, MAX_REPLICATIONS, FiniteFloat,
                               check_memory, horizon_option, load_timed, out_dir, out_option,
                               scenario_argument, seed_option, workers_option)
from tpsim.config.scenario import MAX_HORIZON


@click.command()
@scenario_argument
@click.option("--people", type=click.IntRange(1, MAX_PEOPLE), default=20_000, show_default=True,
              help="Simulated people at month 0 (scaled to the place's population).")
@click.option("--replications", type=click.IntRange(1, MAX_REPLICATIONS), default=20, show_default=True,
              help="Independent replications (at least 2 for confidence intervals).")
@seed_option("Seed of numpy.random.SeedSequence; replication k uses its k-th child.")
@out_option("outputs/<name>/des/")
@workers_option("Worker processes for replications (default: min(2, replications, CPUs); "
                   "1 for small jobs).")
@horizon_option("Months to simulate (default: the scenario's).")
@click.option("--coverage", type=click.Choice(COVERAGE_MODES), default="aggregate",
              show_default=True,
              help="Preventive coverage: the aggregate run's, or found from the simulated people.")
@click.option("--service-time", type=FiniteFloat(0.0, MAX_HORIZON, min_open=True), default=1.0,
              show_default=True,
              help="Months a server spends per event; sets the servers standing for a capacity.")
@click.option("--unlimited-capacity", is_flag=True,
              help="Remove every capacity limit (both models): the cross-check of the dynamics.")
@click.option("--draw-requests", is_flag=True,
              help="Draw Poisson counts for services without a capacity limit (default: their "
                   "expectation given the simulated people).")
def des(scenario: str, people: int, replications: int, seed: int, out: str | None,
        workers: int | None, horizon: int | None, coverage: str, service_time: float,
        unlimited_capacity: bool, draw_requests: bool) -> None:
    """Simulate individuals in SCENARIO with the discrete-event model; compare with the
    aggregate model (default output folder outputs/<name>/des/)."""
    if not service_time > 0:
        raise click.BadParameter("must be > 0 months", param_hint="--service-time")
    check_memory(people * DES_BYTES_PER_PERSON * min(workers or 2, replications),
                 f"{people:,} simulated people per replication", "--people or --workers")
    sc = load_timed(scenario, horizon=horizon)
    if unlimited_capacity:
        sc = sc.replace(capacity_limits=False)
    aggregate = runner.run(sc)
    results = run_individual(aggregate.model, aggregate, people=people,
                             replications=replications, seed=seed, workers=workers,
                             coverage=coverage, service_time=service_time,
                             draw_requests=draw_requests)
    folder = out_dir(out, f"{sc.name}/des")

    report = check_individual(results, aggregate, reference=reference_run(sc))
    report = {"scenario": sc.name, "scenario_hash": sc.hash, **report}

    columns, rows = des_timeseries_table(results)
    wcols, wrows = results.waiting_table()
    qcols, qrows = results.queue_table(aggregate)
    summary = des_summary(sc, results, report, {
        **runner.settings(sc), "people": people, "replications": replications, "seed": seed,
        "workers": results.workers, "coverage": coverage, "service_time_months": service_time,
        "unlimited_capacity": unlimited_capacity, "draw_requests": draw_requests})
    title = (f"{sc.name}: individual-level (DES, {replications} x {people:,} people) vs "
             "aggregate model")
    with OutputFolder(folder, "des") as written:
        written.write_csv("des_timeseries.csv", columns, rows)
        written.write_csv("waiting_times.csv", wcols, wrows)
        written.write_csv("queues.csv", qcols, qrows)
        written.write_json("crosscheck.json", report)
        written.write_json("des_summary.json", summary)
        save_figure(comparison_chart(results, aggregate, title), written.path("comparison.png"))
        if results.spend.queued_names:
            save_figure(waiting_chart(results, wrows), written.path("waiting_times.png"))

    click.echo(f"{sc.name} ({sc.hash}): {replications} replications x {people:,} people "
               f"(1 simulated person = {results.plan.weight:.2f} people), "
               f"{results.plan.n_months} months, seed {seed}")
    click.echo(f"  {results.events:,} events in {results.seconds:.1f}s with {results.workers} "
               f"worker(s): {results.events_per_second:,.0f} events/s "
               f"({results.events_per_cpu_second:,.0f} per CPU second)")
    for name, w in results.waiting_overall().items():
        if w.get("served"):
            click.echo(f"  {name}: mean wait {w['mean_months']:.3f} months, 95th percentile "
                       f"{w['p95_months']:.3f}, {100 * w['share_waiting']:.1f}% waited")
    click.echo("  " + summary_line(report))
    click.echo(f"wrote {folder}/ (des_timeseries.csv, waiting_times.csv, queues.csv, "
               f"crosscheck.json, des_summary.json, comparison.png)")
