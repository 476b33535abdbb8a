"""What every benchmark script shares: pinning to two cores, and a description of the machine
and the answer check in the JSON it writes (:func:`write_result`). Imported by the scripts in this folder (run as ``python
benchmarks/<script>.py``, so this folder is on ``sys.path``)."""
from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path


def pin_two_cores() -> list[int] | None:
    """Restrict this process (and its children) to 2 CPUs where supported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 2:
        os.sched_setaffinity(0, cpus[:2])
    return sorted(os.sched_getaffinity(0))


def spread(values: list[float], unit: str = "_s") -> dict:
    """Median, min and max of repeated measurements, keys suffixed with ``unit`` ("_s" for
    seconds, "" for rates), and how many rounds."""
    return {f"median{unit}": statistics.median(values), f"min{unit}": min(values),
            f"max{unit}": max(values), "rounds": len(values)}


def verdict(problems: list[str], too_slow: str | None) -> int:
    """Print each wrong answer and the speed failure, if any; the script's exit status."""
    for p in problems:
        print(f"WRONG ANSWER: {p}")
    if too_slow:
        print(f"TOO SLOW: {too_slow}")
    return 1 if (problems or too_slow) else 0


def machine() -> dict:
    """CPU model, cores, CPUs this process may use, numba threads, versions and load average."""
    import numba
    import numpy as np

    from tpsim import __version__

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "tpsim": __version__,
            "platform": platform.platform(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def round_parser(doc: str, limit: float, json_path: Path, limit_help: str):
    """The option parser of a benchmark that repeats a timed job: ``--rounds`` (default 3),
    ``--limit`` (seconds, default ``limit``) and ``--json`` (default ``json_path``); a
    benchmark adds its own options to it."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=limit, help=limit_help)
    parser.add_argument("--json", type=Path, default=json_path)
    return parser


def write_result(path: Path, result: dict, problems: list[str]) -> dict:
    """Write ``result`` as JSON to ``path`` with the machine and whether the benchmark's
    answer was right (``problems`` lists what was wrong); returns what was written."""
    from tpsim.output import write_json

    result = dict(result, machine=machine(), answer_ok=not problems, problems=problems)
    write_json(path, result)
    return result

