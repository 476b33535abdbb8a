"""The ``tpsim`` command. Thin: each sub-command lives in ``tpsim/cli/<name>.py`` (it parses
options with :mod:`tpsim.cli.options`, calls the library, hands the results to
:mod:`tpsim.present` and writes through :mod:`tpsim.output`) and is imported only when used, so
``tpsim --help`` and a user error stay fast.

Any user error (a bad scenario, a broken data file) is a :class:`tpsim.errors.TpsimError`:
it is printed as one line and the command exits with status 2, writing nothing. ``--debug``
shows the traceback instead. SIGINT (Ctrl-C) and SIGTERM stop a command cleanly: the output
folder being built is removed, the previous outputs stay, and the exit status is 130 or 143.
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from tpsim import __version__
from tpsim.errors import TpsimError

# sub-command name -> ("module:attribute", summary for ``tpsim --help``). The summaries are
# here, not read from the commands, so listing them imports nothing (scipy, matplotlib and
# numba take seconds); a test checks each is the start of its command's own help.
_COMMANDS = {
    "run": ("tpsim.cli.run:run",
            "Simulate one SCENARIO; write timeseries.csv and summary.json"),
    "des": ("tpsim.cli.des:des",
            "Simulate individuals in SCENARIO with the discrete-event model"),
    "compare": ("tpsim.cli.compare:compare",
                "Appraise each SCENARIO against the counterfactual"),
    "calibrate": ("tpsim.cli.calibrate:calibrate",
                  "Fit the parameters listed in CONFIG to local data"),
    "learn": ("tpsim.cli.learn:learn",
              "Update the posterior of CONFIG with new months of pilot data"),
    "ensemble": ("tpsim.cli.ensemble:ensemble",
                 "Run an ensemble of each SCENARIO against the counterfactual"),
    "sensitivity": ("tpsim.cli.sensitivity:sensitivity",
                    "Sensitivity of SCENARIO's NPV against the counterfactual"),
    "chart": ("tpsim.cli.chart:chart",
              "Draw the charts of each SCENARIO"),
    "report": ("tpsim.cli.report:report",
               "Write the business-case report of each SCENARIO"),
    "demo": ("tpsim.cli.demo:demo",
             "Compare the shipped scenarios, with an uncertainty analysis"),
    "scenarios": ("tpsim.cli.scenarios:scenarios",
                  "List the shipped scenarios, or copy them out for editing"),
    "place": ("tpsim.cli.place:place",
              "Build a scenario for your own place from a PROFILE"),
    "places": ("tpsim.cli.places:places",
               "Compare a scenario across many places in one run"),
    "evidence": ("tpsim.cli.evidence:evidence",
                 "Return per £1 of each preventive service vs the evidence"),
    "discover": ("tpsim.cli.discover:discover",
                 "Find the futures in which SCENARIO meets a condition"),
    "optimise": ("tpsim.cli.optimise:optimise",
                 "Find the mix of preventive levers that maximises an objective"),
    "explore": ("tpsim.cli.explore:explore",
                "Explore each SCENARIO against the counterfactual with sliders"),
}


# key path of a library error -> the option that sets it (the library speaks of parameters; the
# command names its own flags)
_FLAG_HINTS = {"time.horizon": "--horizon", "time.dt": "--dt", "time.method": "--method",
               "runs": "--runs"}


def _flag_hint(err: TpsimError) -> str:
    """`` (use --horizon)`` when the error is about a setting a command-line option sets."""
    flag = _FLAG_HINTS.get(err.key or "")
    return f" (use {flag})" if flag else ""


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        if name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def invoke(self, ctx: click.Context):
        from tpsim.output import Interrupted, handle_signals

        try:
            with handle_signals():
                return super().invoke(ctx)
        except TpsimError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {err}{_flag_hint(err)}", err=True)
            sys.exit(2)
        except Interrupted as stop:
            # a folder being built was removed on the way out, so the old outputs stand
            click.echo(f"interrupted ({stop}); no partly written output was left", err=True)
            sys.exit(stop.exit_status)


@click.group(cls=_LazyGroup)
@click.version_option(__version__, prog_name="tpsim")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """tpsim: prevention versus reactive public spend in a place (Total Place)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _show_progress_notes()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record arrives (not when created)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _show_progress_notes() -> None:
    """Informational notes of the library (logger ``tpsim``, e.g. a first-use compile) go to
    stderr as plain lines; results stay on stdout."""
    logger = logging.getLogger("tpsim")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("tpsim: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the command owns this logger: no second copy via the root


if __name__ == "__main__":  # pragma: no cover
    main()
