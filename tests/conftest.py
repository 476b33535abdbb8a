"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest

# The suite runs the generic kernel, compiled once for every model: the generated kernel
# compiles anew for each model structure (15-60 s each on 2 cores, dozens of structures in the
# tests). tests/test_codegen.py holds the generated kernel equal to the generic one on every
# shipped and mechanism scenario, and tests/test_golden.py runs the shipped scenarios on the
# generated kernel, as users do.
os.environ.setdefault("TPSIM_KERNEL", "generic")

GENERATED_KERNEL = "generated_kernel"
"""xdist group of the tests that compile generated kernels (test_codegen, test_golden and the
first-compile CLI test): they share two model structures, so under ``--dist loadgroup`` one
worker compiles each once instead of two workers compiling it at the same time."""


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run the tests of one group on one "
                                       "pytest-xdist worker (with --dist loadgroup)")
    config.addinivalue_line("markers", "timing: holds a wall-clock bound, so the README's test "
                                       "command runs it after the parallel pass, alone on the "
                                       "machine's cores")


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup``, a test that uses a module-scoped fixture joins its module's
    group, so the fixture (often a whole compare or ensemble) is built on one worker only,
    not once on each worker that draws one of the module's tests."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(fd.scope in ("module", "class") for fds in defs for fd in fds):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session", autouse=True)
def generic_kernel_compiled_once(tmp_path_factory):
    """Under pytest-xdist, each worker runs the generic kernel once before its first test, one
    worker at a time (a lock file in the session's shared temporary folder): the first compiles
    it into the numba cache, the next loads it from there. Two processes compiling the same
    function at once would write the same cache files at once and both pay the compile; the
    subprocesses the tests start load the cached kernel too."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        yield   # one process: the kernel compiles where it is first needed
        return
    import fcntl

    from tpsim.models.simulate import simulate
    from tpsim.models.structure import compile_scenario

    lock = tmp_path_factory.getbasetemp().parent / "generic_kernel.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            simulate(compile_scenario(tiny_scenario()), kernel_choice="generic")
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    yield


def make_tiny_scenario_dict() -> dict:
    """A small, valid, roughly realistic scenario as a plain dict (a fresh copy on every call).

    One council agency; one cohort of older people in three need states; one preventive service
    (falls prevention, eligible: at_risk) and one reactive service (residential care, used by
    high_need). Figures are illustrative round numbers of the right magnitude for a place of
    ~10,000 older people, not evidence. At month 0 the council spends about
    300 x £40 + 200 x 0.3 x £3,000 = £192,000 a month against a budget of £200,000.
    """
    return {
        "name": "tiny",
        "title": "Tiny test place",
        "description": "One council, one cohort, one preventive and one reactive service.",
        "price_year": "2024-25",
        "sources": {"illustrative": "Round illustrative figures for tests; not evidence."},
        "time": {"start": "2026-04", "horizon": 24, "dt": 0.25, "method": "euler"},
        "agencies": {
            "council_asc": {
                "label": "Council adult social care",
                "type": "council",
                "budget": 200_000.0,  # £ per month
                "budget_growth": 0.0,  # fraction per year
                "reserves": 500_000.0,  # £
                "overhead": 0.05,  # fraction of service spend
                "perception_delay": 6.0,  # months
                "cut_rate": 0.05,  # per month per unit of pressure above 1
                "restore_rate": 0.02,  # per month
                "funding_floor": 0.2,
            },
        },
        "cohorts": {
            "older_people": {
                "label": "Older people (65+)",
                "inflow_growth": 0.01,  # fraction per year
                "states": {  # low to high need; rates per person-month
                    "independent": {"initial": 9000.0, "inflow": 60.0, "escalation": 0.004,
                                    "exit": 0.002, "utility": 0.85},
                    "at_risk": {"initial": 800.0, "escalation": 0.02, "recovery": 0.01,
                                "exit": 0.004, "utility": 0.7},
                    "high_need": {"initial": 200.0, "recovery": 0.005, "exit": 0.015,
                                  "utility": 0.5},
                },
            },
        },
        "services": {
            "falls_prevention": {
                "label": "Community falls prevention",
                "agency": "council_asc",
                "cohort": "older_people",
                "kind": "preventive",
                "unit_cost": 40.0,  # £ per place per month
                "states": ["at_risk"],
                "places": 300.0,
                "uptake": 0.8,
                "effect": 0.2,
                "time_to_effect": 6.0,  # months
                "delay_order": 3,
            },
            "residential_care": {
                "label": "Residential care",
                "agency": "council_asc",
                "cohort": "older_people",
                "kind": "reactive",
                "unit_cost": 3000.0,  # £ per event
                "utilisation": {"high_need": 0.3},  # events per person-month
                "fixed_share": 0.3,
                "decommission_delay": 12.0,  # months
            },
        },
    }


def tiny_scenario(**changes):
    """The tiny scenario as a validated Scenario, with values set at dotted key paths.

    A key is a path through the scenario's mapping, its parts joined by "." or "__" (so that
    ``tiny_scenario(services__falls_prevention__places=450.0)`` and
    ``tiny_scenario(**{"services.falls_prevention.places": 450.0})`` say the same).
    """
    from tpsim.config.scenario import scenario_from_dict

    d = make_tiny_scenario_dict()
    for path, value in changes.items():
        node = d
        *head, last = path.replace("__", ".").split(".")
        for key in head:
            node = node[key]
        node[last] = value
    return scenario_from_dict(d)


@pytest.fixture
def tiny_scenario_dict() -> dict:
    """A fresh copy of :func:`make_tiny_scenario_dict` for each test."""
    return make_tiny_scenario_dict()


def make_rich_scenario_dict() -> dict:
    """The tiny scenario with every part of the model switched on (a fresh copy on every call).

    Adds an NHS agency with a capacity-limited reactive service, a second preventive service,
    a second cohort (three states, its own inflow growth, a preventive and a capacity-limited
    reactive service), efficiency targets with quality erosion, and a pool opening at month 6
    with contributions, a pooled service with community places, captured savings, set-up and
    double-running costs and an overhead reduction. Budgets are below spend, so the doom loop
    cuts the unpooled service.
    """
    d = make_tiny_scenario_dict()
    d["name"] = "rich"
    council = d["agencies"]["council_asc"]
    council.update(budget=180_000.0, cut_rate=0.3, efficiency_target=0.04, quality_erosion=2.0)
    d["agencies"]["nhs_acute"] = {"type": "nhs", "budget": 90_000.0, "perception_delay": 3.0,
                                  "overhead": 0.08, "efficiency_target": 0.02,
                                  "quality_erosion": 1.0, "cut_rate": 0.2,
                                  "restore_rate": 0.05, "funding_floor": 0.4}
    older = d["cohorts"]["older_people"]["states"]
    older["high_need"].update(initial=400.0, exit=0.06)
    d["cohorts"]["adults"] = {"inflow_growth": 0.05, "states": {
        "stable": {"initial": 3000.0, "inflow": 20.0, "escalation": 0.01, "exit": 0.003},
        "complex": {"initial": 400.0, "inflow": 2.0, "escalation": 0.05, "recovery": 0.02,
                    "exit": 0.01},
        "crisis": {"initial": 50.0, "recovery": 0.1, "exit": 0.05}}}
    services = d["services"]
    services["residential_care"].update(utilisation={"high_need": 0.15}, capacity=55.0,
                                        queue_clear_time=2.0, deterioration=0.5)
    services["falls_prevention"]["community"] = {"places": 50.0, "unit_cost": 10.0,
                                                 "ramp_time": 6.0}
    services["emergency_admissions"] = {
        "agency": "nhs_acute", "cohort": "older_people", "kind": "reactive", "unit_cost": 2000.0,
        "utilisation": {"at_risk": 0.02, "high_need": 0.1}, "fixed_share": 0.5,
        "decommission_delay": 6.0, "capacity": 40.0, "deterioration": 0.3}
    services["reablement"] = {
        "agency": "council_asc", "cohort": "older_people", "kind": "preventive",
        "unit_cost": 150.0, "states": ["high_need"], "places": 50.0, "uptake": 0.5,
        "effect": 0.3, "time_to_effect": 4.0, "delay_order": 2}
    services["drug_treatment"] = {
        "agency": "nhs_acute", "cohort": "adults", "kind": "preventive", "unit_cost": 250.0,
        "states": ["stable", "complex"], "places": 100.0, "effect": 0.4, "time_to_effect": 2.0,
        "delay_order": 1}
    services["crisis_team"] = {
        "agency": "council_asc", "cohort": "adults", "kind": "reactive", "unit_cost": 500.0,
        "utilisation": {"complex": 0.05, "crisis": 0.5}, "capacity": 30.0, "deterioration": 0.5}
    d["pool"] = {
        "enabled": True, "start": 6, "contributions": {"council_asc": 0.02, "nhs_acute": 0.03},
        "services": {"falls_prevention": 0.6, "drug_treatment": 0.2}, "capture_share": 0.5,
        "reinvestment_delay": 6.0, "baseline_growth": 0.02, "adjust_time": 3.0,
        "spend_down_time": 12.0, "setup_cost": 60_000.0, "setup_months": 6.0,
        "double_running": {"cost": 3000.0, "months": 9.0},
        "overhead_reduction": 0.5, "overhead_ramp": 12.0}
    return d


@pytest.fixture(scope="session")
def rich_scenario():
    """A factory: ``rich_scenario()`` returns a fresh :func:`make_rich_scenario_dict`."""
    return make_rich_scenario_dict
