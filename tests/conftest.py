"""Shared test fixtures."""

from __future__ import annotations

import pytest


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


@pytest.fixture
def tiny_scenario_dict() -> dict:
    """A fresh copy of :func:`make_tiny_scenario_dict` for each test."""
    return make_tiny_scenario_dict()
