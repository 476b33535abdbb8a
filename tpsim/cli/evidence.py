"""``tpsim evidence``: each preventive service's return per £1 in the model (fiscal and
economic, over the Parliament and the horizon) beside the published range of the evidence
library (scenarios/evidence.yaml, docs/sources.md).

Writes ``evidence.csv`` (``service``, ``fiscal_return_per_pound``,
``economic_return_per_pound``, ``published_low``, ``published_high``, ``source``,
``within_range``) and ``evidence.json`` (the Parliament returns, present values and the
library's reasons too) to ``--out`` (default ``outputs/evidence/<scenario>/``).
"""
from __future__ import annotations

import click

from tpsim.analysis.evidence import compare_with_library, service_returns
from tpsim.config.evidence import load_evidence
from tpsim.output import OutputFolder
from tpsim.present.evidence import evidence_files, evidence_text
from tpsim.cli.options import (against_option, load_timed, out_dir, out_option,
                               scenario_argument, time_options)


@click.command()
@scenario_argument
@against_option("Measure what SCENARIO adds to this scenario's provision of each service "
                "(default: take each service out of SCENARIO).", required=False)
@click.option("--library", type=click.Path(dir_okay=False),
              help="Evidence library (default: the shipped scenarios/evidence.yaml).")
@time_options("the scenario's")
@out_option("outputs/evidence/<scenario>/")
def evidence(scenario: str, counterfactual: str | None, library: str | None,
             horizon: int | None, dt: float | None, method: str | None,
             out: str | None) -> None:
    """Return per £1 of each preventive service vs the evidence: each service of SCENARIO
    is taken out (or set to the --against scenario's provision) in one batched run, appraised
    with no optimism bias and QALYs valued in the economic return, and put beside the
    published range of the evidence library."""
    sc = load_timed(scenario, horizon=horizon, dt=dt, method=method)
    cf = (load_timed(counterfactual, horizon=horizon, dt=dt, method=method)
          if counterfactual else None)
    table = load_evidence(library)
    rows = compare_with_library(service_returns(sc, cf), table)
    files = evidence_files(rows, sc, cf, str(table.path))
    folder = out_dir(out, f"evidence/{sc.name}")
    with OutputFolder(folder, "evidence") as written:
        written.write_files(files)
    click.echo(evidence_text(rows, sc, cf))
    click.echo(f"wrote {', '.join(str(folder / n) for n in files)}")
