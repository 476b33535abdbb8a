"""``tpsim calibrate``: fit scenario parameters to local data; write a calibrated scenario
(``--method wls``, weighted least squares) or posterior draws (``--method bayes``).

Everything is validated and fitted before anything is written, so a user error (a bad config,
scenario or data file) exits with status 2 and leaves no output behind. Outputs (default
``outputs/calibration/<config name>/``):

* ``calibrated.yaml``: a scenario that ``extends:`` the original and sets only the fitted values;
* ``fit_report.json``: estimates, standard errors, 95% intervals, correlations, warnings, and
  per-series MAPE, RMSE, R^2 and Theil proportions (before and after calibration);
* ``fit_series.csv``: observed, initial and fitted values at every observation;
* ``charts/<series>.png``: observed against simulated, per series.

With ``--method bayes`` (calibration/bayes.md): ``posterior.csv`` (the draws, usable as a
scenario's ``uncertainty: posterior:``), ``calibrated.yaml`` (extends the original, sets the
posterior means and draws posterior.csv in ensembles), ``fit_report.json`` (priors, posterior summary,
convergence diagnostics, the decision's value of information) and ``charts/`` (marginals,
pairs, posterior predictive per series).
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click
import numpy as np

from tpsim.analysis.calibration import FitEvent, fit, fit_report, prepare
from tpsim.errors import ScenarioError
from tpsim.config.calibration import load_config
from tpsim.output import OutputFolder, json_text
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
@click.option("--starts", type=click.IntRange(1, 1000),
              help="Local least-squares fits (default: the config's fit.starts, else 4).")
@seed_option("Seed of the Sobol start points (default: the config's fit.seed, else 0).",
             default=None)
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--method", "fit_method", type=click.Choice(["wls", "bayes"]), default="wls",
              show_default=True,
              help="wls: weighted least squares; bayes: posterior sampling with emcee "
                   "(settings in the config's fit.bayes).")
@click.option("--metric", "decision_metric",
              type=click.Choice(["npsv", "economic_npv", "fiscal_npv", "npv_parliament"]),
              default=None, help="With --method bayes: the money figure the config's decision "
                                 "is judged on (default: its decision.metric, else npsv).")
@click.option("--rebudget/--keep-budgets", default=True, show_default=True,
              help="Re-derive every agency's budget, reserves and spend-following budget "
                   "growth from the calibrated month 0, so the calibrated place is consistent "
                   "(docs/place-profile.md), or keep the scenario's budgets when they are the "
                   "place's real local figures (wls only).")
def calibrate(config: str, out: str | None, starts: int | None, seed: int | None,
              quiet: bool, fit_method: str, decision_metric: str | None,
              rebudget: bool) -> None:
    """Fit the parameters listed in CONFIG to local data by weighted least squares.

    Writes calibrated.yaml (runnable with `tpsim run`), fit_report.json, fit_series.csv and a
    chart per series (default outputs/calibration/<config name>/). With --method bayes:
    posterior.csv, calibrated.yaml (posterior means; ensembles draw posterior.csv),
    fit_report.json and charts of the posterior.
    """
    progress = _Progress(quiet)
    if fit_method == "bayes":
        if starts is not None:
            raise click.UsageError("--starts sets the least-squares starts; with --method "
                                   "bayes set the sampler in the config's fit.bayes")
        _calibrate_bayes(config, out, seed, progress, decision_metric)
        return
    if decision_metric is not None:
        raise click.UsageError("--metric judges the decision of --method bayes")
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
    _check_values(cfg, scenario, estimates, "the fitted values", "the bounds")

    budgets = _budgets(scenario, estimates, rebudget, progress)
    if budgets is not None:
        _report_budget_drift(budgets.scenario, result, progress)

    folder = out_dir(out, f"calibration/{Path(config).stem}")
    calibrated_path = folder / "calibrated.yaml"
    extends = _extends_path(cfg, folder)
    yaml_text = calibrated_yaml(cfg, scenario, data, result, extends, config, budgets=budgets)
    report = fit_report(result, config_file=os.fspath(config), scenario=scenario, data=data,
                        calibrated_file=os.fspath(calibrated_path), unused_series=unused)
    series_csv = fit_series_csv(result, t.start)

    # everything is computed: write
    with OutputFolder(folder, "calibrate") as written:
        written.write_text("calibrated.yaml", yaml_text)
        written.write_text("fit_report.json", json_text(report))
        written.write_text("fit_series.csv", series_csv)
        charts = write_fit_charts(written.folder("charts"), result, scenario, data.path)
        charts = [folder / "charts" / p.name for p in charts]

    click.echo(calibration_text(result, scenario.name, data.path, unused))
    click.echo(f"wrote {calibrated_path}, {folder / 'fit_report.json'}, "
               f"{folder / 'fit_series.csv'} and {len(charts)} chart(s) in {folder / 'charts'}")
    click.echo(f"run it with: tpsim run {calibrated_path}")


def _calibrate_bayes(config: str, out: str | None, seed: int | None, progress: _Progress,
                     metric: str | None = None) -> None:
    """``--method bayes``: sample the posterior, then write posterior.csv, fit_report.json and
    the charts."""
    from tpsim.analysis.bayes import to_csv_text
    from tpsim.analysis.learning import bayes_fit, with_decision_metric
    from tpsim.present.bayes_documents import (bayes_fit_report, bayes_fit_text,
                                               posterior_comments)
    from tpsim.present.charts_bayes import write_bayes_charts

    cfg, prepared, problem = prepare(with_decision_metric(load_config(config), metric), None,
                                     seed)
    settings = cfg.bayes
    progress.message(f"sampling the posterior of {prepared.scenario.name}: "
                     f"{problem.n_parameters} parameters, {problem.n_observations} observations "
                     f"in {len(prepared.targets)} series; {settings.chains} chains of "
                     f"{settings.walkers} walkers x {settings.steps} steps")

    def step(done: int, total: int, seconds: float) -> None:
        progress.message(f"  step {done}/{total} ({seconds:.1f} s)")

    fit = bayes_fit(cfg, prepared, seed=seed, progress=None if progress.quiet else step)
    folder = out_dir(out, f"calibration/{Path(config).stem}")
    posterior_path = folder / "posterior.csv"
    calibrated_path = folder / "calibrated.yaml"
    command = f"tpsim calibrate {config} --method bayes"
    yaml_text = posterior_scenario_yaml(fit, cfg, folder, command)
    csv_text = to_csv_text(fit.posterior, posterior_comments(fit, command))
    report = bayes_fit_report(fit, config_file=os.fspath(config),
                              posterior_file=os.fspath(posterior_path))
    with OutputFolder(folder, "calibrate") as written:
        written.write_text("posterior.csv", csv_text)
        written.write_text("calibrated.yaml", yaml_text)
        written.write_text("fit_report.json", json_text(report))
        charts = write_bayes_charts(written.folder("charts"), fit, prepared.scenario,
                                    prepared.data.path)
    click.echo(bayes_fit_text(fit))
    click.echo(f"wrote {posterior_path}, {calibrated_path}, {folder / 'fit_report.json'} and "
               f"{len(charts)} chart(s) in {folder / 'charts'}")
    click.echo(f"run it with: tpsim run {calibrated_path} (posterior means); tpsim ensemble "
               f"{calibrated_path} --against ... draws the posterior")


def _check_values(cfg, scenario, values: dict, what: str, narrow: str) -> None:
    """A config error at ``parameters`` unless ``values`` (path -> number) together make
    ``scenario`` valid."""
    try:
        scenario.replace(overrides=values)
    except ScenarioError as err:
        raise cfg.error(("parameters",), f"{what} together make the scenario invalid "
                                         f"({err.key}: {err.message}); narrow {narrow}") from None


def _extends_path(cfg, folder: Path) -> str:
    """The config's scenario as a path relative to the output ``folder`` (for ``extends:``)."""
    return Path(os.path.relpath(cfg.scenario_path.resolve(), folder.resolve())).as_posix()


def posterior_scenario_yaml(fit, cfg, folder: Path, command: str) -> str:
    """The calibrated.yaml of a posterior ``fit`` written into ``folder`` by ``command``
    (:func:`tpsim.present.bayes_documents.bayes_calibrated_yaml`), once the posterior means
    are known to make a valid scenario (else a config error at ``parameters``)."""
    from tpsim.present.bayes_documents import bayes_calibrated_yaml

    scenario = fit.setup.scenario
    means = {name: s["mean"] for name, s in fit.summary.items()}
    _check_values(cfg, scenario, means, "the posterior means", "the bounds or the priors")
    extends = _extends_path(cfg, folder)
    drawn = set(scenario.uncertainty.get("parameters", {}))
    return bayes_calibrated_yaml(fit, extends, command,
                                 None if drawn & set(means) else "posterior.csv")


def _report_budget_drift(rebudgeted, result, progress: _Progress) -> None:
    """Say how far the re-derived budgets move the fitted series (the fit ran on the
    original budgets, so budget pressure and cuts may differ): the largest relative change of
    any fitted series over the horizon, and its series."""
    from tpsim.models.runner import run

    runs = run(rebudgeted)
    worst, where = 0.0, None
    for name, trajectory in result.trajectories.items():
        fitted = np.asarray(trajectory[1], dtype=float)
        moved = np.asarray(runs[name][0], dtype=float)[: fitted.size]
        scale = np.maximum(np.abs(fitted), 1e-12)
        change = float(np.max(np.abs(moved - fitted) / scale))
        if change > worst:
            worst, where = change, name
    if where is not None:
        click.echo(f"re-derived budgets move the fitted series by at most {worst:.4%} "
                   f"({where}); --keep-budgets keeps the fitted run exactly")


def _budgets(scenario, estimates: dict, rebudget: bool, progress: _Progress):
    """With ``--rebudget``, budgets re-derived from the calibrated month 0
    (:func:`tpsim.place.build.rebudget`); with ``--keep-budgets``, None, and a warning for
    each council whose reserves go below zero in the first year on its local budget."""
    from tpsim.place.build import first_year_reserves
    from tpsim.place.build import rebudget as rebudget_scenario

    calibrated = scenario.replace(overrides=estimates)
    if rebudget:
        return rebudget_scenario(calibrated, original=scenario)
    for warning in first_year_reserves(calibrated):
        progress.message(f"warning: {warning.split(';')[0]}; --rebudget re-derives the budgets "
                         f"from the calibrated month 0")
    return None
