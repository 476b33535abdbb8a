"""``tpsim chart``: the publication charts of one or more scenarios, as PNG and SVG files.

Without ``--against``: the charts over time (spend by agency, reactive and preventive spend,
people by need state). With ``--against COUNTERFACTUAL``: also the appraisal charts (the J-curve
of cumulative discounted net benefit, who pays / who gains and the wrong-pocket matrix of each
scenario). Everything is rendered in memory before anything is written.
"""
from __future__ import annotations

from pathlib import Path

import click

from tpsim.analysis.comparison import compare_scenarios
from tpsim.models import runner
from tpsim.output import OutputFolder
from tpsim.present import charts
from tpsim.present.report import make_charts, trajectory_charts
from tpsim.cli.options import (against_option, horizon_option, load_timed, optimism_bias_option,
                               out_dir, out_option, scenarios_argument)

#: ``--chart`` choices -> chart file stem prefix
CHART_NAMES = {
    "spend-by-agency": "spend_by_agency",
    "spend-by-kind": "spend_by_kind",
    "people": "people_by_need_state",
    "net-benefit": "net_benefit",
    "who-pays-who-gains": "who_pays_who_gains",
    "wrong-pocket": "wrong_pocket",
}
_NEEDS_COUNTERFACTUAL = {"net-benefit", "who-pays-who-gains", "wrong-pocket"}


@click.command()
@scenarios_argument
@against_option("Counterfactual scenario: adds the appraisal charts (net benefit, who pays / "
                "who gains, wrong pocket).", required=False)
@click.option("--chart", "only", multiple=True, type=click.Choice(sorted(CHART_NAMES)),
              help="Draw only this chart (repeatable; default: every chart that applies).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["png", "svg"]),
              help="File format (repeatable; default: png and svg).")
@optimism_bias_option("Uplift on costs for the appraisal charts (default: the scenarios').")
@horizon_option()
@out_option("outputs/charts/")
def chart(scenarios: tuple[str, ...], counterfactual: str | None, only: tuple[str, ...],
          formats: tuple[str, ...], optimism_bias: float | None, horizon: int | None,
          out: str | None) -> None:
    """Draw the charts of each SCENARIO (and, with --against, of its appraisal) as PNG and SVG."""
    wanted = set(only) or set(CHART_NAMES)
    if counterfactual is None and wanted & _NEEDS_COUNTERFACTUAL and only:
        raise click.UsageError("--chart " + ", ".join(sorted(wanted & _NEEDS_COUNTERFACTUAL))
                               + " needs --against COUNTERFACTUAL")
    scs = [load_timed(p, horizon=horizon) for p in scenarios]
    if counterfactual is not None:
        cf = load_timed(counterfactual, horizon=horizon)
        chart_list = make_charts(compare_scenarios(scs, cf, optimism_bias))
    else:
        chart_list = trajectory_charts([(sc, runner.run(sc), 0) for sc in scs])
    prefixes = tuple(CHART_NAMES[name] for name in wanted)
    chart_list = [c for c in chart_list if c.stem.startswith(prefixes)]  # drawn only if kept
    files = {}
    for c in chart_list:
        for fmt in formats or ("png", "svg"):
            files[Path(f"{c.stem}.{fmt}")] = charts.figure_bytes(c.figure, fmt)
    folder = out_dir(out, "charts")
    with OutputFolder(folder, "chart") as written:
        written.write_files(files)
    for c in chart_list:
        click.echo(f"{c.stem}: {c.title}")
    click.echo(f"wrote {len(files)} files in {folder}")
