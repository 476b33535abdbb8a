"""``tpsim learn``: update a saved posterior as new months of pilot data arrive.

Reads the calibration CONFIG (its scenario, parameters, priors, ``fit.bayes`` and optional
``decision``), the data so far (the config's ``data:``, or ``--data-so-far``), the posterior
those data gave (``--posterior``, a posterior.csv of ``tpsim calibrate --method bayes`` or of
an earlier ``tpsim learn``) and the new months (``--data``). Re-weights the draws by the
likelihood of the new months, or re-runs the sampler from them when the weights degenerate
(calibration/bayes.md). Everything is computed before anything is written; a user error exits
with status 2. Outputs (default ``outputs/learn/<config name>/``):

* ``posterior.csv``: the updated draws (with weights when re-weighted);
* ``calibrated.yaml``: the scenario at the updated posterior means, drawing posterior.csv in
  ensembles (as ``tpsim calibrate --method bayes`` writes it);
* ``data_so_far.csv``: the old and new months together, for the next update;
* ``learning.json``: how each parameter moved, what the update did, P(metric > 0) and the
  value of information before and after;
* ``learnt.md``: the one-page "what we learnt this month";
* ``charts/learnt.png`` and ``charts/predictive_<series>.png``.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from tpsim.cli.options import out_dir, out_option, seed_option


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--posterior", "posterior_file", required=True, type=click.Path(dir_okay=False),
              help="The posterior draws of the data so far (posterior.csv).")
@click.option("--data", "new_data_file", required=True, type=click.Path(dir_okay=False),
              help="The new months of local data (the local-data CSV format).")
@click.option("--data-so-far", "so_far_file", type=click.Path(dir_okay=False),
              help="The data the posterior was fitted to (default: the config's data).")
@out_option("outputs/learn/<config name>/")
@seed_option("Seed of the re-run and of the simulated futures (default: the config's "
             "fit.bayes.seed).", default=None)
@click.option("--metric", "decision_metric",
              type=click.Choice(["npsv", "economic_npv", "fiscal_npv", "npv_parliament"]),
              default=None, help="The money figure the config's decision is judged on "
                                 "(default: its decision.metric, else npsv).")
@click.option("--quiet", is_flag=True, help="No progress display.")
def learn(config: str, posterior_file: str, new_data_file: str, so_far_file: str | None,
          out: str | None, seed: int | None, decision_metric: str | None, quiet: bool) -> None:
    """Update the posterior of CONFIG with new months of pilot data.

    Writes posterior.csv, calibrated.yaml, data_so_far.csv, learning.json, learnt.md and charts (default
    outputs/learn/<config name>/).
    """
    from tpsim.analysis import learning as ln
    from tpsim.analysis.bayes import from_draws, to_csv_text
    from tpsim.analysis.calibration import series_names, setup
    from tpsim.cli.calibrate import posterior_scenario_yaml
    from tpsim.config.calibration import load_config
    from tpsim.config.localdata import local_data_csv_text, read_local_data
    from tpsim.config.posterior import read_posterior_draws
    from tpsim.output import OutputFolder, json_text
    from tpsim.present.bayes_documents import (learning_page, learning_report, learning_text,
                                               posterior_comments)
    from tpsim.present.charts_bayes import write_bayes_charts, write_learning_chart

    cfg = ln.with_decision_metric(load_config(config), decision_metric)
    if so_far_file is not None:
        cfg = dataclasses.replace(cfg, data_path=Path(so_far_file))
    prepared = setup(cfg)
    scenario = prepared.scenario
    t = scenario.time
    new_data = read_local_data(new_data_file, t.start, int(t.horizon),
                               series_names(prepared.model),
                               scenario_file=os.fspath(cfg.scenario_path))
    draws = read_posterior_draws(posterior_file)
    if not quiet:
        click.echo(f"updating {draws.n} posterior draws of {scenario.name} with "
                   f"{new_data.path}", err=True)
    result = ln.learn(cfg, prepared, from_draws(draws), new_data, seed=seed)

    folder = out_dir(out, f"learn/{Path(config).stem}")
    after = result.after
    command = f"tpsim learn {config} --data {new_data_file}"
    csv_text = to_csv_text(after.posterior, posterior_comments(after, command))
    so_far_text = local_data_csv_text(after.setup.data, [
        f"The data so far: {after.setup.data.path} (written by `{command}`).",
        "Next month: tpsim learn CONFIG --posterior posterior.csv --data-so-far "
        "data_so_far.csv --data NEXT.csv"])
    report = learning_report(result, posterior_file=os.fspath(folder / "posterior.csv"),
                             data_file=os.fspath(folder / "data_so_far.csv"))
    page = learning_page(result)
    calibrated = posterior_scenario_yaml(after, cfg, folder, command)
    with OutputFolder(folder, "learn") as written:
        written.write_text("posterior.csv", csv_text)
        written.write_text("calibrated.yaml", calibrated)
        written.write_text("data_so_far.csv", so_far_text)
        written.write_text("learning.json", json_text(report))
        written.write_text("learnt.md", page)
        charts = written.folder("charts")
        write_learning_chart(charts, result, scenario)
        write_bayes_charts(charts, after, scenario, after.setup.data.path)
    click.echo(learning_text(result, [os.fspath(folder / f) for f in
                                      ("posterior.csv", "calibrated.yaml", "data_so_far.csv",
                                       "learning.json",
                                       "learnt.md", "charts")]))
