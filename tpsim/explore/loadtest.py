"""A bounded load test of a running explorer on loopback: ``sessions`` simulated people, each
opening a session and moving sliders for ``seconds`` (benchmarks/explore_load.py runs 20 for
30 s; tests/test_explore.py a shorter one).

Each simulated person repeats: pick a lever or assumption, move it to a random value on its
step grid within its range, wait for the answer, then pause (``pause`` seconds, drawn
uniformly: the time a person looks before the next move; a drag sends its next move once the
answer is in, as the page does). Every answer is checked: status 200, its settings exactly
the ones this person has set (so no session sees another's), and its view for this person's
option. Only loopback addresses are accepted, and every loop ends by itself at ``seconds``.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    """Latencies (ms) of every slider move, errors (one line each) and per-session counts."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    moves: dict[int, int] = field(default_factory=dict)
    mixed: int = 0          # answers whose settings were not the session's own
    final: dict[int, tuple[str, dict]] = field(default_factory=dict)  # session -> (id, settings)
    seconds: float = 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))]

    def summary(self) -> str:
        n = len(self.latencies_ms)
        return (f"{len(self.moves)} sessions, {n} slider moves in {self.seconds:.1f} s "
                f"({n / max(self.seconds, 1e-9):.1f} a second): median {self.median_ms:.1f} ms, "
                f"p90 {self.percentile_ms(90):.1f} ms, max {max(self.latencies_ms, default=0):.1f}"
                f" ms; {len(self.errors)} errors, {self.mixed} answers with another's settings")


def _loopback(url: str) -> tuple[str, int]:
    u = urlparse(url)
    host = u.hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"the load test runs on loopback only, not {host!r}")
    return host, u.port or 80


def _post(conn: http.client.HTTPConnection, path: str, body: dict) -> tuple[int, dict]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def _person(url: str, k: int, seconds: float, pause: tuple[float, float], seed: int,
            result: LoadResult, lock: threading.Lock, schema: dict) -> None:
    host, port = _loopback(url)
    rng = random.Random(seed * 1000 + k)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    option = schema["options"][k % len(schema["options"])]
    controls = [c for c in option["controls"]
                if c["kind"] != "squeeze" and not c["id"].startswith("pool_share.")]
    status, opened = _post(conn, "/api/session", {"option": option["name"]})
    if status != 200:
        with lock:
            result.errors.append(f"session {k}: open answered {status}: {opened.get('error')}")
        return
    sid, mine, moves = opened["session"], {}, 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        c = rng.choice(controls)
        steps = int(round((c["high"] - c["low"]) / c["step"]))
        value = float(f"{c['low'] + c['step'] * rng.randint(0, steps):.12g}")
        t0 = time.perf_counter()
        try:
            status, answer = _post(conn, "/api/update",
                                   {"session": sid, "changes": {c["id"]: value}})
        except (OSError, http.client.HTTPException, ValueError) as err:
            with lock:
                result.errors.append(f"session {k}: {type(err).__name__}: {err}")
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
            continue
        ms = 1000.0 * (time.perf_counter() - t0)
        if status != 200:
            with lock:
                result.errors.append(f"session {k}: {c['id']}={value} answered {status}: "
                                     f"{answer.get('error')}")
            continue
        mine[c["id"]] = value
        moves += 1
        with lock:
            result.latencies_ms.append(ms)
            if answer["settings"] != mine or answer["session"] != sid or \
                    answer["view"]["option"] != option["name"]:
                result.mixed += 1
        time.sleep(rng.uniform(*pause))
    conn.close()
    with lock:
        result.moves[k] = moves
        result.final[k] = (sid, dict(mine))


def run_load(url: str, sessions: int = 20, seconds: float = 30.0,
             pause: tuple[float, float] = (0.2, 0.8), seed: int = 0) -> LoadResult:
    """Drive the explorer at ``url`` (loopback only) with ``sessions`` people for
    ``seconds``; returns every latency and error (see the module docstring)."""
    host, port = _loopback(url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/schema")
    schema = json.loads(conn.getresponse().read())
    conn.close()
    result, lock = LoadResult(), threading.Lock()
    threads = [threading.Thread(target=_person, args=(url, k, seconds, pause, seed, result,
                                                      lock, schema), daemon=True)
               for k in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60.0)
    result.seconds = time.perf_counter() - t0
    return result
