"""``tpsim run``: simulate one scenario and write its time series and summary."""
from __future__ import annotations

import click

from tpsim.models import runner
from tpsim.output import write_csv, write_json
from tpsim.present.wording import run_summary_text
from tpsim.cli.options import load, out_dir, out_option, scenario_argument


@click.command()
@scenario_argument
@out_option
@click.option("--method", type=click.Choice(["euler", "rk4"]), help="Integration method (default: the scenario's).")
@click.option("--dt", type=float, help="Time step in months (default: the scenario's).")
@click.option("--horizon", type=int, help="Months to simulate (default: the scenario's).")
def run(scenario: str, out: str | None, method: str | None, dt: float | None,
        horizon: int | None) -> None:
    """Simulate one SCENARIO; write timeseries.csv and summary.json (default outputs/<name>/)."""
    sc = runner.with_time_settings(load(scenario), dt=dt, method=method, horizon=horizon)
    results = runner.run(sc)
    folder = out_dir(out, sc.name)
    columns, rows = results.table(0)
    summary = runner.summary(sc, results)
    write_csv(folder / "timeseries.csv", columns, rows)
    write_json(folder / "summary.json", summary)
    click.echo(run_summary_text(summary, results))
    click.echo(f"wrote {folder / 'timeseries.csv'} and {folder / 'summary.json'}")
