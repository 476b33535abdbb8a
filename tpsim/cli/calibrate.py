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

import dataclasses
import math
import os
import sys
from pathlib import Path

import click

from tpsim import __version__
from tpsim.analysis.calibration import (FitEvent, FitResult, calibrated_scenario_yaml, fit, fit_report,
                           setup)
from tpsim.errors import ScenarioError
from tpsim.config.localdata import load_config, month_label
from tpsim.output import atomic_write_text, csv_text, json_text
from tpsim.present.charts_calibration import write_fit_charts
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
    cfg = load_config(config)
    overrides = {k: v for k, v in (("starts", starts), ("seed", seed)) if v is not None}
    if overrides:
        settings = dataclasses.replace(cfg.fit, **overrides)
        if settings.candidates < settings.starts - 1:
            settings = dataclasses.replace(settings, candidates=settings.starts - 1)
        cfg = dataclasses.replace(cfg, fit=settings)
    prepared = setup(cfg)
    scenario, data, targets, unused = (prepared.scenario, prepared.data, prepared.targets,
                                       prepared.unused)
    t = scenario.data["time"]
    problem = prepared.problem()
    if problem.n_observations <= problem.n_parameters:
        raise cfg.error(("parameters",), f"{problem.n_observations} observations with positive "
                                         f"weight cannot determine {problem.n_parameters} "
                                         f"parameters: fit fewer parameters or add data")

    progress.message(f"calibrating {scenario.name}: {problem.n_parameters} parameters, "
                     f"{problem.n_observations} observations in {len(targets)} series, "
                     f"{cfg.fit.starts} starts")
    result = fit(problem, cfg.fit, progress)
    progress.message(f"  fitted in {result.elapsed:.1f} s ({result.runs} model runs in "
                     f"{result.kernel_calls} kernel calls)")

    estimates = result.estimates
    try:
        scenario.with_overrides(estimates)
    except ScenarioError as err:
        raise cfg.error(("parameters",), f"the fitted values together make the scenario "
                                         f"invalid ({err.key}: {err.message}); narrow the "
                                         f"bounds") from None

    folder = out_dir(out, f"calibration/{Path(config).stem}")
    calibrated_path = folder / "calibrated.yaml"
    extends = Path(os.path.relpath(cfg.scenario_path.resolve(), folder.resolve())).as_posix()
    yaml_text = _calibrated_yaml(cfg, scenario, data, result, extends, config)
    report = fit_report(result, config_file=os.fspath(config), scenario=scenario, data=data,
                        calibrated_file=os.fspath(calibrated_path), unused_series=unused)
    series_csv = _fit_series_csv(result, t["start"])

    # everything is computed: write
    atomic_write_text(calibrated_path, yaml_text)
    atomic_write_text(folder / "fit_report.json", json_text(report))
    atomic_write_text(folder / "fit_series.csv", series_csv)
    charts = write_fit_charts(folder / "charts", result, scenario, data.path)

    click.echo(_summary_text(result, scenario.name, data.path, unused))
    click.echo(f"wrote {calibrated_path}, {folder / 'fit_report.json'}, "
               f"{folder / 'fit_series.csv'} and {len(charts)} chart(s) in {folder / 'charts'}")
    click.echo(f"run it with: tpsim run {calibrated_path}")


# ---------------------------------------------------------------------------------------------
# Output text
# ---------------------------------------------------------------------------------------------


def _g(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a" if x is None or math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def _calibrated_yaml(cfg, scenario, data, result: FitResult, extends: str, config: str) -> str:
    st = result.statistics
    problem = result.problem
    comments = {}
    for j, q in enumerate(problem.parameters):
        lo, hi = st["interval"][j]
        comments[q.path] = (f"fitted; se {_g(st['standard_error'][j], 3)}, 95% interval "
                            f"[{_g(lo)}, {_g(hi)}]; was {_g(q.scenario_value, 6)}")
    first = month_label(scenario.data["time"]["start"], 1)
    last = month_label(scenario.data["time"]["start"], problem.fit_model.n_months)
    header = [
        f"Calibrated scenario written by `tpsim calibrate {config}` (tpsim {__version__}).",
        "It extends the original scenario and sets only the fitted parameters below.",
        f"Fitted to {data.path}: {problem.n_observations} observations in "
        f"{len(problem.targets)} series, {first} to {last}, by weighted least squares.",
        "Estimates, standard errors, 95% intervals, correlations and fit statistics:",
        "fit_report.json next to this file.",
    ]
    if st["warnings"]:
        header += ["", "Warnings from the fit:"] + [f"- {w}" for w in st["warnings"]]
    title = cfg.title or f"{scenario.data.get('title') or scenario.name} (calibrated)"
    note = (f"Fitted by tpsim calibrate to local data {data.path} ({first} to {last}); "
            f"see fit_report.json")
    return calibrated_scenario_yaml(cfg.name or f"{scenario.name}_calibrated", extends,
                                    result.estimates, comments, header, title=title,
                                    source_note=note)


def _fit_series_csv(result: FitResult, start: str) -> str:
    rows = []
    for target in result.problem.targets:
        traj = result.trajectories[target.name]
        for k, m in enumerate(target.months):
            fitted = traj[1, m - 1]
            rows.append([month_label(start, int(m)), target.name, float(target.observed[k]),
                         float(traj[0, m - 1]), float(fitted),
                         float((fitted - target.observed[k]) * target.factor[k])])
    return csv_text(["month", "series", "observed", "simulated_initial", "simulated_fitted",
                     "weighted_residual"], rows)


def _summary_text(result: FitResult, scenario_name: str, data_path: str, unused) -> str:
    st = result.statistics
    problem = result.problem
    width = max(len(n) for n in problem.names + [t.name for t in problem.targets] + ["parameter"])
    out = [f"calibrated {scenario_name} to {data_path}: {st['n_observations']} observations, "
           f"{len(problem.targets)} series, {st['n_parameters']} parameters, "
           f"{len(result.starts)} starts, {result.elapsed:.1f} s"]
    out.append(f"  {'parameter':<{width}}  {'estimate':>11}  {'std error':>10}  "
               f"{'95% interval':>25}  {'start':>10}")
    for j, q in enumerate(problem.parameters):
        lo, hi = st["interval"][j]
        interval = f"[{_g(lo)}, {_g(hi)}]"
        out.append(f"  {q.path:<{width}}  {_g(st['estimate'][j], 6):>11}  "
                   f"{_g(st['standard_error'][j], 3):>10}  {interval:>25}  "
                   f"{_g(q.initial, 6):>10}")
    out.append(f"  {'series':<{width}}  {'MAPE %':>7}  {'RMSE':>10}  {'R^2':>6}  {'U^M':>5}  "
               f"{'U^S':>5}  {'U^C':>5}")
    for t in problem.targets:
        s = result.series[t.name]["fitted"]
        out.append(f"  {t.name:<{width}}  {_g(s['mape_percent'], 3):>7}  {_g(s['rmse'], 4):>10}  "
                   f"{_fmt(s['r_squared'], 3):>6}  {_fmt(s['theil_UM'], 2):>5}  "
                   f"{_fmt(s['theil_US'], 2):>5}  {_fmt(s['theil_UC'], 2):>5}")
    if unused:
        out.append(f"  not matched (not listed in the config): {', '.join(unused)}")
    if st["warnings"]:
        out.append("warnings:")
        out += [f"  - {w}" for w in st["warnings"]]
    return "\n".join(out)


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}" if x is not None and math.isfinite(x) else "n/a"


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------
