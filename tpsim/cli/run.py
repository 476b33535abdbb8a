"""``tpsim run``: simulate one scenario and write its time series and summary."""
from __future__ import annotations

import click

from tpsim.models import runner
from tpsim.output import OutputFolder
from tpsim.present.text import run_summary_text
from tpsim.cli.options import load_timed, out_dir, out_option, scenario_argument, time_options


@click.command()
@scenario_argument
@out_option("outputs/<name>/")
@time_options("the scenario's")
def run(scenario: str, out: str | None, method: str | None, dt: float | None,
        horizon: int | None) -> None:
    """Simulate one SCENARIO; write timeseries.csv and summary.json (default outputs/<name>/)."""
    sc = load_timed(scenario, horizon=horizon, dt=dt, method=method)
    results = runner.run(sc)
    columns, rows = results.table(0)
    summary = runner.summary(sc, results)
    with OutputFolder(out_dir(out, sc.name), "run") as written:
        written.write_csv("timeseries.csv", columns, rows)
        written.write_json("summary.json", summary)
    folder = written.final()
    click.echo(run_summary_text(summary, results))
    click.echo(f"wrote {folder / 'timeseries.csv'} and {folder / 'summary.json'}")
