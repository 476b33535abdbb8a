"""End-to-end tests of ``tpsim compare`` through the command line, as an analyst types it."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tpsim.analysis.appraisal import ROW_METRICS
from tpsim.cli import main
from tpsim.analysis.discounting import monthly_factors
from tpsim.output import read_timeseries_csv

from test_appraisal import pooled_dict, two_agency_dict

DOCS = Path(__file__).parents[1] / "docs" / "appraisal.md"


def _write(folder: Path, data: dict) -> Path:
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _compare(*args: str):
    return CliRunner().invoke(main, ["compare", *args], catch_exceptions=False)


@pytest.fixture
def place(tmp_path):
    """Scenario files: the counterfactual, more council prevention, and a pool with appraisal
    settings of its own."""
    base = _write(tmp_path, two_agency_dict("base"))
    more = _write(tmp_path, two_agency_dict("more_prevention", places=600.0))
    pooled = pooled_dict("pooled")
    pooled["appraisal"] = {"optimism_bias": 0.41, "value_qalys": True}
    pooled["changes"] = [{"month": 12, "set": {"services.falls_prevention.places": 300.0}}]
    return {"base": base, "more": more, "pooled": _write(tmp_path, pooled), "dir": tmp_path}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _split(ts: dict, agencies: dict) -> dict:
    """Independent re-implementation of the documented split, from timeseries.csv columns."""
    out = {}
    for a, (prev, react) in agencies.items():
        spend, oh = ts[f"spend.agency.{a}"], ts[f"overhead.agency.{a}"]
        transfers = ts[f"contribution.agency.{a}"] + ts[f"capture.agency.{a}"]
        cash = sum((ts[f"spend.service.{r}"] for r in react), np.zeros_like(spend))
        own_prev = spend - oh - transfers - cash if prev else np.zeros_like(spend)
        services = own_prev + cash
        share = np.divide(own_prev, services, out=np.zeros_like(spend), where=services > 0)
        out[a] = (own_prev + transfers + oh * share, cash + oh * (1 - share), own_prev)
    return out


def test_compare_writes_files_and_npv_recomputes_from_timeseries(place):
    out = place["dir"] / "out"
    result = _compare(str(place["more"]), str(place["pooled"]), "--against", str(place["base"]),
                      "--out", str(out))
    assert result.exit_code == 0, result.output
    for name in ("comparison.csv", "comparison.json", "attribution.csv", "base/timeseries.csv",
                 "more_prevention/timeseries.csv", "pooled/timeseries.csv"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["runs"]["kernel_calls"] == 1  # scenarios, counterfactual and removals together
    cf = read_timeseries_csv(out / "base" / "timeseries.csv")
    agencies = {"council": (True, []), "nhs": (False, ["admissions"])}
    for name in ("more_prevention", "pooled"):
        sc = doc["scenarios"][name]
        for key in ("npv", "bcr", "payback_month", "discount_rate"):
            assert key in sc
        ts = read_timeseries_csv(out / sc["timeseries"])
        df = monthly_factors(len(ts["month"]), sc["discount_rate"])
        s_split, c_split = _split(ts, agencies), _split(cf, agencies)
        npv = 0.0
        # optimism bias on the council's places above the counterfactual's 200 only
        places = np.where(np.arange(len(df)) >= 12, 300.0, 200.0) if name == "pooled" \
            else np.full(len(df), 600.0)
        new_share = np.maximum(places - 200.0, 0.0) / places
        for a in agencies:
            costs = s_split[a][0] - c_split[a][0]
            savings = -(s_split[a][1] - c_split[a][1])
            own_prev = s_split[a][2]
            base = np.minimum(np.maximum(own_prev - c_split[a][2], 0.0), new_share * own_prev)
            uplifted = costs + sc["optimism_bias"] * base
            npv += np.sum(df * (savings - uplifted))
            assert sc["agencies"][a]["npv_horizon"] == pytest.approx(np.sum(df * (savings - uplifted)),
                                                                     rel=1e-9, abs=1e-6)
        retained = np.diff(ts["pool.balance"], prepend=0.0) - np.diff(cf["pool.balance"], prepend=0.0)
        # and on the pool's programme spending net of the recycled captured savings
        programme = (ts["pool.spend"] - ts["pool.reinvested"]) - (cf["pool.spend"] - cf["pool.reinvested"])
        npv += np.sum(df * (retained - sc["optimism_bias"] * np.maximum(programme, 0.0)))
        assert sc["npv"] == pytest.approx(npv, rel=1e-9, abs=1e-6)
        # cross-check without the split: no uplift -> discounted fall in total public spend
        no_ob = np.sum(df * -(ts["spend.total"] - cf["spend.total"]))
        pv = sc["total"]
        assert pv["pv_cashable_savings_horizon"] - pv["pv_costs_horizon"] == pytest.approx(no_ob, rel=1e-9)
    # settings from each scenario's appraisal section
    assert doc["scenarios"]["pooled"]["optimism_bias"] == 0.41
    pooled = doc["scenarios"]["pooled"]  # value_qalys: the economic NPV includes the QALY value
    assert pooled["total"]["pv_qaly_value_horizon"] == pytest.approx(
        pooled["qaly_value"] * pooled["outcomes"]["total"]["pv_qalys_gained_horizon"])
    assert pooled["economic_npv"] == pytest.approx(  # no transfers in this place
        pooled["npv"] + pooled["total"]["pv_non_cashable_savings_horizon"])
    assert pooled["npsv"] == pytest.approx(
        pooled["economic_npv"] + pooled["total"]["pv_qaly_value_horizon"])
    assert doc["scenarios"]["more_prevention"]["optimism_bias"] == 0.0
    # the CSV carries the same figures
    rows = {(r["scenario"], r["row"]): r for r in _rows(out / "comparison.csv")}
    assert float(rows[("pooled", "total")]["npv_horizon"]) == pytest.approx(doc["scenarios"]["pooled"]["npv"])
    assert set(rows) == {(s, r) for s in ("more_prevention", "pooled") for r in ("council", "nhs", "pool", "total")}
    # the printed table
    assert "fiscal NPV" in result.output and "who pays / who gains" in result.output
    assert "Parliament (36 months)" in result.output and "shorter than a Parliament" in result.output


def test_attribution_rows_plus_remainder_equal_total(place):
    out = place["dir"] / "out"
    assert _compare(str(place["pooled"]), "--against", str(place["base"]), "--out", str(out)).exit_code == 0
    doc = json.loads((out / "comparison.json").read_text())
    for block in doc["scenarios"]["pooled"]["attribution"].values():
        assert block["investing_agencies"] == ["council", "nhs"]
        for b in ("council", "nhs"):
            rows = sum(block["matrix"][a][b] for a in block["investing_agencies"])
            assert rows + block["remainder"][b] == pytest.approx(block["total"][b], rel=1e-12, abs=1e-6)
    table = _rows(out / "attribution.csv")
    for measure in ("cashable", "economic"):
        mine = [r for r in table if r["measure"] == measure]
        total = next(r for r in mine if r["investing_agency"] == "total")
        for b in ("council", "nhs"):
            assert sum(float(r[f"savings.{b}"]) for r in mine if r["investing_agency"] != "total") == \
                pytest.approx(float(total[f"savings.{b}"]), rel=1e-12, abs=1e-6)


def test_wrong_pocket_share_is_one_when_only_a_invests_and_only_b_saves(place):
    out = place["dir"] / "out"
    assert _compare(str(place["more"]), "--against", str(place["base"]), "--out", str(out)).exit_code == 0
    sc = json.loads((out / "comparison.json").read_text())["scenarios"]["more_prevention"]
    for block in sc["attribution"].values():
        assert block["investing_agencies"] == ["council"]
        assert block["wrong_pocket_share"]["council"] == 1.0
    assert sc["agencies"]["council"]["cashable_savings_horizon"] == 0.0
    assert sc["agencies"]["nhs"]["costs_horizon"] == 0.0
    assert sc["agencies"]["nhs"]["cashable_savings_horizon"] > 0


def test_scenario_compared_with_itself_gives_zeros_everywhere(place):
    out = place["dir"] / "out"
    result = _compare(str(place["pooled"]), "--against", str(place["pooled"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    for row in _rows(out / "comparison.csv"):
        for key in ROW_METRICS:
            if key in ("bcr", "economic_bcr", "social_bcr"):
                assert row[key] == ""  # no extra cost: no ratio
            elif key == "payback_month":
                assert row[key] in ("0", "")  # never a net outlay ("" for the pool row)
            elif key != "pays_back_in_parliament":
                assert float(row[key]) == 0.0, (row["row"], key)
    sc = json.loads((out / "comparison.json").read_text())["scenarios"]["pooled"]
    assert sc["npv"] == 0.0 and sc["bcr"] is None and sc["payback_month"] == 0
    assert all(v == 0.0 for v in sc["outcomes"]["total"].values())
    for block in sc["attribution"].values():
        assert block["investing_agencies"] == [] and all(v == 0.0 for v in block["total"].values())


def test_horizon_and_optimism_bias_options(place):
    out = place["dir"] / "out"
    result = _compare(str(place["pooled"]), "--against", str(place["base"]), "--out", str(out),
                      "--horizon", "72", "--optimism-bias", "0.24")
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["settings"]["horizon_months"] == 72 and doc["settings"]["parliament_months"] == 60
    sc = doc["scenarios"]["pooled"]
    assert sc["optimism_bias"] == 0.24 and sc["optimism_bias_source"] == "command line"
    assert len(read_timeseries_csv(out / "pooled" / "timeseries.csv")["month"]) == 72
    assert "shorter than a Parliament" not in result.output


@pytest.mark.parametrize("problem", ["extra_agency", "same_name", "missing_file", "horizon"])
def test_user_errors_exit_2_with_one_line_and_write_nothing(place, problem):
    out = place["dir"] / "out"
    args = [str(place["more"]), "--against", str(place["base"])]
    if problem == "extra_agency":
        d = two_agency_dict("with_police")
        d["agencies"]["police"] = {"type": "police", "budget": 1000.0}
        args[0] = str(_write(place["dir"], d))
    elif problem == "same_name":
        d = two_agency_dict("base", places=400.0)
        (place["dir"] / "other").mkdir()
        args[0] = str(_write(place["dir"] / "other", d))
    elif problem == "missing_file":
        args[0] = str(place["dir"] / "nope.yaml")
    else:
        d = two_agency_dict("long")
        d["time"]["horizon"] = 48
        args[0] = str(_write(place["dir"], d))
    result = _compare(*args, "--out", str(out))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert not out.exists()
    if problem == "horizon":  # the library names the setting; the command adds its option
        assert "time.horizon" in lines[0] and lines[0].endswith("(use --horizon)"), lines[0]


def test_library_errors_name_parameters_not_options(place):
    from tpsim.analysis.comparison import check_comparable
    from tpsim.config.scenario import load_scenario
    from tpsim.errors import TpsimError

    d = two_agency_dict("long")
    d["time"]["horizon"] = 48
    long = load_scenario(_write(place["dir"], d))
    with pytest.raises(TpsimError) as err:
        check_comparable(long, load_scenario(place["base"]))
    assert err.value.key == "time.horizon" and "--" not in str(err.value)


def test_every_output_key_is_documented(place):
    out = place["dir"] / "out"
    assert _compare(str(place["pooled"]), "--against", str(place["base"]), "--out", str(out)).exit_code == 0
    docs = DOCS.read_text()
    documented = set(re.findall(r"`([a-z0-9_]+)`", docs))
    doc = json.loads((out / "comparison.json").read_text())
    sc = doc["scenarios"]["pooled"]
    keys = set(doc) | set(doc["settings"]) | set(sc) | set(sc["pool"]) | set(sc["outcomes"]["total"])
    keys |= set(sc["attribution"]["cashable"]) | set(sc["reconciliation"]) | set(doc["runs"])
    keys |= set(doc["counterfactual"]) | set(doc["units"])
    for path in ("comparison.csv", "attribution.csv"):
        with open(out / path, newline="") as fh:
            keys |= {k for k in next(csv.reader(fh)) if not k.startswith("savings.")}
    missing = sorted(k for k in keys if k not in documented)
    assert not missing, f"not in docs/appraisal.md: {missing}"
