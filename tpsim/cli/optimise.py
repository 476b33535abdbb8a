"""``tpsim optimise``: the mix of preventive levers (places, or the pool's shares) that
maximises an objective of SCENARIO against the counterfactual under a pool budget and no
earlier section 114 (docs/discovery.md).

Files (in ``--out``, default ``outputs/optimise/``), written atomically: ``optimisation.json``,
``frontier.png`` (NPV against payback month of the mixes searched).
"""
from __future__ import annotations

import click

from tpsim.analysis.sampling import SAMPLERS
from tpsim.cli.options import (MAX_FUTURES, MAX_GENERATIONS, MAX_POPSIZE, FiniteFloat,
                               against_option, optimism_bias_option, out_dir, out_option,
                               scenario_argument, seed_option, time_options)
from tpsim.errors import TpsimError


@click.command()
@scenario_argument
@against_option("The counterfactual SCENARIO is compared with.")
@click.option("--lever", "--levers", "levers", multiple=True, required=True,
              metavar="PATH[=LOW:HIGH]",
              help="A lever to search (repeatable, or comma-separated): "
                   "services.<service>.places or pool.services.<service>; bounds default to "
                   "0 to 4x today's places, 0 to 1 for a share.")
@click.option("--budget", type=FiniteFloat(min=0.0),
              help="Pool budget for the places levers, £ a month (sum of places x unit cost; "
                   "default: today's mix's cost).")
@click.option("--objective", default="npsv", show_default=True,
              help="What to maximise, as its mean over the central case and the futures: "
                   "npsv (the appraisal's headline), economic_npv, npv (fiscal), or their "
                   "_parliament values; or payback (P(payback within the Parliament)).")
@click.option("--futures", type=click.IntRange(0, MAX_FUTURES), default=0, show_default=True,
              help="Futures of the uncertainty section each candidate is evaluated over "
                   "(0: the central case only); > 0 adds the robust choice.")
@click.option("--criterion", type=click.Choice(["expected", "p10", "regret"]),
              default="expected", show_default=True,
              help="Robust choice among the candidate mixes over the futures.")
@click.option("--generations", type=click.IntRange(1, MAX_GENERATIONS), default=40, show_default=True,
              help="Differential evolution generations at most.")
@click.option("--popsize", type=click.IntRange(2, MAX_POPSIZE), default=10, show_default=True,
              help="Candidates per generation per lever.")
@click.option("--allow-section-114", is_flag=True,
              help="Drop the constraint that no council's section 114 comes earlier than "
                   "with today's mix.")
@seed_option("Seed of the search and of the futures.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="random", show_default=True,
              help="Points of the futures.")
@optimism_bias_option()
@time_options()
@click.option("--charts/--no-charts", default=True, show_default=True, help="Write the PNG chart.")
@out_option("outputs/optimise/")
def optimise(scenario: str, counterfactual: str, levers: tuple[str, ...], budget: float | None,
             objective: str, futures: int, criterion: str, generations: int, popsize: int,
             allow_section_114: bool, seed: int, sampler: str, optimism_bias: float | None,
             horizon: int | None, dt: float | None, method: str | None, charts: bool,
             out: str | None) -> None:
    """Find the mix of preventive levers that maximises an objective of SCENARIO against the
    counterfactual, under a pool budget and no earlier section 114; report it beside today's
    mix and the NPV-against-payback frontier."""
    from tpsim.api import optimise as run_optimise
    from tpsim.output import OutputFolder, json_text
    from tpsim.present.optimisation import frontier_figure, optimisation_text

    specs = [p.strip() for item in levers for p in item.split(",") if p.strip()]
    try:
        result = run_optimise(scenario, counterfactual, specs, budget=budget,
                              objective=objective, futures=futures, seed=seed, sampler=sampler,
                              generations=generations, popsize=popsize,
                              allow_section_114=allow_section_114, criterion=criterion,
                              optimism_bias=optimism_bias, horizon=horizon, dt=dt,
                              method=method)
    except TpsimError as exc:
        flag = {"levers": "--lever", "objective": "--objective", "criterion": "--criterion"}
        if exc.key in flag:
            raise TpsimError(f"{flag[exc.key]}: {exc.message}") from None
        raise
    document = result.to_dict()
    folder = out_dir(out, "optimise")
    with OutputFolder(folder, "optimise") as written:
        written.write_text("optimisation.json", json_text(document))
        if charts:
            from tpsim.present.charts import save_figure

            save_figure(frontier_figure(result, f"{result.settings['scenario']}: mixes searched"),
                        written.folder(), "frontier", formats=("png",))
    click.echo(optimisation_text(document))
    click.echo(f"wrote {folder / 'optimisation.json'}")
