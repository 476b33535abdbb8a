"""``tpsim calibrate``: fit scenario parameters to local data; write a calibrated scenario.

Everything is validated and fitted before anything is written, so a user error (a bad config,
scenario or data file) exits with status 2 and leaves no output behind. Outputs (default
``outputs/calibration/<config name>/``):

* ``calibrated.yaml``: a scenario that ``extends:`` the original and sets only the fitted values;
* ``fit_report.json``: estimates, standard errors, 95% intervals, correlations, warnings, and
  per-series MAPE, RMSE, R^2 and Theil proportions (before and after calibration);
* ``fit_series.csv``: observed, initial and fitted values at every observation;
* ``charts/<series>.png``: observed against simulated, per series.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from tpsim.analysis.calibration import FitEvent, fit, fit_report, prepare
from tpsim.errors import ScenarioError
from tpsim.config.calibration import load_config
from tpsim.output import atomic_write_text, json_text
from tpsim.present.charts_calibration import write_fit_charts
from tpsim.present.documents import calibrated_yaml, fit_series_csv
from tpsim.present.text import calibration_text
from tpsim.cli.options import out_dir, out_option, seed_option


class _Progress:
    """Progress on stderr: one overwritten line per kernel batch on a terminal, otherwise a
    line per finished start."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.width = 0

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            pad = " " * max(0, self.width - len(text))
            sys.stderr.write("\r" + text + pad + ("\n" if final else ""))
            self.width = 0 if final else len(text)
        elif final:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def message(self, text: str) -> None:
        if not self.quiet:
            self._line(text, True)

    def __call__(self, ev: FitEvent) -> None:
        if self.quiet:
            return
        if ev.stage == "screen":
            self._line(f"  screened the start values and the Sobol candidates in one kernel "
                       f"call: best cost {ev.best_cost:.4g}", True)
        elif ev.stage in ("residuals", "jacobian"):
            if self.tty:
                cost = f"{ev.cost:.4g}" if math.isfinite(ev.cost) else "..."
                self._line(f"  start {ev.start}/{ev.starts}: batch {ev.evaluations:3d}, "
                           f"cost {cost}, best {ev.best_cost:.4g}, {ev.runs} runs, "
                           f"{ev.elapsed:.1f} s", False)
        elif ev.stage == "start_done":
            self._line(f"  start {ev.start}/{ev.starts} done: cost {ev.cost:.6g} "
                       f"({ev.evaluations} evaluations; best so far {ev.best_cost:.6g}; "
                       f"{ev.elapsed:.1f} s)", True)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@out_option("outputs/calibration/<config name>/")
@click.option("--starts", type=click.IntRange(min=1),
              help="Local least-squares fits (default: the config's fit.starts, else 4).")
@seed_option("Seed of the Sobol start points (default: the config's fit.seed, else 0).",
             default=None)
@click.option("--quiet", is_flag=True, help="No progress display.")
def calibrate(config: str, out: str | None, starts: int | None, seed: int | None,
              quiet: bool) -> None:
    """Fit the parameters listed in CONFIG to local data by weighted least squares.

    Writes calibrated.yaml (runnable with `tpsim run`), fit_report.json, fit_series.csv and a
    chart per series (default outputs/calibration/<config name>/).
    """
    progress = _Progress(quiet)
    cfg, prepared, problem = prepare(load_config(config), starts, seed)
    scenario, data, targets, unused = (prepared.scenario, prepared.data, prepared.targets,
                                       prepared.unused)
    t = scenario.time

    progress.message(f"calibrating {scenario.name}: {problem.n_parameters} parameters, "
                     f"{problem.n_observations} observations in {len(targets)} series, "
                     f"{cfg.fit.starts} starts")
    result = fit(problem, cfg.fit, progress)
    progress.message(f"  fitted in {result.elapsed:.1f} s ({result.runs} model runs in "
                     f"{result.kernel_calls} kernel calls)")

    estimates = result.estimates
    try:
        scenario.replace(overrides=estimates)
    except ScenarioError as err:
        raise cfg.error(("parameters",), f"the fitted values together make the scenario "
                                         f"invalid ({err.key}: {err.message}); narrow the "
                                         f"bounds") from None

    folder = out_dir(out, f"calibration/{Path(config).stem}")
    calibrated_path = folder / "calibrated.yaml"
    extends = Path(os.path.relpath(cfg.scenario_path.resolve(), folder.resolve())).as_posix()
    yaml_text = calibrated_yaml(cfg, scenario, data, result, extends, config)
    report = fit_report(result, config_file=os.fspath(config), scenario=scenario, data=data,
                        calibrated_file=os.fspath(calibrated_path), unused_series=unused)
    series_csv = fit_series_csv(result, t.start)

    # everything is computed: write
    atomic_write_text(calibrated_path, yaml_text)
    atomic_write_text(folder / "fit_report.json", json_text(report))
    atomic_write_text(folder / "fit_series.csv", series_csv)
    charts = write_fit_charts(folder / "charts", result, scenario, data.path)

    click.echo(calibration_text(result, scenario.name, data.path, unused))
    click.echo(f"wrote {calibrated_path}, {folder / 'fit_report.json'}, "
               f"{folder / 'fit_series.csv'} and {len(charts)} chart(s) in {folder / 'charts'}")
    click.echo(f"run it with: tpsim run {calibrated_path}")
