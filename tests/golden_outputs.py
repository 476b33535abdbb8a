"""Golden outputs of the shipped scenarios: how they are produced and how they are compared.

``produce`` runs the commands a user runs (``run``, ``compare``, ``ensemble`` with a fixed
seed, ``report``) and returns the bytes of the pinned files; ``assert_same`` compares two
versions numerically (1e-12 relative) so a refactor that changes an answer fails.
"""
from __future__ import annotations

import gzip
import html
import json
import math
import re
from pathlib import Path

from click.testing import CliRunner

from tpsim.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
GOLDEN = Path(__file__).resolve().parent / "golden" / "shipped"
GOLDEN_FILES = ("comparison.json", "ensemble.json", "baseline_timeseries.csv.gz",
                "pooled_prevention_timeseries.csv.gz", "report.txt")
RTOL = 1e-12


def _cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def report_text(page: str) -> str:
    """The words and figures of the report: tags, embedded images, the generation time and
    the command line removed, one text block a line."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'src="data:[^"]*"', "", page)
    page = re.sub(r"<[^>]+>", "\n", page)
    lines = [" ".join(html.unescape(line).split()) for line in page.splitlines()]
    lines = [re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<time>", line) for line in lines if line]
    skip = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
    out, after_command = [], False
    for line in lines:
        if after_command:  # the command line as typed (sys.argv) varies with the caller
            after_command = False
            continue
        after_command = line == "Command"
        if not skip.search(line):
            out.append(line)
    return "\n".join(out) + "\n"


def _portable(data: bytes) -> bytes:
    """Outputs name the scenario files by path: the checkout's folder becomes <repo>."""
    return data.replace(str(SCENARIOS.parent).encode(), b"<repo>")


def produce(tmp: Path) -> dict[str, bytes]:
    s = {name: str(SCENARIOS / f"{name}.yaml") for name in
         ("baseline", "siloed_squeeze", "pooled_prevention", "pilots_plus",
          "pooled_prevention_uncertain")}
    _cli("run", s["baseline"], "--out", str(tmp / "base"))
    _cli("compare", s["pooled_prevention"], s["pilots_plus"], "--against", s["siloed_squeeze"],
         "--out", str(tmp / "cmp"))
    _cli("ensemble", s["pooled_prevention_uncertain"], "--against", s["siloed_squeeze"],
         "--runs", "512", "--seed", "7", "--no-charts", "--out", str(tmp / "ens"))
    _cli("report", s["pooled_prevention"], s["pilots_plus"], "--against", s["siloed_squeeze"],
         "--out", str(tmp / "rep"))
    files = {
        "comparison.json": (tmp / "cmp" / "comparison.json").read_bytes(),
        "ensemble.json": (tmp / "ens" / "ensemble.json").read_bytes(),
        "baseline_timeseries.csv.gz": gzip.compress(
            (tmp / "base" / "timeseries.csv").read_bytes(), mtime=0),
        "pooled_prevention_timeseries.csv.gz": gzip.compress(
            (tmp / "cmp" / "pooled_prevention" / "timeseries.csv").read_bytes(), mtime=0),
        "report.txt": report_text((tmp / "rep" / "report.html").read_text()).encode(),
    }
    return {name: data if name.endswith(".gz") else _portable(data) for name, data in files.items()}


def _close(a: float, b: float) -> bool:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    return abs(a - b) <= RTOL * max(abs(a), abs(b))


def _same_json(a, b, path: str, diffs: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                diffs.append(f"{path}.{key}: only in {'new' if key in a else 'golden'}")
            else:
                _same_json(a[key], b[key], f"{path}.{key}", diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: {len(a)} items, golden {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _same_json(x, y, f"{path}[{i}]", diffs)
    elif (isinstance(a, (int, float)) and isinstance(b, (int, float))
          and not isinstance(a, bool) and not isinstance(b, bool)):
        if not _close(float(a), float(b)):
            diffs.append(f"{path}: {a!r}, golden {b!r}")
    elif a != b:
        diffs.append(f"{path}: {a!r}, golden {b!r}")


def _same_csv(a: str, b: str, diffs: list[str]) -> None:
    rows_a, rows_b = a.splitlines(), b.splitlines()
    if rows_a[0] != rows_b[0]:
        diffs.append("header differs: " + str(set(rows_a[0].split(",")) ^ set(rows_b[0].split(","))))
        return
    names = rows_a[0].split(",")
    if len(rows_a) != len(rows_b):
        diffs.append(f"{len(rows_a)} rows, golden {len(rows_b)}")
    for r, (x, y) in enumerate(zip(rows_a[1:], rows_b[1:]), start=1):
        for name, u, v in zip(names, x.split(","), y.split(",")):
            if u != v and not _close(float(u), float(v)):
                diffs.append(f"row {r} {name}: {u}, golden {v}")


def compare_file(name: str, new: bytes, golden: bytes) -> list[str]:
    diffs: list[str] = []
    if name.endswith(".json"):
        _same_json(json.loads(new), json.loads(golden), name, diffs)
        ignore = {"tpsim_version", "seconds", "runs_per_second"}  # timings vary by machine
        diffs = [d for d in diffs if d.split(":")[0].rsplit(".", 1)[-1] not in ignore]
    elif name.endswith(".csv.gz"):
        _same_csv(gzip.decompress(new).decode(), gzip.decompress(golden).decode(), diffs)
    else:
        new_lines, old_lines = new.decode().splitlines(), golden.decode().splitlines()
        import difflib
        diffs = [line for line in difflib.unified_diff(old_lines, new_lines, "golden", "new",
                                                       lineterm="", n=0)]
    return diffs
