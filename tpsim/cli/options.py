"""What the sub-commands share: their click options and arguments (defined once here) and the
loading of scenarios with the time settings given on the command line."""
from __future__ import annotations

import math
from pathlib import Path

import click

from tpsim.config.scenario import Scenario, load_scenario


def out_dir(out: str | None, default: str) -> Path:
    """The output folder: ``--out`` if given, else ``outputs/<default>``."""
    return Path(out) if out else Path("outputs") / default


def load(path: str) -> Scenario:
    return load_scenario(path)


def load_timed(path: str, *, horizon: int | None = None, dt: float | None = None,
               method: str | None = None) -> Scenario:
    """A scenario file with the command line's time settings (None keeps the scenario's)."""
    return load(path).replace(dt=dt, method=method, horizon=horizon)


class FiniteFloat(click.FloatRange):
    """A float option that must be finite (click's FLOAT and FloatRange accept ``nan`` and
    ``inf``, and ``nan`` passes every range check), optionally within a range. Every float
    option of tpsim uses this type."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = click.types.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


_SCENARIO_PATH = click.Path(dir_okay=False)

#: One SCENARIO file.
scenario_argument = click.argument("scenario", type=_SCENARIO_PATH)
#: One or more SCENARIO files.
scenarios_argument = click.argument("scenarios", nargs=-1, required=True, type=_SCENARIO_PATH)


def out_option(default: str = "under outputs/"):
    """``--out DIR``; ``default`` says where outputs go without it."""
    return click.option("--out", type=click.Path(file_okay=False),
                        help=f"Output folder (default {default}).")


def against_option(help: str = "The counterfactual scenario every SCENARIO is compared with.",
                   required: bool = True):
    """``--against COUNTERFACTUAL``, stored as ``counterfactual``."""
    return click.option("--against", "counterfactual", required=required, type=_SCENARIO_PATH,
                        help=help)


def horizon_option(help: str = "Months to simulate (default: the scenarios')."):
    """``--horizon MONTHS`` (at least 1)."""
    return click.option("--horizon", type=click.IntRange(min=1), help=help)


def dt_option(help: str = "Time step in months (default: the scenarios')."):
    return click.option("--dt", type=FiniteFloat(min=0.0, min_open=True), help=help)


def method_option(help: str = "Integration method (default: the scenarios')."):
    return click.option("--method", type=click.Choice(["euler", "rk4"]), help=help)


def seed_option(help: str | None = None, default: int | None = 0):
    """``--seed N`` (at least 0; ``default`` None lets the command tell 'not given')."""
    return click.option("--seed", type=click.IntRange(min=0), default=default,
                        show_default=default is not None, help=help)


def optimism_bias_option(help: str = "Uplift on costs, a fraction (default: each scenario's "
                                     "appraisal.optimism_bias)."):
    return click.option("--optimism-bias", type=FiniteFloat(min=0.0), help=help)


def time_options(what: str = "the scenarios'"):
    """``--horizon``, ``--dt`` and ``--method`` together."""
    def decorate(f):
        f = method_option(f"Integration method (default: {what}).")(f)
        f = dt_option(f"Time step in months (default: {what}).")(f)
        return horizon_option(f"Months to simulate (default: {what}).")(f)
    return decorate
