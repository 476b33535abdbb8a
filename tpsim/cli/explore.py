"""``tpsim explore``: the explorer, a local web app of sliders over an option and its
counterfactual (docs/explore.md). It compiles and simulates once at start, serves the page on
127.0.0.1 (``--host`` to change), opens the browser unless ``--no-browser``, and stops
cleanly on Ctrl-C."""
from __future__ import annotations

import threading
import webbrowser

import click

from tpsim.cli.options import load_timed, time_options

#: What ``tpsim explore`` opens with no SCENARIO: the shipped options of ``tpsim demo``.
DEFAULT_SCENARIOS = ("pooled_prevention_uncertain.yaml", "pilots_plus.yaml")
DEFAULT_COUNTERFACTUAL = "siloed_squeeze.yaml"


def _shipped(name: str) -> str:
    from tpsim.config.shipped import shipped_file

    return str(shipped_file(name))


@click.command()
@click.argument("scenarios", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--against", "counterfactual", type=click.Path(dir_okay=False),
              help="The counterfactual (default: the shipped siloed_squeeze.yaml when no "
                   "SCENARIO is given; required otherwise).")
@time_options()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (another than 127.0.0.1 lets other machines in).")
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
def explore(scenarios: tuple[str, ...], counterfactual: str | None, horizon: int | None,
            dt: float | None, method: str | None, host: str, port: int,
            no_browser: bool) -> None:
    """Explore each SCENARIO against the counterfactual with sliders in the browser (default:
    the shipped pooled prevention and Pilots Plus against the siloed squeeze)."""
    from tpsim.errors import TpsimError
    from tpsim.explore.engine import Explorer
    from tpsim.explore.server import make_server
    from tpsim.output import Interrupted

    if not scenarios:
        scenarios = tuple(_shipped(n) for n in DEFAULT_SCENARIOS)
        counterfactual = counterfactual or _shipped(DEFAULT_COUNTERFACTUAL)
    if counterfactual is None:
        raise TpsimError("--against COUNTERFACTUAL is required when SCENARIO files are given")
    timed = dict(horizon=horizon, dt=dt, method=method)
    options = [load_timed(p, **timed) for p in scenarios]
    cf = load_timed(counterfactual, **timed)
    click.echo("compiling and simulating once ...", err=True)
    explorer = Explorer(options, cf)
    server = make_server(explorer, host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach this address can use "
                   "the explorer", err=True)
    thread = threading.Thread(target=server.serve_forever, name="tpsim-explore-http",
                              daemon=True)
    thread.start()
    click.echo(f"tpsim explorer at {server.url} (Ctrl-C stops it)")
    if not no_browser:
        webbrowser.open(server.url)
    stopped = threading.Event()
    try:
        while not stopped.wait(0.5):  # the main thread waits so that Ctrl-C reaches it
            pass
    except (KeyboardInterrupt, Interrupted):
        click.echo("stopping the explorer ...", err=True)
    finally:
        server.shutdown()
        server.server_close()
        explorer.close()
    click.echo("explorer stopped")
