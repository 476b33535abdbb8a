"""tpsim explore: the sliders, the views against ``tpsim compare`` on the saved files, the
HTTP API (sessions apart, refusals as messages), a short load test and Ctrl-C."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tpsim
from tpsim.config.scenario import load_scenario
from tpsim.explore.controls import SettingsError, check_changes
from tpsim.explore.engine import Explorer
from tpsim.explore.loadtest import run_load
from tpsim.explore.server import make_server

ROOT = Path(__file__).resolve().parents[1]
SC = ROOT / "scenarios"
OPTION = "pooled_prevention_uncertain"

#: Settings that move a lever of each kind, a both-arm assumption and an appraisal slider.
SETTINGS = {"places.falls_prevention": 1500.0, "contribution.nhs_acute": 0.04,
            "capture_share": 0.35, "squeeze_depth": 0.01, "effect.reablement": 0.6,
            "unit_cost.care_home_placements": 6000.0, "optimism_bias": 0.2,
            "qaly_value": 60000.0}


@pytest.fixture(scope="module")
def explorer():
    ex = Explorer([load_scenario(SC / f"{OPTION}.yaml"), load_scenario(SC / "pilots_plus.yaml")],
                  load_scenario(SC / "siloed_squeeze.yaml"))
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def server(explorer):
    srv = make_server(explorer, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _call(srv, method: str, path: str, body: dict | None = None):
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request(method, path, None if body is None else json.dumps(body),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    kind = r.getheader("Content-Type", "")
    return r.status, (json.loads(data) if kind.startswith("application/json") else data), r


def _save(explorer, settings, folder: Path, option: str = OPTION) -> tuple[Path, Path]:
    opt_name, cf_name = explorer.saved_names(option)
    a, b = folder / f"{opt_name}.yaml", folder / f"{cf_name}.yaml"
    a.write_text(explorer.scenario_yaml(option, settings, "option"), encoding="utf-8")
    b.write_text(explorer.scenario_yaml(option, settings, "counterfactual"), encoding="utf-8")
    return a, b


# -- sliders ----------------------------------------------------------------------------------


def test_controls_have_units_sources_and_ranges_that_hold_their_defaults(explorer):
    controls = explorer.controls[OPTION]
    kinds = {c.id.split(".")[0] for c in controls.values()}
    assert {"places", "contribution", "pool_share", "capture_share", "squeeze_depth", "effect",
            "unit_cost", "optimism_bias", "qaly_value"} <= kinds
    for c in controls.values():
        assert c.low <= c.default <= c.high and c.step > 0, c
        assert c.unit and c.source and c.label, c
    falls = controls["places.falls_prevention"]
    assert falls.default == 600.0 and "participants a year" in falls.source
    assert controls["qaly_value"].default == 70000.0
    # the squeeze moves every local budget in both arms; DWP's demand-led benefits are not
    squeeze = controls["squeeze_depth"]
    assert squeeze.arms == "both" and "agencies.dwp.budget_growth" not in squeeze.paths


def test_check_changes_refuses_unknown_ids_and_non_numbers(explorer):
    controls = explorer.controls[OPTION]
    assert check_changes(controls, {"capture_share": 1}) == {"capture_share": 1.0}
    for bad, words in [({"nope": 1.0}, "unknown slider"), ({"capture_share": "x"}, "a number"),
                       ({"capture_share": True}, "a number"),
                       ({"capture_share": float("nan")}, "finite"), ([1], "object")]:
        with pytest.raises(SettingsError, match=words):
            check_changes(controls, bad)


def test_a_value_the_validator_refuses_names_the_slider(explorer):
    with pytest.raises(SettingsError) as err:
        explorer.view(OPTION, {"places.falls_prevention": -5.0})
    assert err.value.control == "places.falls_prevention"
    assert str(err.value).startswith("Community strength-and-balance falls prevention: must be >= 0")
    with pytest.raises(SettingsError, match="shares must sum to at most 1") as err:
        explorer.view(OPTION, {"pool_share.falls_prevention": 0.95})
    assert err.value.control.startswith("pool_share.")
    with pytest.raises(SettingsError, match="upper bound"):
        explorer.view(OPTION, {"optimism_bias": 0.5})


# -- the view is tpsim compare's --------------------------------------------------------------


def test_default_view_is_compare_of_the_files(explorer):
    view = explorer.view(OPTION, {})
    option = tpsim.compare(SC / f"{OPTION}.yaml", against=SC / "siloed_squeeze.yaml")[OPTION]
    assert view["headline"]["npsv"] == option.npsv
    assert view["headline"]["fiscal_npv"] == option.fiscal_npv
    assert {a["id"]: a["fiscal_npv"] for a in view["agencies"]} == option.fiscal_npv_by_agency


def test_saved_files_reproduce_the_view_exactly(explorer, tmp_path):
    view = explorer.view(OPTION, SETTINGS)
    a, b = _save(explorer, SETTINGS, tmp_path)
    comparison = tpsim.compare(a, against=b)
    option = comparison[f"{OPTION}_explored"]
    h = view["headline"]
    assert h["npsv"] == option.npsv and h["npsv_parliament"] == option.npsv_parliament
    assert h["economic_npv"] == option.economic_npv and h["fiscal_npv"] == option.fiscal_npv
    assert h["payback_month"] == option.payback_month
    assert {a["id"]: a["fiscal_npv"] for a in view["agencies"]} == option.fiscal_npv_by_agency
    assert {s["council"]: {"month": s["month"], "counterfactual_month": s["counterfactual_month"]}
            for s in view["section_114"]} == option.section_114
    # the settings moved the figures (else the check above proves little)
    assert abs(h["npsv"] - explorer.view(OPTION, {})["headline"]["npsv"]) > 1e6
    # the J-curve ends at the NPSV (charts are rounded to 6 significant figures)
    assert view["jcurve"]["npsv"][-1] == pytest.approx(option.npsv, rel=1e-5)


def test_saved_file_reads_back_to_the_settings_and_marks_them(explorer, tmp_path):
    a, b = _save(explorer, SETTINGS, tmp_path)
    text = a.read_text(encoding="utf-8")
    assert "services.falls_prevention.places" not in text  # a nested file, not overrides
    assert text.count("set in tpsim explore") >= 8
    saved, saved_cf = load_scenario(a), load_scenario(b)
    resolved = explorer.resolve(OPTION, SETTINGS)
    expected = resolved.option.as_dict()
    expected["name"] = saved.name
    assert saved.data == expected
    assert saved.data["services"]["falls_prevention"]["places"] == 1500.0
    assert saved.data["appraisal"]["optimism_bias"] == 0.2
    assert saved_cf.data["services"]["reablement"]["effect"] == 0.6
    assert saved_cf.data["agencies"]["police"]["budget_growth"] == pytest.approx(-0.02)
    assert saved_cf.data["pool"]["enabled"] is False  # the option's levers stay in the option


def test_an_appraisal_slider_simulates_nothing(explorer):
    explorer.view(OPTION, {"places.reablement": 300.0})
    runs = explorer.batcher.runs
    a = explorer.view(OPTION, {"places.reablement": 300.0, "qaly_value": 30000.0})
    b = explorer.view(OPTION, {"places.reablement": 300.0, "qaly_value": 90000.0})
    assert explorer.batcher.runs == runs
    assert a["headline"]["fiscal_npv"] == b["headline"]["fiscal_npv"]
    assert b["headline"]["npsv"] > a["headline"]["npsv"]


def test_uncertainty_band_brackets_the_central_difference(explorer):
    u = explorer.uncertainty(OPTION, {"places.falls_prevention": 1200.0}, runs=128)
    assert u["runs"] == 128 and u["parameters"]
    band = u["bands"]["population.older_people.crisis"]
    assert len(band["p5"]) == len(band["p95"]) == 120
    assert all(lo <= hi for lo, hi in zip(band["p5"], band["p95"]))
    assert u["fiscal_npv"]["p5"] <= u["fiscal_npv"]["p50"] <= u["fiscal_npv"]["p95"]


# -- the HTTP API -----------------------------------------------------------------------------


def test_api_sessions_keep_their_own_settings(server):
    status, one, _ = _call(server, "POST", "/api/session", {})
    _, two, _ = _call(server, "POST", "/api/session", {})
    assert status == 200 and one["session"] != two["session"]
    _, a, _ = _call(server, "POST", "/api/update",
                    {"session": one["session"], "changes": {"places.early_help": 1200.0}})
    _, b, _ = _call(server, "POST", "/api/update",
                    {"session": two["session"], "changes": {"capture_share": 0.1}})
    assert a["settings"] == {"places.early_help": 1200.0}
    assert b["settings"] == {"capture_share": 0.1}
    _, a2, _ = _call(server, "GET", f"/api/view?session={one['session']}")
    assert a2["settings"] == {"places.early_help": 1200.0}
    assert a2["view"]["headline"] == a["view"]["headline"]


def test_api_refusals_are_messages_not_tracebacks(server):
    _, s, _ = _call(server, "POST", "/api/session", {})
    status, err, _ = _call(server, "POST", "/api/update",
                           {"session": s["session"], "changes": {"places.falls_prevention": -1}})
    assert status == 400 and err["control"] == "places.falls_prevention"
    assert "must be >= 0" in err["error"] and "Traceback" not in err["error"]
    _, view, _ = _call(server, "GET", f"/api/view?session={s['session']}")
    assert view["settings"] == {}  # a refused change leaves the settings as they were
    status, err, _ = _call(server, "POST", "/api/update", {"session": "nope", "changes": {}})
    assert status == 404 and "reload" in err["error"]
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/api/update", b"{not json", {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 400 and "not JSON" in json.loads(r.read())["error"]
    conn.close()
    status, err, _ = _call(server, "GET", "/static/../../etc/passwd")
    assert status == 404


def test_api_serves_the_page_and_its_files_from_the_package(server):
    status, page, r = _call(server, "GET", "/")
    assert status == 200 and b"/static/explore.js" in page
    assert b"http://" not in page and b"https://" not in page  # nothing from elsewhere
    for name in ("explore.js", "explore.css"):
        status, body, _ = _call(server, "GET", f"/static/{name}")
        assert status == 200 and b"https://" not in body.replace(b"http://www.w3.org/2000/svg", b"")


def test_api_save_and_report_downloads(server, tmp_path):
    _, s, _ = _call(server, "POST", "/api/session", {})
    sid = s["session"]
    _, up, _ = _call(server, "POST", "/api/update",
                     {"session": sid, "changes": {"places.falls_prevention": 900.0}})
    status, text, r = _call(server, "GET", f"/api/save?session={sid}&arm=option")
    assert status == 200 and "attachment" in r.getheader("Content-Disposition")
    (tmp_path / f"{OPTION}_explored.yaml").write_bytes(text)
    _, cf_text, _ = _call(server, "GET", f"/api/save?session={sid}&arm=counterfactual")
    (tmp_path / "siloed_squeeze_explored.yaml").write_bytes(cf_text)
    option = tpsim.compare(tmp_path / f"{OPTION}_explored.yaml",
                           against=tmp_path / "siloed_squeeze_explored.yaml")[f"{OPTION}_explored"]
    assert option.npsv == up["view"]["headline"]["npsv"]
    status, html, r = _call(server, "GET", f"/api/report?session={sid}")
    assert status == 200 and html.startswith(b"<!DOCTYPE html") or html.startswith(b"<!doctype")
    assert b"NPSV" in html and b"tpsim explore" in html


# -- load and stopping ------------------------------------------------------------------------


@pytest.mark.timing
def test_short_load_twenty_sessions(server):
    result = run_load(server.url, sessions=20, seconds=6.0)
    assert not result.errors, result.errors[:3]
    assert result.mixed == 0
    assert len(result.moves) == 20 and min(result.moves.values()) >= 3
    # a shared 2-core machine: the 200 ms target is the benchmark's (benchmarks/
    # explore_load.py); here a bound that still fails if updates serialise badly
    assert result.median_ms < 400, result.summary()
    # and each session's settings on the server are its own
    for sid, mine in result.final.values():
        _, view, _ = _call(server, "GET", f"/api/view?session={sid}")
        assert view["settings"] == mine


def test_loadtest_refuses_other_addresses():
    with pytest.raises(ValueError, match="loopback"):
        run_load("http://10.0.0.1:8050/", sessions=1, seconds=0.1)


def test_explore_command_stops_cleanly_on_ctrl_c(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tpsim.cli", "explore", "--no-browser",
                             "--port", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.time() + 120
        while "http://" not in line and time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "http://127.0.0.1:" in line, proc.stderr.read()
        url = line.split()[3]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/schema")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "explorer stopped" in out and "Traceback" not in err
