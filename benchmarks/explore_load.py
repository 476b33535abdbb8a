"""Load test of ``tpsim explore`` (issue 20): 20 concurrent sessions moving sliders for 30
seconds against an explorer on 127.0.0.1 in this process (tpsim/explore/loadtest.py says
what a session does). Passes when the median update is under 200 ms, no request failed and
no session saw another's settings; prints the figures.

    PYTHONPATH=$PWD python benchmarks/explore_load.py [--sessions 20] [--seconds 30]
"""
from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tpsim.config.scenario import load_scenario  # noqa: E402
from tpsim.explore.engine import Explorer  # noqa: E402
from tpsim.explore.loadtest import run_load  # noqa: E402
from tpsim.explore.server import make_server  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--median-ms", type=float, default=200.0, help="pass mark")
    args = ap.parse_args()
    scenarios = ROOT / "scenarios"
    explorer = Explorer([load_scenario(scenarios / "pooled_prevention_uncertain.yaml"),
                         load_scenario(scenarios / "pilots_plus.yaml")],
                        load_scenario(scenarios / "siloed_squeeze.yaml"))
    server = make_server(explorer, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_load(server.url, args.sessions, args.seconds)
    finally:
        server.shutdown()
        server.server_close()
        explorer.close()
    print(result.summary())
    print(f"kernel: {explorer.batcher.calls} calls for {explorer.batcher.runs} runs")
    for e in result.errors[:10]:
        print("error:", e)
    ok = result.median_ms < args.median_ms and not result.errors and not result.mixed
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
