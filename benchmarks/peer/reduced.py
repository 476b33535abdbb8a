"""
Python model 'reduced.py'
Translated using PySD
"""

from pathlib import Path
import numpy as np

from pysd.py_backend.statefuls import Integ, Smooth
from pysd import Component

__pysd_version__ = "3.14.3"

__data = {"scope": None, "time": lambda: 0}

_root = Path(__file__).parent


component = Component()

#######################################################################
#                          CONTROL VARIABLES                          #
#######################################################################

_control_vars = {
    "initial_time": lambda: 0,
    "final_time": lambda: 60,
    "time_step": lambda: 0.25,
    "saveper": lambda: 1,
}


def _init_outer_references(data):
    for key in data:
        __data[key] = data[key]


@component.add(name="Time")
def time():
    """
    Current time of the model.
    """
    return __data["time"]()


@component.add(
    name="FINAL TIME", units="Month", comp_type="Constant", comp_subtype="Normal"
)
def final_time():
    """
    The final time for the simulation.
    """
    return __data["time"].final_time()


@component.add(
    name="INITIAL TIME", units="Month", comp_type="Constant", comp_subtype="Normal"
)
def initial_time():
    """
    The initial time for the simulation.
    """
    return __data["time"].initial_time()


@component.add(
    name="SAVEPER",
    units="Month",
    limits=(0.0, np.nan),
    comp_type="Constant",
    comp_subtype="Normal",
)
def saveper():
    """
    The frequency with which output is stored.
    """
    return __data["time"].saveper()


@component.add(
    name="TIME STEP",
    units="Month",
    limits=(0.0, np.nan),
    comp_type="Constant",
    comp_subtype="Normal",
)
def time_step():
    """
    The time step for the simulation.
    """
    return __data["time"].time_step()


#######################################################################
#                           MODEL VARIABLES                           #
#######################################################################


@component.add(
    name="independent",
    units="people",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_independent": 1},
    other_deps={
        "_integ_independent": {
            "initial": {},
            "step": {
                "inflow_independent": 1,
                "recovery_at_risk": 1,
                "escalation_independent": 1,
                "exit_independent": 1,
            },
        }
    },
)
def independent():
    return _integ_independent()


_integ_independent = Integ(
    lambda: inflow_independent()
    + recovery_at_risk()
    - escalation_independent()
    - exit_independent(),
    lambda: 34720,
    "_integ_independent",
)


@component.add(
    name="at risk",
    units="people",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_at_risk": 1},
    other_deps={
        "_integ_at_risk": {
            "initial": {},
            "step": {
                "escalation_independent": 1,
                "recovery_crisis": 1,
                "escalation_at_risk": 1,
                "recovery_at_risk": 1,
                "exit_at_risk": 1,
            },
        }
    },
)
def at_risk():
    return _integ_at_risk()


_integ_at_risk = Integ(
    lambda: escalation_independent()
    + recovery_crisis()
    - escalation_at_risk()
    - recovery_at_risk()
    - exit_at_risk(),
    lambda: 16500,
    "_integ_at_risk",
)


@component.add(
    name="crisis",
    units="people",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_crisis": 1},
    other_deps={
        "_integ_crisis": {
            "initial": {},
            "step": {"escalation_at_risk": 1, "recovery_crisis": 1, "exit_crisis": 1},
        }
    },
)
def crisis():
    return _integ_crisis()


_integ_crisis = Integ(
    lambda: escalation_at_risk() - recovery_crisis() - exit_crisis(),
    lambda: 1850,
    "_integ_crisis",
)


@component.add(
    name="inflow independent",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"inflow_base": 1, "inflow_growth": 1, "time": 1},
)
def inflow_independent():
    return inflow_base() * (1 + inflow_growth()) ** (time() / 12)


@component.add(
    name="inflow base",
    units="people/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def inflow_base():
    return 250


@component.add(
    name="inflow growth", units="1/Year", comp_type="Constant", comp_subtype="Normal"
)
def inflow_growth():
    return 0.01


@component.add(
    name="escalation independent",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"escalation_rate_independent": 1, "independent": 1},
)
def escalation_independent():
    return escalation_rate_independent() * independent()


@component.add(
    name="escalation at risk",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"escalation_rate_at_risk": 1, "prevention_multiplier": 1, "at_risk": 1},
)
def escalation_at_risk():
    return escalation_rate_at_risk() * prevention_multiplier() * at_risk()


@component.add(
    name="recovery at risk",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"recovery_rate_at_risk": 1, "at_risk": 1},
)
def recovery_at_risk():
    return recovery_rate_at_risk() * at_risk()


@component.add(
    name="recovery crisis",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"recovery_rate_crisis": 1, "crisis": 1},
)
def recovery_crisis():
    return recovery_rate_crisis() * crisis()


@component.add(
    name="exit independent",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"exit_rate_independent": 1, "independent": 1},
)
def exit_independent():
    return exit_rate_independent() * independent()


@component.add(
    name="exit at risk",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"exit_rate_at_risk": 1, "at_risk": 1},
)
def exit_at_risk():
    return exit_rate_at_risk() * at_risk()


@component.add(
    name="exit crisis",
    units="people/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"exit_rate_crisis": 1, "crisis": 1},
)
def exit_crisis():
    return exit_rate_crisis() * crisis()


@component.add(
    name="escalation rate independent",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def escalation_rate_independent():
    return 0.004


@component.add(
    name="escalation rate at risk",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def escalation_rate_at_risk():
    return 0.01


@component.add(
    name="recovery rate at risk",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def recovery_rate_at_risk():
    return 0.005


@component.add(
    name="recovery rate crisis",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def recovery_rate_crisis():
    return 0.05


@component.add(
    name="exit rate independent",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def exit_rate_independent():
    return 0.003


@component.add(
    name="exit rate at risk",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def exit_rate_at_risk():
    return 0.006


@component.add(
    name="exit rate crisis",
    units="1/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def exit_rate_crisis():
    return 0.03


@component.add(
    name="prevention multiplier",
    units="Dmnl",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"falls_effect": 1, "effective_coverage": 1},
)
def prevention_multiplier():
    return 1 - falls_effect() * effective_coverage()


@component.add(
    name="effective coverage",
    units="Dmnl",
    comp_type="Stateful",
    comp_subtype="Smooth",
    depends_on={"_smooth_effective_coverage": 1},
    other_deps={
        "_smooth_effective_coverage": {
            "initial": {"coverage": 1},
            "step": {"coverage": 1, "time_to_effect": 1},
        }
    },
)
def effective_coverage():
    return _smooth_effective_coverage()


_smooth_effective_coverage = Smooth(
    lambda: coverage(),
    lambda: time_to_effect(),
    lambda: coverage(),
    lambda: 3,
    "_smooth_effective_coverage",
)


@component.add(
    name="coverage",
    units="Dmnl",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"uptake": 1, "falls_places": 1, "at_risk": 1},
)
def coverage():
    return float(np.minimum(uptake(), falls_places() / at_risk()))


@component.add(name="uptake", units="Dmnl", comp_type="Constant", comp_subtype="Normal")
def uptake():
    return 0.65


@component.add(
    name="falls places", units="places", comp_type="Constant", comp_subtype="Normal"
)
def falls_places():
    return 600


@component.add(
    name="falls effect", units="Dmnl", comp_type="Constant", comp_subtype="Normal"
)
def falls_effect():
    return 0.15


@component.add(
    name="time to effect", units="Month", comp_type="Constant", comp_subtype="Normal"
)
def time_to_effect():
    return 6


@component.add(
    name="admissions",
    units="events/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={
        "utilisation_at_risk": 1,
        "at_risk": 1,
        "crisis": 1,
        "utilisation_crisis": 1,
    },
)
def admissions():
    return utilisation_at_risk() * at_risk() + utilisation_crisis() * crisis()


@component.add(
    name="utilisation at risk",
    units="events/(person*Month)",
    comp_type="Constant",
    comp_subtype="Normal",
)
def utilisation_at_risk():
    return 0.015


@component.add(
    name="utilisation crisis",
    units="events/(person*Month)",
    comp_type="Constant",
    comp_subtype="Normal",
)
def utilisation_crisis():
    return 0.15


@component.add(
    name="capacity base",
    units="events/Month",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_capacity_base": 1},
    other_deps={
        "_integ_capacity_base": {
            "initial": {"admissions": 1},
            "step": {"admissions": 1, "capacity_base": 1, "decommission_delay": 1},
        }
    },
)
def capacity_base():
    return _integ_capacity_base()


_integ_capacity_base = Integ(
    lambda: (admissions() - capacity_base()) / decommission_delay(),
    lambda: admissions(),
    "_integ_capacity_base",
)


@component.add(
    name="decommission delay",
    units="Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def decommission_delay():
    return 24


@component.add(
    name="admissions cost",
    units="GBP/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={
        "admission_unit_cost": 1,
        "capacity_base": 1,
        "fixed_share": 2,
        "admissions": 2,
    },
)
def admissions_cost():
    return admission_unit_cost() * (
        (1 - fixed_share()) * admissions()
        + fixed_share() * float(np.maximum(admissions(), capacity_base()))
    )


@component.add(
    name="admission unit cost",
    units="GBP/event",
    comp_type="Constant",
    comp_subtype="Normal",
)
def admission_unit_cost():
    return 2998


@component.add(
    name="fixed share", units="Dmnl", comp_type="Constant", comp_subtype="Normal"
)
def fixed_share():
    return 0.5


@component.add(
    name="falls cost",
    units="GBP/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"falls_unit_cost": 1, "falls_places": 1},
)
def falls_cost():
    return falls_unit_cost() * falls_places()


@component.add(
    name="falls unit cost",
    units="GBP/(place*Month)",
    comp_type="Constant",
    comp_subtype="Normal",
)
def falls_unit_cost():
    return 50


@component.add(
    name="council spend",
    units="GBP/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"falls_cost": 1, "council_overhead": 1},
)
def council_spend():
    return falls_cost() * (1 + council_overhead())


@component.add(
    name="council overhead", units="Dmnl", comp_type="Constant", comp_subtype="Normal"
)
def council_overhead():
    return 0.05


@component.add(
    name="nhs spend",
    units="GBP/Month",
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"admissions_cost": 1, "nhs_overhead": 1},
)
def nhs_spend():
    return admissions_cost() * (1 + nhs_overhead())


@component.add(
    name="nhs overhead", units="Dmnl", comp_type="Constant", comp_subtype="Normal"
)
def nhs_overhead():
    return 0.05


@component.add(
    name="council reserves",
    units="GBP",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_council_reserves": 1},
    other_deps={
        "_integ_council_reserves": {
            "initial": {},
            "step": {"council_budget": 1, "council_spend": 1},
        }
    },
)
def council_reserves():
    return _integ_council_reserves()


_integ_council_reserves = Integ(
    lambda: council_budget() - council_spend(),
    lambda: 1000000.0,
    "_integ_council_reserves",
)


@component.add(
    name="council budget",
    units="GBP/Month",
    comp_type="Constant",
    comp_subtype="Normal",
)
def council_budget():
    return 40000


@component.add(
    name="nhs reserves",
    units="GBP",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_nhs_reserves": 1},
    other_deps={
        "_integ_nhs_reserves": {
            "initial": {},
            "step": {"nhs_budget": 1, "nhs_spend": 1},
        }
    },
)
def nhs_reserves():
    return _integ_nhs_reserves()


_integ_nhs_reserves = Integ(
    lambda: nhs_budget() - nhs_spend(), lambda: 0, "_integ_nhs_reserves"
)


@component.add(
    name="nhs budget", units="GBP/Month", comp_type="Constant", comp_subtype="Normal"
)
def nhs_budget():
    return 1000000.0


@component.add(
    name="cumulative spend",
    units="GBP",
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_cumulative_spend": 1},
    other_deps={
        "_integ_cumulative_spend": {
            "initial": {},
            "step": {"council_spend": 1, "nhs_spend": 1},
        }
    },
)
def cumulative_spend():
    return _integ_cumulative_spend()


_integ_cumulative_spend = Integ(
    lambda: council_spend() + nhs_spend(), lambda: 0, "_integ_cumulative_spend"
)
