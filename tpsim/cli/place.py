"""``tpsim place init``: build a scenario for your own place from a place profile
(docs/place-profile.md).

The scenario is built on the template's structure (default scenarios/baseline.yaml, whose own
profile is the reference place, default scenarios/places/baseline.yaml), solved to a balanced
month 0, given budgets consistent with it, validated, checked to keep every council's reserves
non-negative over the first year, and written as one standalone YAML file whose comments name
what came from the profile and what from the template's defaults. Nothing is written on an
error.
"""
from __future__ import annotations

import click

from tpsim.cli.options import derive_budgets_option, file_path, reference_profile_option
from tpsim.output import atomic_write_text


@click.group()
def place() -> None:
    """Build a scenario for your own place from a PROFILE (see docs/place-profile.md)."""


@place.command("init")
@click.option("--out", "out", required=True, type=file_path,
              help="The scenario file to write (e.g. my_place.yaml).")
@click.option("--template", type=file_path, default=None,
              help="The scenario whose structure the place takes (default "
                   "scenarios/baseline.yaml).")
@reference_profile_option("The template's")
@derive_budgets_option("the profile's")
@click.option("--bands/--no-bands", default=True, show_default=True,
              help="Split every cohort and service by the profile's deprivation bands "
                   "(deprivation.bands), when it gives them.")
@click.argument("profile", type=file_path)
def init(profile: str, out: str, template: str | None, reference: str | None,
         derive_budgets: bool, bands: bool) -> None:
    """Build a scenario for the place in PROFILE and write it to --out."""
    from tpsim.place.api import init_place, place_file_text

    built = init_place(profile, template=template, reference=reference,
                       keep_budgets=not derive_budgets, bands=bands)
    text = place_file_text(built)
    atomic_write_text(out, text)
    state = built.state
    click.echo(f"{built.scenario.name}: {built.profile.total:,.0f} people, month 0 balanced "
               f"(largest |dP/dt| {state.residual:.2g} people a month); modelled spend "
               f"GBP {sum(state.spend.values()) * 12 / 1e6:,.1f}m a year")
    for w in built.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"wrote {out}; run it with: tpsim run {out}")
