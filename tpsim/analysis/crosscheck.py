"""Cross-check the individual-level model against the aggregate model, series by series.

For series ``x`` and month ``m`` the standardised difference is

    z[m] = (mean over replications of x_DES[m] - x_aggregate[m]) / SE[m]

where ``SE`` is the standard error of the replication mean (sample standard deviation over the
``R`` replications divided by sqrt(R), refined as below). If the two models agree, each ``z``
follows approximately a Student t
distribution with ``R - 1`` degrees of freedom. A series *passes* when ``max over months |z|``
is below a threshold that allows for the number of comparisons made in the whole report
(Bonferroni): ``t.ppf(1 - alpha / (2 K), R - 1)`` with ``K`` = tested series x months and
``alpha = 0.05``, so that a report on two models that agree fails with probability at most
``alpha``. The check passes when every tested series passes.

Numerical error of the aggregate run. The aggregate model integrates the equations with a
fixed time step (Euler by default), the individual model in continuous time; away from a steady
state the aggregate's discretisation error (up to about 1% with ``dt = 0.25`` in a scenario
whose stocks change by a few percent a month) is systematic, so with enough replications it
would fail the check although both models are right. When a reference run is given (the same
scenario with RK4 and a quarter of the time step), ``|aggregate - reference|`` estimates that
error ``e`` and the denominator becomes ``sqrt(SE^2 + e^2)``.

Pooled variance. With few replications the standard error of one month is itself uncertain
(ten replications give nine degrees of freedom), and an accidentally small spread in one month
would flag a harmless difference. The replication variance of a series changes smoothly from
month to month, so the variance of each month is pooled with the months either side (three
months, about three times the degrees of freedom; the threshold still uses ``R - 1`` degrees
of freedom, which is conservative).

Small counts. For a series that counts simulated people or events (one simulated unit stands
for ``unit`` people or events in the place) whose aggregate value is below ``SMALL_COUNT``
simulated units, a few replications of a small integer count give an unreliable standard error
(ten replications of 1 or 2 events have a tiny spread). There the standard error used is at
least the Poisson one, ``sqrt(unit x aggregate / R)``.

Money series inherit this floor from the counts they are made of: the floor of
``activity.r`` times the cost per event for ``value.service.r`` and ``spend.service.r``, and the
root sum of squares of those (times one plus the overhead rate, or the overhead rate) for
agency, reactive, overhead and total spend.

Months in which every replication gives the same value (the series is fixed there, e.g. by a
policy path the individual model takes from the aggregate run) and no Poisson floor applies
have no replication error. They are compared with a tolerance instead: relative ``rel_tol``
(month averages versus the aggregate's time steps) and, for counts, ``3 x unit / R`` (the "rule
of three": observing nothing in R replications is consistent with a mean of up to 3 / R
simulated units).

:func:`crosscheck` takes plain arrays and returns a plain dict (written as
``crosscheck.json``); :func:`check_individual` assembles its inputs from the individual-level
results, the aggregate run and (optionally) the reference run of :func:`reference_run`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

DEFAULT_ALPHA = 0.05
DEFAULT_REL_TOL = 1e-3
DEFAULT_POOL_MONTHS = 1
SMALL_COUNT = 50.0
"""Expected simulated units per replication below which a count gets the Poisson floor."""


def threshold(n_tests: int, replications: int, alpha: float = DEFAULT_ALPHA) -> float:
    """The |z| below which a comparison passes: Bonferroni over ``n_tests`` comparisons, each
    two-sided at ``alpha / n_tests``, with Student t on ``replications - 1`` degrees of freedom."""
    from scipy.stats import t as student_t

    if replications < 2:
        raise ValueError("a cross-check needs at least 2 replications")
    return float(student_t.ppf(1.0 - alpha / (2.0 * max(1, n_tests)), replications - 1))


def _pooled(variance: np.ndarray, half_width: int) -> np.ndarray:
    """Mean of ``variance`` over each month and ``half_width`` months either side."""
    if half_width <= 0 or variance.size < 2:
        return variance
    kernel = np.ones(2 * half_width + 1)
    total = np.convolve(variance, kernel, mode="same")
    count = np.convolve(np.ones_like(variance), kernel, mode="same")
    return total / count


def standardised_differences(des: np.ndarray, aggregate: np.ndarray,
                             count_unit: float | None = None,
                             rel_tol: float = DEFAULT_REL_TOL,
                             numerical_error: np.ndarray | None = None,
                             pool_months: int = DEFAULT_POOL_MONTHS,
                             se_floor: np.ndarray | None = None) -> dict:
    """Month-by-month comparison of one series.

    ``des`` is replications x months, ``aggregate`` months; ``count_unit`` is the place-level
    size of one simulated unit for a count series (None otherwise). Returns the DES mean, the
    standard error used, ``z`` (0 where a fixed month is within tolerance, inf where it is
    not) and a mask of the months that have replication (or numerical) error.
    ``numerical_error`` (months) is the estimated discretisation error of the aggregate;
    ``pool_months``: the replication variance of each month is pooled with this many months
    on either side; ``se_floor`` (months): a lower bound on the standard error (the Poisson
    floor of the counts behind a money series).
    """
    des = np.asarray(des, dtype=float)
    aggregate = np.asarray(aggregate, dtype=float)
    R = des.shape[0]
    mean = des.mean(axis=0)
    if R > 1:
        variance = des.var(axis=0, ddof=1)
        se_replications = np.sqrt(variance / R)
        se = np.sqrt(_pooled(variance, pool_months) / R)
    else:
        se_replications = se = np.full(mean.shape, np.nan)
    if count_unit is not None and R > 1:
        small = np.abs(aggregate) < SMALL_COUNT * count_unit
        poisson = np.sqrt(count_unit * np.abs(aggregate) / R)
        se = np.where(small, np.maximum(se, poisson), se)
    if se_floor is not None and R > 1:
        se = np.maximum(se, np.asarray(se_floor, dtype=float))
    if numerical_error is not None:
        se = np.sqrt(se ** 2 + np.asarray(numerical_error, dtype=float) ** 2)
    diff = mean - aggregate
    scale = np.maximum(np.abs(aggregate), np.abs(mean))
    # a month is "fixed" when its spread is at rounding level
    fixed = ~(se > 1e-12 * np.maximum(scale, 1.0))
    allowed = rel_tol * scale + 1e-9
    if count_unit is not None:
        allowed = np.maximum(allowed, 3.0 * count_unit / max(R, 1))
    z = np.zeros_like(mean)
    random = ~fixed
    z[random] = diff[random] / se[random]
    z[fixed] = np.where(np.abs(diff[fixed]) <= allowed[fixed], 0.0, np.inf)
    return {"mean": mean, "se": se_replications, "se_used": se, "diff": diff, "z": z,
            "random": random}


def crosscheck(des: Mapping[str, np.ndarray], aggregate: Mapping[str, np.ndarray],
               count_units: Mapping[str, float] | None = None,
               informational: Mapping[str, str] | None = None,
               exogenous: Iterable[str] = (), alpha: float = DEFAULT_ALPHA,
               rel_tol: float = DEFAULT_REL_TOL,
               numerical_error: Mapping[str, np.ndarray] | None = None,
               se_floors: Mapping[str, np.ndarray] | None = None) -> dict:
    """Compare every series present in both ``des`` (name -> replications x months) and
    ``aggregate`` (name -> months).

    ``count_units``: for series that count simulated people or events, the place-level size of
    one simulated unit. ``informational``: series -> reason, reported but not part of the
    verdict (the models are not expected to agree there). ``exogenous``: series the DES copies
    from the aggregate run (reported, not tested). ``numerical_error``: series -> estimated
    discretisation error of the aggregate per month (see the module docstring).
    ``se_floors``: series -> lower bound on the standard error per month.
    """
    numerical_error = dict(numerical_error or {})
    se_floors = dict(se_floors or {})
    count_units = dict(count_units or {})
    informational = dict(informational or {})
    exogenous = set(exogenous)
    names = [n for n in des if n in aggregate]
    R = int(next(iter(des.values())).shape[0]) if des else 0
    months = int(next(iter(des.values())).shape[1]) if des else 0
    report: dict = {
        "method": ("z = (DES mean - aggregate) / sqrt(SE^2 + e^2), SE the standard error of "
                   "the DES mean over replications (variance pooled over the month and its "
                   "neighbours; at least Poisson for small counts), e the "
                   "aggregate's estimated discretisation error, per series and month; a series "
                   "passes when max |z| < threshold = Student t quantile (R - 1 df) at "
                   "1 - alpha / (2 K), K = tested series x months (Bonferroni); months without "
                   "any error are compared with a tolerance (see docs/individual.md)"),
        "numerical_error_estimated": bool(numerical_error),
        "replications": R, "months": months, "alpha": alpha,
    }
    if R < 2:
        report.update({"pass": None, "threshold": None, "tests": 0,
                       "reason": "a cross-check needs at least 2 replications", "series": {}})
        return report
    tested = [n for n in names if n not in exogenous and n not in informational]
    n_tests = len(tested) * months
    limit = threshold(n_tests, R, alpha)
    series: dict = {}
    for name in names:
        cmp = standardised_differences(des[name], aggregate[name], count_units.get(name), rel_tol,
                                       numerical_error.get(name), se_floor=se_floors.get(name))
        absz = np.abs(cmp["z"])
        k = int(np.argmax(absz)) if absz.size else 0
        role = ("exogenous" if name in exogenous else
                "informational" if name in informational else "tested")
        entry = {
            "role": role,
            "max_abs_z": float(absz[k]) if absz.size else 0.0,
            "month": k + 1,
            "des_mean": float(cmp["mean"][k]),
            "des_se": float(cmp["se"][k]),
            "standard_error_used": float(cmp["se_used"][k]),
            "aggregate": float(np.asarray(aggregate[name], dtype=float)[k]),
            "months_without_replication_error": int((~cmp["random"]).sum()),
            "pass": bool(absz[k] < limit) if absz.size else True,
        }
        if name in informational:
            entry["note"] = informational[name]
        series[name] = entry
    failed = [n for n in tested if not series[n]["pass"]]
    worst = sorted(tested, key=lambda n: -series[n]["max_abs_z"])[:10]
    report.update({
        "pass": not failed, "threshold": limit, "tests": n_tests, "series_tested": len(tested),
        "max_abs_z": max((series[n]["max_abs_z"] for n in tested), default=0.0),
        "failed": failed, "worst": worst, "series": series,
    })
    return report


def summary_line(report: Mapping) -> str:
    """One line for the terminal."""
    if report.get("pass") is None:
        return f"cross-check: not done ({report.get('reason', 'no replication error')})"
    verdict = "PASS" if report["pass"] else "FAIL"
    worst = report["worst"][0] if report["worst"] else "-"
    line = (f"cross-check: {verdict}: max |z| {report['max_abs_z']:.2f} ({worst}) vs threshold "
            f"{report['threshold']:.2f} over {report['series_tested']} series x "
            f"{report['months']} months, {report['replications']} replications")
    if report["failed"]:
        line += f"; failed: {', '.join(report['failed'][:5])}"
        if len(report["failed"]) > 5:
            line += f" and {len(report['failed']) - 5} more"
    return line


# ---------------------------------------------------------------------------------------------
# The individual-level model against the aggregate model
# ---------------------------------------------------------------------------------------------

COUNT_PREFIXES = ("population.", "activity.", "waiting.", "inflow.", "escalations.", "exits.",
                  "crisis_person_months.")
"""Series that count people or events: one simulated person or event is ``weight`` of them."""


def reference_run(scenario):
    """The aggregate run of ``scenario`` with RK4 and a quarter of its time step: the
    reference from which the aggregate's discretisation error is estimated."""
    from tpsim.models import runner

    dt = float(scenario.time.dt) / 4.0
    return runner.run(scenario.replace(dt=dt, method="rk4"))


def check_individual(results, aggregate, reference=None, alpha: float = DEFAULT_ALPHA) -> dict:
    """Cross-check :class:`tpsim.models.individual.IndividualResults` against the aggregate
    :class:`tpsim.models.results.Results` of the same scenario (``reference``: see
    :func:`reference_run`; optional).

    Waiting lists of capacity-limited services are informational (stochastic queues form below
    capacity, the fluid waiting list does not); series the DES copies from the aggregate run
    (preventive spend, and coverage unless it is found from the simulated people) are
    exogenous.
    """
    w = results.plan.weight
    count_units = {n: w for n in results.series if n.startswith(COUNT_PREFIXES)}
    informational = {
        f"waiting.{r}": ("a capacity-limited service: stochastic queues form below capacity, "
                         "the aggregate (fluid) waiting list does not")
        for r in results.spend.queued_names}
    exogenous = [f"spend.service.{v}" for v in results.spend.preventive] + ["spend.kind.preventive"]
    if results.plan.coverage_mode == "aggregate":
        exogenous += [f"coverage.{v}" for v in results.spend.preventive]
    names = [n for n in results.series if n in aggregate.series]
    agg = {n: aggregate[n][0] for n in names}
    numerical = None
    if reference is not None:
        numerical = {n: np.abs(aggregate[n][0] - reference[n][0]) for n in names}
    return crosscheck(results.series, agg, count_units=count_units, informational=informational,
                      exogenous=exogenous, alpha=alpha, numerical_error=numerical,
                      se_floors=_money_floors(results, aggregate))


def _money_floors(results, aggregate) -> dict:
    """Poisson floors of money series, propagated from the reactive activity they cost."""
    w, R, sp = results.plan.weight, results.replications, results.spend
    if R < 2:
        return {}
    floors: dict = {}
    service_floor = {}
    for r_i, r in enumerate(sp.reactive):
        activity = np.abs(aggregate[f"activity.{r}"][0])
        poisson = np.where(activity < SMALL_COUNT * w, np.sqrt(w * activity / R), 0.0)
        cash = np.abs(aggregate[f"spend.service.{r}"][0])
        per_event = np.divide(cash, activity, out=np.zeros_like(cash), where=activity > 0)
        floors[f"value.service.{r}"] = sp.react_unit_cost[:, r_i] * poisson
        floors[f"spend.service.{r}"] = service_floor[r] = per_event * poisson
    zero = np.zeros(results.plan.n_months)
    agency_sq, overhead_sq = [], []
    for a_i, a in enumerate(sp.agencies):
        own = [service_floor[r] ** 2 for r_i, r in enumerate(sp.reactive)
               if sp.react_agency[r_i] == a_i]
        services = np.sqrt(sum(own, zero))
        floor = services * (1.0 + sp.agency_overhead_rate[:, a_i])
        floors[f"spend.agency.{a}"] = floor
        agency_sq.append(floor ** 2)
        overhead_sq.append((services * sp.agency_overhead_rate[:, a_i]) ** 2)
    floors["spend.kind.reactive"] = np.sqrt(sum((f ** 2 for f in service_floor.values()), zero))
    floors["spend.overhead"] = np.sqrt(sum(overhead_sq, zero))
    floors["spend.total"] = np.sqrt(sum(agency_sq, zero))
    return floors

