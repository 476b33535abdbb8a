"""The ``tpsim`` command. Thin: each sub-command lives in ``tpsim/commands/<name>.py`` and is
imported only when used, so ``tpsim --help`` and a user error stay fast.

Any user error (a bad scenario, a broken data file) is a :class:`tpsim.errors.TpsimError`:
it is printed as one line and the command exits with status 2, writing nothing. ``--debug``
shows the traceback instead.
"""
from __future__ import annotations

import importlib
import sys

import click

from . import __version__
from .errors import TpsimError

# sub-command name -> "module:attribute" (one line per command)
_COMMANDS = {
    "run": "tpsim.commands.run:run",
    "des": "tpsim.commands.des:des",
    "compare": "tpsim.commands.compare:compare",
    "calibrate": "tpsim.commands.calibrate:calibrate",
    "ensemble": "tpsim.commands.ensemble:ensemble",
    "sensitivity": "tpsim.commands.sensitivity:sensitivity",
    "chart": "tpsim.commands.chart:chart",
    "report": "tpsim.commands.report:report",
    "demo": "tpsim.commands.demo:demo",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        if name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TpsimError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {err}", err=True)
            sys.exit(2)


@click.group(cls=_LazyGroup)
@click.version_option(__version__, prog_name="tpsim")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """tpsim: prevention versus reactive public spend in a place (Total Place)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


if __name__ == "__main__":  # pragma: no cover
    main()
