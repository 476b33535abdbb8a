"""``tpsim scenarios``: the scenarios shipped with tpsim. ``tpsim scenarios`` (or ``tpsim
scenarios list``) lists them; ``tpsim scenarios copy DIR`` copies them, with their README, into
DIR for editing (the copies keep their ``extends:`` links, so a copied child still finds its
parent). The files are package data (:mod:`tpsim.config.shipped`)."""
from __future__ import annotations

from pathlib import Path

import click

from tpsim.config.shipped import copy_plan, shipped_folder, shipped_scenarios
from tpsim.output import atomic_write_bytes


@click.group(invoke_without_command=True)
@click.pass_context
def scenarios(ctx: click.Context) -> None:
    """List the shipped scenarios, or copy them out for editing (tpsim scenarios copy DIR)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_scenarios)


@scenarios.command("list")
def list_scenarios() -> None:
    """List the shipped scenario files with their titles."""
    items = shipped_scenarios()
    width = max(len(s.file) for s in items)
    click.echo(f"shipped scenarios in {shipped_folder()}:")
    for s in items:
        parent = f" (extends {s.extends})" if s.extends else ""
        click.echo(f"  {s.file:<{width}}  {s.title}{parent}")
    click.echo("copy them out to edit: tpsim scenarios copy DIR")


@scenarios.command("copy")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files of the same name in FOLDER.")
def copy(folder: str, force: bool) -> None:
    """Copy every shipped scenario (and its README) into FOLDER, made if needed."""
    files = copy_plan(folder, force=force)
    for path, data in files.items():
        atomic_write_bytes(path, data)
    click.echo(f"copied {len(files)} files to {Path(folder)}; try "
               f"tpsim report {Path(folder) / 'pilots_plus.yaml'} --against "
               f"{Path(folder) / 'siloed_squeeze.yaml'}")
