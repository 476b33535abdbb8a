"""Bayesian calibration: priors, likelihood, ensemble MCMC, diagnostics and sequential updating.

Plain functions on a :class:`~tpsim.analysis.calibration.CalibrationProblem` (no file I/O
except the posterior CSV text helpers); ``tpsim calibrate --method bayes`` and ``tpsim learn``
(:mod:`tpsim.cli.learn`) write the outputs. calibration/README.md is the user's description.

Posterior
    ``log p(x | data) = sum_j log prior_j(x_j) + log L(x) + const``, with every prior truncated
    to the parameter's ``[lower, upper]`` (outside it the density is 0 and the model is not
    run).

Likelihood (per matched series k, residuals r_i as in the least-squares fit)
    * the data give standard errors (``se`` column): Gaussian, ``log L_k = -1/2 sum r_i^2``
      with ``r_i = sqrt(W_k) (S_i - A_i) / se_i``;
    * otherwise the noise of series k is ``sigma_k x scale_k / sqrt(w_i)`` with an unknown
      multiplier ``sigma_k`` under the Jeffreys prior ``1 / sigma_k``, integrated out
      analytically: ``log L_k = -(n_k / 2) log(sum_i r_i^2)`` (``n_k`` observations with
      positive weight). This is the Bayesian counterpart of the least-squares fit's
      ``standard_errors: scaled`` (one noise scale per series rather than one for all), and
      it does not depend on ``scale_k``.

Sampler
    emcee's affine-invariant ensemble sampler (Goodman and Weare 2010) with ``vectorize=True``:
    each call of the log posterior receives half the walkers, and all of them are simulated in
    ONE batched kernel call. ``chains`` independent ensembles are run (seeds spawned from
    ``SeedSequence(seed)``); walkers start in a Gaussian ball from a quick least-squares fit
    (``init: fit``: its estimate and covariance, clipped into the bounds) or from the prior.

Diagnostics
    Integrated autocorrelation time per parameter (emcee ``get_autocorr_time(quiet=True)``,
    averaged over the chains), mean acceptance fraction, and the rank-normalised split-R-hat
    of Vehtari et al. (2021), the larger of the bulk and folded (tail) values, treating each
    walker of each chain as a chain. ESS = kept draws / tau.

Sequential updating (:func:`update`)
    New data arrive: the saved draws are re-weighted by ``L_all(x) / L_old(x)`` (importance
    sampling: exact for any likelihood, including the integrated-noise one, which does not
    factorise over months). When the effective sample size ``(sum w)^2 / sum w^2`` falls below
    ``ess_threshold`` x draws, a short MCMC re-run on all the data starts from walkers
    resampled from the re-weighted draws.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from tpsim.analysis.calibration import CalibrationProblem
from tpsim.config.calibration import BayesSettings, FitSettings, PriorSpec
from tpsim.config.posterior import WeightedDraws

__all__ = [
    "Prior", "priors_for", "Likelihood", "LogPosterior", "Posterior", "sample_posterior",
    "split_rhat", "effective_sample_size", "update", "reweight", "resample_indices",
    "summarise", "from_draws", "to_csv_text", "noise_scales", "Predictive", "predictive",
    "RHAT_LIMIT", "evidence_prior", "EVIDENCE_RANGES",
]


#: R-hat above this says the chains disagree (Vehtari et al. 2021 recommend 1.01).
RHAT_LIMIT = 1.01


# ---------------------------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prior:
    """A prior on one parameter, truncated to ``[lower, upper]`` (the parameter's units).

    ``dist`` is a key of :data:`tpsim.config.calibration.PRIOR_KEYS` with its ``values``, or
    ``"uncertainty"``: the distribution the scenario's ``uncertainty:`` section gives the path
    (``frozen``, a scipy distribution of the draw; ``base`` multiplies a relative draw)."""

    dist: str
    values: Mapping[str, float]
    lower: float
    upper: float
    frozen: Any = None
    base: float = 1.0
    label: str = ""

    def _frozen(self):
        v = self.values
        if self.frozen is not None:
            return self.frozen
        if self.dist in ("normal", "truncnorm"):
            return stats.norm(v["mean"], v["sd"])
        if self.dist == "lognormal":
            return stats.lognorm(s=v["sigma"], scale=v["median"])
        if self.dist == "beta":
            return stats.beta(v["a"], v["b"])
        return stats.uniform(self.lower, self.upper - self.lower)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density (unnormalised within the bounds: truncation only adds a constant);
        -inf outside ``[lower, upper]``."""
        x = np.asarray(x, dtype=float)
        inside = (x >= self.lower) & (x <= self.upper)
        out = np.full(x.shape, -np.inf)
        if self.dist == "uniform":
            out[inside] = 0.0
        else:
            with np.errstate(divide="ignore"):
                out[inside] = self._frozen().logpdf(x[inside] / self.base)
        return out

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws of the truncated prior (inverse CDF between the bounds' quantiles)."""
        f = self._frozen()
        lo, hi = f.cdf(self.lower / self.base), f.cdf(self.upper / self.base)
        if not hi > lo:
            return rng.uniform(self.lower, self.upper, n)
        x = f.ppf(lo + rng.random(n) * (hi - lo)) * self.base
        return np.clip(x, self.lower, self.upper)

    def describe(self) -> str:
        if self.label:
            return f"{self.label} on [{self.lower:g}, {self.upper:g}]"
        inner = ", ".join(f"{k} {v:g}" for k, v in self.values.items())
        return (f"{self.dist}({inner}) on [{self.lower:g}, {self.upper:g}]" if inner
                else f"uniform on [{self.lower:g}, {self.upper:g}]")


def priors_for(problem: CalibrationProblem, specs: Mapping[str, PriorSpec] | None = None,
               uncertainty: Mapping | None = None) -> tuple[Prior, ...]:
    """The priors of the problem's parameters (default: uniform on the bounds).

    A ``PriorSpec("uncertainty")`` takes the path's distribution from ``uncertainty`` (the
    scenario's resolved ``uncertainty:`` section), truncated to the fit's bounds; a relative
    draw multiplies the scenario's value. Raises ValueError when the section does not give
    the path, gives it a ``choice`` (a discrete prior), or its support misses the bounds."""
    from tpsim.config.uncertainty import distribution_from_spec

    specs = specs or {}
    section = (uncertainty or {}).get("parameters") or {}
    out = []
    for q in problem.parameters:
        spec = specs.get(q.path, PriorSpec())
        if spec.dist == "evidence":
            out.append(evidence_prior(q))
            continue
        if spec.dist != "uncertainty":
            out.append(Prior(spec.dist, dict(spec.values), q.lower, q.upper))
            continue
        given = section.get(q.path)
        if given is None:
            raise ValueError(f"{q.path}: prior 'uncertainty' but the scenario's uncertainty "
                             f"section does not give this path a distribution")
        if given["dist"] == "choice":
            raise ValueError(f"{q.path}: the scenario's uncertainty section gives it a choice "
                             f"of values; a prior must be continuous")
        dist = distribution_from_spec(given)
        if given["dist"] == "uniform":
            frozen = stats.uniform(given["low"], given["high"] - given["low"])
        else:
            frozen = dist._frozen[0]
        base = float(q.scenario_value) if given["relative"] else 1.0
        if base <= 0:
            raise ValueError(f"{q.path}: a relative prior needs a positive scenario value "
                             f"(got {base:g})")
        low, high = (v * base for v in dist.extremes())
        lower, upper = max(q.lower, low), min(q.upper, high)
        if not lower < upper:
            raise ValueError(f"{q.path}: the scenario's distribution [{low:g}, {high:g}] does "
                             f"not overlap the bounds [{q.lower:g}, {q.upper:g}]")
        label = dist.describe() + (f" x {base:g}" if given["relative"] else "")
        if given.get("source"):
            label += f" (source: {given['source']})"
        out.append(Prior("uncertainty", {}, lower, upper, frozen, base, label))
    return tuple(out)


#: Parameter of a preventive service -> its range in the evidence library's service entry.
EVIDENCE_RANGES = {"effect": "model_effect", "time_to_effect": "time_to_effect_months"}


def evidence_prior(q, evidence=None) -> Prior:
    """The prior ``prior: evidence`` gives ``services.<id>.effect`` or
    ``services.<id>.time_to_effect``: triangular from ``low`` through ``value`` (the mode) to
    ``high`` of the evidence library's ``services.<id>.model_effect`` or
    ``time_to_effect_months`` (scenarios/evidence.yaml; the parameter's units), truncated to
    the fit's bounds. Raises ValueError for another path, a service the library lacks, or a
    range that misses the bounds."""
    from tpsim.config.evidence import load_evidence

    parts = q.path.split(".")
    if len(parts) != 3 or parts[0] != "services" or parts[2] not in EVIDENCE_RANGES:
        raise ValueError(f"{q.path}: prior 'evidence' is for services.<id>.effect and "
                         f"services.<id>.time_to_effect of a preventive service")
    library = evidence if evidence is not None else load_evidence()
    entry = library.services.get(parts[1])
    if entry is None:
        raise ValueError(f"{q.path}: the evidence library has no service {parts[1]!r} (one "
                         f"of {', '.join(sorted(library.services))})")
    given = getattr(entry, EVIDENCE_RANGES[parts[2]])
    low, mode, high = (float(given[k]) for k in ("low", "value", "high"))
    if not low < high:
        raise ValueError(f"{q.path}: the evidence library's range [{low:g}, {high:g}] has no "
                         f"width")
    lower, upper = max(q.lower, low), min(q.upper, high)
    if not lower < upper:
        raise ValueError(f"{q.path}: the evidence library's range [{low:g}, {high:g}] does not "
                         f"overlap the bounds [{q.lower:g}, {q.upper:g}]")
    frozen = stats.triang((mode - low) / (high - low), loc=low, scale=high - low)
    label = (f"triangular({low:g}, {mode:g}, {high:g}) from the evidence library "
             f"(services.{parts[1]}.{EVIDENCE_RANGES[parts[2]]})")
    return Prior("evidence", {}, lower, upper, frozen, 1.0, label)


# ---------------------------------------------------------------------------------------------
# Likelihood and posterior
# ---------------------------------------------------------------------------------------------


class Likelihood:
    """The log likelihood of simulated values at the observations (see the module docstring)."""

    def __init__(self, problem: CalibrationProblem) -> None:
        self.problem = problem
        self.slices = []
        start = 0
        for t in problem.targets:
            stop = start + t.observed.size
            counted = int(np.count_nonzero(t.factor[:] > 0))
            self.slices.append((slice(start, stop), t.scale is None, counted))
            start = stop

    def from_simulated(self, sim: np.ndarray) -> np.ndarray:
        """Log likelihood (runs,) of simulated values ``sim`` (runs x observations)."""
        p = self.problem
        r = (np.atleast_2d(sim) - p.observed) * p.factor
        bad = ~np.all(np.isfinite(r), axis=1)
        r = np.where(np.isfinite(r), r, 0.0)
        out = np.zeros(r.shape[0])
        for sl, known_se, n_k in self.slices:
            ss = np.sum(r[:, sl] ** 2, axis=1)
            if known_se:
                out -= 0.5 * ss
            elif n_k > 0:
                with np.errstate(divide="ignore"):
                    out -= 0.5 * n_k * np.log(np.maximum(ss, 1e-300))
        out[bad] = -np.inf
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Log likelihood of parameter sets ``x`` (runs x p): one batched kernel call."""
        return self.from_simulated(self.problem.simulated(np.atleast_2d(x)))

    def noise_sd(self, sim: np.ndarray) -> np.ndarray:
        """Per observation, the noise standard deviation in the series' units implied by a
        simulated path ``sim`` (observations,): the data's se, or the fitted per-series scale
        (root mean square residual, row weights applied)."""
        p = self.problem
        out = np.empty(p.observed.size)
        for (sl, known_se, n_k), t in zip(self.slices, p.targets):
            f = t.factor
            with np.errstate(divide="ignore"):
                base = np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), np.inf)
            if known_se:
                out[sl] = base
            else:
                r = (sim[sl] - t.observed) * f
                multiplier = math.sqrt(float(np.sum(r ** 2)) / max(n_k, 1))
                out[sl] = base * multiplier
        return out


class LogPosterior:
    """``x (runs x p) -> log posterior (runs,)`` for emcee's ``vectorize=True``: the prior
    first, then one kernel call for every row inside the bounds."""

    def __init__(self, problem: CalibrationProblem, priors: Sequence[Prior]) -> None:
        self.problem = problem
        self.priors = tuple(priors)
        self.likelihood = Likelihood(problem)

    def prior(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        return np.sum([pr.logpdf(x[:, j]) for j, pr in enumerate(self.priors)], axis=0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        lp = self.prior(x)
        ok = np.isfinite(lp)
        if ok.any():
            lp[ok] += self.likelihood(x[ok])
        return lp


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------


@dataclass
class Posterior(WeightedDraws):
    """Posterior draws: ``draws`` (n x p, parameters' own units, columns ``names``),
    ``log_posterior`` (n,) under the data they were drawn for, and importance ``weights``
    (n,, summing to 1) or None for equally weighted draws. ``diagnostics`` holds the
    sampler's convergence figures (empty for draws read from a file)."""

    names: list[str]
    draws: np.ndarray
    log_posterior: np.ndarray
    weights: np.ndarray | None = None
    diagnostics: dict = field(default_factory=dict)
    elapsed: float = 0.0
    runs: int = 0
    kernel_calls: int = 0

    @property
    def ess(self) -> float:
        """Effective sample size: importance ESS times the MCMC ESS per draw (when known)."""
        w = self.normalised_weights
        importance = 1.0 / float(np.sum(w ** 2))
        per_draw = self.diagnostics.get("ess_per_draw", 1.0)
        return importance * per_draw

    def mean(self) -> np.ndarray:
        return self.normalised_weights @ self.draws

    def sd(self) -> np.ndarray:
        w = self.normalised_weights
        m = w @ self.draws
        return np.sqrt(w @ (self.draws - m) ** 2)

    def quantile(self, q: float | Sequence[float]) -> np.ndarray:
        """Weighted quantiles (len(q) x p, or p for a scalar q)."""
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        w = self.normalised_weights
        out = np.empty((qs.size, self.draws.shape[1]))
        for j in range(self.draws.shape[1]):
            order = np.argsort(self.draws[:, j], kind="stable")
            cum = np.cumsum(w[order]) - 0.5 * w[order]
            out[:, j] = np.interp(qs, cum, self.draws[order, j])
        return out[0] if np.ndim(q) == 0 else out


def _initial_walkers(problem: CalibrationProblem, priors: Sequence[Prior], settings: BayesSettings,
                     rng: np.random.Generator, start: np.ndarray | None,
                     start_weights: np.ndarray | None) -> tuple[np.ndarray, dict]:
    """``chains x walkers x p`` starting points, and what they came from."""
    n = settings.chains * settings.walkers
    p = problem.n_parameters
    if start is not None:
        rows = resample_indices(start_weights if start_weights is not None
                                else np.full(start.shape[0], 1.0 / start.shape[0]), n, rng)
        x = start[rows].copy()
        # distinct starting points: a small jitter keeps the ensemble from collapsing
        x += rng.normal(0.0, 1e-3, x.shape) * np.maximum(start.std(axis=0), 1e-9 * problem.width)
        origin = {"init": "posterior draws"}
    elif settings.init == "fit":
        from tpsim.analysis.calibration import fit

        res = fit(problem, FitSettings(starts=1, candidates=16, seed=settings.seed,
                                       max_evaluations=60))
        centre = res.best.x
        cov = np.asarray(res.statistics["covariance"], dtype=float)
        if not np.all(np.isfinite(cov)):
            cov = np.diag((0.01 * problem.width) ** 2)
        sd = np.sqrt(np.clip(np.diag(cov), (1e-4 * problem.width) ** 2,
                             (0.25 * problem.width) ** 2))
        corr = cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov)))
        cov = corr * np.outer(sd, sd) + np.diag((1e-6 * problem.width) ** 2)
        x = rng.multivariate_normal(centre, cov, size=n, method="eigh")
        origin = {"init": "least-squares fit", "fit_estimate": dict(zip(problem.names,
                                                                        map(float, centre)))}
    else:
        x = np.column_stack([pr.sample(rng, n) for pr in priors])
        origin = {"init": "prior draws"}
    margin = 1e-9 * problem.width
    x = np.clip(x, problem.lower + margin, problem.upper - margin)
    return x.reshape(settings.chains, settings.walkers, p), origin


class _Lockstep:
    """One log-posterior evaluation for every chain at once.

    emcee drives each chain's sampler in its own thread; each call of a chain's log
    probability (half its walkers, ``vectorize=True``) waits at a barrier until every chain has
    asked, then one thread evaluates all the rows in ONE batched kernel call and hands each
    chain its part. The chains stay independent (each has its own random state and its own
    walkers); only the model runs are pooled, so a step of C chains costs two kernel calls.
    """

    def __init__(self, log_post: Callable[[np.ndarray], np.ndarray], chains: int) -> None:
        import threading

        self.log_post = log_post
        self.requests: list[np.ndarray | None] = [None] * chains
        self.answers: list[np.ndarray | None] = [None] * chains
        self.failure: BaseException | None = None
        self.barrier = threading.Barrier(chains, action=self._evaluate)

    def _evaluate(self) -> None:
        try:
            rows = [r.shape[0] for r in self.requests]
            values = self.log_post(np.vstack(self.requests))
            bounds = np.cumsum([0] + rows)
            self.answers = [values[bounds[c]:bounds[c + 1]] for c in range(len(rows))]
        except BaseException as exc:   # re-raised in the caller's thread by sample_posterior
            self.failure = exc
            self.barrier.abort()

    def for_chain(self, c: int) -> Callable[[np.ndarray], np.ndarray]:
        def log_prob(x: np.ndarray) -> np.ndarray:
            self.requests[c] = np.atleast_2d(np.asarray(x, dtype=float))
            self.barrier.wait()
            return self.answers[c]
        return log_prob


def sample_posterior(problem: CalibrationProblem, settings: BayesSettings = BayesSettings(),
                     seed: int | None = None, priors: Sequence[Prior] | None = None,
                     start: np.ndarray | None = None, start_weights: np.ndarray | None = None,
                     progress: Callable[[int, int, float], None] | None = None) -> Posterior:
    """Sample the posterior of ``problem`` with emcee (see the module docstring).

    ``seed`` overrides ``settings.seed``; ``priors`` default to uniform on the bounds;
    ``start`` (draws x p, optional ``start_weights``) seeds the walkers from earlier draws.
    ``progress(step, steps, seconds)`` is called every 25 steps. The chains advance in
    lockstep, so each emcee half-step is one kernel call over ``chains x walkers / 2`` runs.
    """
    emcee = _require_emcee()
    t0 = time.perf_counter()
    runs0, calls0 = problem.runs, problem.kernel_calls
    seed = settings.seed if seed is None else int(seed)
    settings = dataclasses.replace(settings, seed=seed)
    priors = tuple(priors) if priors is not None else priors_for(problem)
    _check_sampler_settings(settings, problem.n_parameters)
    init_seed, *chain_seeds = np.random.SeedSequence(seed).spawn(settings.chains + 1)
    x0, origin = _initial_walkers(problem, priors, settings, np.random.default_rng(init_seed),
                                  start, start_weights)
    lockstep = _Lockstep(LogPosterior(problem, priors), settings.chains)
    samplers = _chain_samplers(emcee, settings, problem.n_parameters, lockstep, chain_seeds)
    _run_chains(samplers, x0, settings.steps, lockstep, progress, t0)
    chain, logp, accept, tau = _kept_steps(samplers, settings)
    draws, logpost, diagnostics = _thinned_draws_and_diagnostics(problem, settings, chain, logp,
                                                                 accept, tau)
    return Posterior(problem.names, draws, logpost, None, {**origin, **diagnostics},
                     elapsed=time.perf_counter() - t0, runs=problem.runs - runs0,
                     kernel_calls=problem.kernel_calls - calls0)


def _require_emcee():
    """The emcee module, or a :class:`TpsimError` saying how to install it."""
    try:
        import emcee
    except ImportError:
        from tpsim.errors import TpsimError

        raise TpsimError("Bayesian calibration needs emcee: pip install 'tpsim[bayes]' "
                         "(or pip install emcee)") from None
    return emcee


def _check_sampler_settings(settings: BayesSettings, p: int) -> None:
    """At least two walkers per parameter, and a burn-in shorter than the chains."""
    if settings.walkers < 2 * p:
        raise ValueError(f"{settings.walkers} walkers cannot sample {p} parameters "
                         f"(need at least {2 * p})")
    if settings.burn_in >= settings.steps:
        raise ValueError(f"burn_in {settings.burn_in} must be below steps {settings.steps}")


def _chain_samplers(emcee, settings: BayesSettings, p: int, lockstep: "_Lockstep",
                    chain_seeds: Sequence[np.random.SeedSequence]) -> list:
    """One emcee ensemble sampler per chain, each with its own random state, all evaluating
    their log posterior through ``lockstep``."""
    samplers = []
    for c in range(settings.chains):
        sampler = emcee.EnsembleSampler(settings.walkers, p, lockstep.for_chain(c),
                                        vectorize=True)
        sampler.random_state = np.random.RandomState(
            chain_seeds[c].generate_state(1)[0]).get_state()
        samplers.append(sampler)
    return samplers


def _run_chains(samplers: Sequence, x0: np.ndarray, steps: int, lockstep: "_Lockstep",
                progress: Callable[[int, int, float], None] | None, t0: float) -> None:
    """Advance every chain ``steps`` steps from ``x0`` (chains x walkers x p): chain 0 in this
    thread (it reports progress, seconds since ``t0``), the others in threads; a failure in any
    chain is re-raised here."""
    import threading

    errors: list[BaseException] = []

    def run(c: int) -> None:
        try:
            for step, _ in enumerate(samplers[c].sample(x0[c], iterations=steps), start=1):
                if c == 0 and progress is not None and (step % 25 == 0 or step == steps):
                    progress(step, steps, time.perf_counter() - t0)
        except threading.BrokenBarrierError:
            pass   # another chain failed: lockstep.failure or errors say why
        except BaseException as exc:   # re-raised in the caller's thread below
            errors.append(exc)
            lockstep.barrier.abort()

    # the barrier is aborted only on a failure: a chain that has finished normally may
    # still be waking from its last wait, and an abort then would break it
    threads = [threading.Thread(target=run, args=(c,), daemon=True)
               for c in range(1, len(samplers))]
    for th in threads:
        th.start()
    run(0)
    for th in threads:
        th.join()
    if lockstep.failure is not None:
        raise lockstep.failure
    if errors:
        raise errors[0]


def _kept_steps(samplers: Sequence, settings: BayesSettings):
    """``(chain, logp, accept, tau)`` after burn-in and thinning: the draws (chains x kept steps
    x walkers x p), their log posterior (chains x kept steps x walkers), each walker's
    acceptance fraction, and the autocorrelation time of each parameter in kept steps."""
    chains, logps, accept, taus = [], [], [], []
    for sampler in samplers:
        chains.append(sampler.get_chain(discard=settings.burn_in, thin=settings.thin))
        logps.append(sampler.get_log_prob(discard=settings.burn_in, thin=settings.thin))
        accept.append(sampler.acceptance_fraction)
        # emcee logs a warning for short chains; the diagnostics below say so once
        level = logging.getLogger("emcee").level
        logging.getLogger("emcee").setLevel(logging.ERROR)
        try:
            taus.append(sampler.get_autocorr_time(discard=settings.burn_in, quiet=True))
        finally:
            logging.getLogger("emcee").setLevel(level)
    tau = np.nanmean(np.stack(taus), axis=0) / settings.thin
    return np.stack(chains), np.stack(logps), accept, tau


def _thinned_draws_and_diagnostics(problem: CalibrationProblem, settings: BayesSettings,
                                   chain: np.ndarray, logp: np.ndarray, accept: Sequence,
                                   tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """The pooled draws (evenly thinned to at most ``settings.draws``), their log posterior,
    and the convergence diagnostics: R-hat across chains and across walkers, autocorrelation
    times (in steps), effective sample sizes, acceptance, and warnings."""
    p = problem.n_parameters
    kept = chain.shape[1]
    # R-hat across the independent chains: each chain's draws in step order (all walkers of
    # a step together), split in halves
    per_chain = chain.reshape(settings.chains, -1, p)
    rhat = np.array([split_rhat(per_chain[:, :, j]) for j in range(p)])
    # and across walkers (each walker a chain): stricter, it sees a walker left behind
    per_walker = np.moveaxis(chain, 2, 1).reshape(-1, kept, p)
    rhat_walkers = np.array([split_rhat(per_walker[:, :, j]) for j in range(p)])
    draws = chain.reshape(-1, p)
    logpost = logp.reshape(-1)
    total = draws.shape[0]
    tau_max = float(np.nanmax(tau)) if np.any(np.isfinite(tau)) else float("nan")
    ess = total / max(tau_max, 1.0) if math.isfinite(tau_max) else float("nan")
    ess_each = total / np.maximum(tau, 1.0)
    if total > settings.draws:
        keep = np.linspace(0, total - 1, settings.draws).round().astype(int)
        draws, logpost = draws[keep], logpost[keep]
    mean_accept = float(np.mean(accept))
    diagnostics = {
        "sampler": "emcee.EnsembleSampler (affine-invariant stretch move, vectorize=True; "
                   "chains in lockstep, one kernel call per half-step)",
        "chains": settings.chains, "walkers": settings.walkers, "steps": settings.steps,
        "burn_in": settings.burn_in, "thin": settings.thin, "seed": settings.seed,
        "draws_total": int(total), "draws_kept": int(draws.shape[0]),
        "autocorrelation_time": dict(zip(problem.names, map(float, tau * settings.thin))),
        "acceptance_fraction": mean_accept,
        "acceptance_fraction_range": [float(np.min(accept)), float(np.max(accept))],
        "rhat": dict(zip(problem.names, map(float, rhat))),
        "rhat_max": float(np.nanmax(rhat)),
        "rhat_walkers": dict(zip(problem.names, map(float, rhat_walkers))),
        "rhat_walkers_max": float(np.nanmax(rhat_walkers)),
        "ess": float(ess),
        "ess_by_parameter": dict(zip(problem.names, map(float, ess_each))),
        "ess_per_draw": float(min(1.0, ess / draws.shape[0])) if math.isfinite(ess) else 1.0,
        "warnings": _sampler_warnings(problem, kept, tau_max, rhat, mean_accept, ess),
    }
    return draws, logpost, diagnostics


def _sampler_warnings(problem: CalibrationProblem, kept: int, tau_max: float, rhat: np.ndarray,
                      mean_accept: float, ess: float) -> list[str]:
    """Plain-language warnings: chains short against the autocorrelation time, chains that
    disagree (R-hat), acceptance outside 0.15-0.7, and an effective sample size below 400."""
    warnings = []
    if kept < 50 * tau_max:
        warnings.append(f"the chains are short: {kept} kept steps per walker is less than 50 "
                        f"autocorrelation times ({tau_max:.1f}); the autocorrelation estimate "
                        f"is rough: raise fit.bayes.steps for a final answer")
    if np.nanmax(rhat) > RHAT_LIMIT:
        worst = problem.names[int(np.nanargmax(rhat))]
        warnings.append(f"R-hat {np.nanmax(rhat):.3f} > {RHAT_LIMIT} ({worst}): the chains "
                        f"disagree; raise fit.bayes.steps and burn_in")
    if not 0.15 <= mean_accept <= 0.7:
        warnings.append(f"mean acceptance fraction {mean_accept:.2f} is outside 0.15-0.7")
    if math.isfinite(ess) and ess < 400:
        warnings.append(f"effective sample size {ess:.0f} is below 400: tail quantiles (the 90% "
                        f"and 95% intervals) carry Monte Carlo error; raise fit.bayes.steps")
    return warnings



def split_rhat(chains: np.ndarray) -> float:
    """Rank-normalised split-R-hat (Vehtari, Gelman, Simpson, Carpenter and Buerkner 2021):
    the larger of the bulk and the folded (tail) value. ``chains`` is m x n (chains x draws)."""
    x = np.asarray(chains, dtype=float)
    half = x.shape[1] // 2
    if half < 2:
        return float("nan")
    split = np.concatenate([x[:, :half], x[:, -half:]], axis=0)

    def rank_normal(a: np.ndarray) -> np.ndarray:
        r = stats.rankdata(a, method="average").reshape(a.shape)
        return stats.norm.ppf((r - 0.375) / (a.size + 0.25))

    def rhat(a: np.ndarray) -> float:
        n = a.shape[1]
        means = a.mean(axis=1)
        w = a.var(axis=1, ddof=1).mean()
        b = n * means.var(ddof=1)
        if w <= 0:
            return 1.0 if b <= 0 else float("inf")
        return float(math.sqrt(((n - 1) / n * w + b / n) / w))

    bulk = rhat(rank_normal(split))
    tail = rhat(rank_normal(np.abs(split - np.median(split))))
    return max(bulk, tail)


def effective_sample_size(weights: np.ndarray) -> float:
    """Importance-sampling ESS, ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w ** 2))


def resample_indices(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows drawn by systematic resampling with probabilities ``weights``."""
    w = np.asarray(weights, dtype=float)
    cum = np.cumsum(w / w.sum())
    u = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(cum, u, side="right"), w.size - 1)


# ---------------------------------------------------------------------------------------------
# Sequential updating
# ---------------------------------------------------------------------------------------------


def reweight(posterior: Posterior, old: CalibrationProblem, new: CalibrationProblem,
             priors: Sequence[Prior] | None = None) -> Posterior:
    """The draws re-weighted by ``L_new(x) / L_old(x)``: ``old`` is the problem the posterior
    was drawn for, ``new`` the problem with every observation so far (old and new months).
    Two batched kernel calls; returns a weighted :class:`Posterior` with updated
    ``log_posterior``."""
    ll_old = Likelihood(old)(posterior.draws)
    ll_new = Likelihood(new)(posterior.draws)
    prior_lp = LogPosterior(new, priors if priors is not None else priors_for(new)).prior(
        posterior.draws)
    with np.errstate(invalid="ignore"):
        log_w = np.log(posterior.normalised_weights) + ll_new - ll_old
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    w = np.exp(log_w - np.max(log_w))
    diag = {"ess_per_draw": posterior.diagnostics.get("ess_per_draw", 1.0)}
    return Posterior(list(posterior.names), posterior.draws, prior_lp + ll_new, w / w.sum(),
                     diag)


def update(posterior: Posterior, old: CalibrationProblem, new: CalibrationProblem,
           settings: BayesSettings = BayesSettings(), priors: Sequence[Prior] | None = None,
           seed: int | None = None) -> tuple[Posterior, dict]:
    """Update ``posterior`` (drawn for ``old``) with the data of ``new`` (all months so far).

    Re-weights the draws (:func:`reweight`); when the importance ESS falls below
    ``settings.ess_threshold`` x draws, re-runs the sampler on ``new`` for
    ``settings.rerun_steps`` steps (a third discarded) from walkers resampled from the
    re-weighted draws. Returns the posterior and a dict saying what was done.
    """
    t0 = time.perf_counter()
    weighted = reweight(posterior, old, new, priors)
    ess = effective_sample_size(weighted.weights)
    info = {"draws": posterior.n, "importance_ess": ess,
            "importance_ess_fraction": ess / posterior.n,
            "ess_threshold": settings.ess_threshold, "rerun": False}
    if ess >= settings.ess_threshold * posterior.n:
        info["seconds"] = time.perf_counter() - t0
        return weighted, info
    steps = settings.rerun_steps
    rerun = dataclasses.replace(settings, steps=steps, burn_in=steps // 3,
                                draws=min(settings.draws, posterior.n))
    fresh = sample_posterior(new, rerun, seed=seed, priors=priors, start=weighted.draws,
                             start_weights=weighted.weights)
    info.update(rerun=True, rerun_steps=steps, rerun_burn_in=steps // 3,
                seconds=time.perf_counter() - t0)
    return fresh, info


# ---------------------------------------------------------------------------------------------
# Summaries and the posterior CSV
# ---------------------------------------------------------------------------------------------


def summarise(posterior: Posterior) -> dict[str, dict]:
    """Per parameter: mean, sd, median, 90% and 95% intervals (weighted)."""
    mean, sd = posterior.mean(), posterior.sd()
    q = posterior.quantile([0.025, 0.05, 0.5, 0.95, 0.975])
    return {name: {"mean": float(mean[j]), "sd": float(sd[j]), "median": float(q[2, j]),
                   "interval_90": [float(q[1, j]), float(q[3, j])],
                   "interval_95": [float(q[0, j]), float(q[4, j])]}
            for j, name in enumerate(posterior.names)}


def from_draws(draws) -> Posterior:
    """A :class:`Posterior` from draws read from a file
    (:class:`tpsim.config.posterior.PosteriorDraws`)."""
    return Posterior(list(draws.names), np.array(draws.draws), np.array(draws.log_posterior),
                     None if draws.weights is None else np.array(draws.weights))


def to_csv_text(posterior: Posterior, comments: Sequence[str] = ()) -> str:
    """``posterior.csv`` (:func:`tpsim.config.posterior.posterior_csv_text`)."""
    from tpsim.config.posterior import posterior_csv_text

    return posterior_csv_text(posterior.names, posterior.draws, posterior.log_posterior,
                              posterior.weights, comments)


# ---------------------------------------------------------------------------------------------
# Observation noise and the posterior predictive
# ---------------------------------------------------------------------------------------------


def noise_scales(problem: CalibrationProblem, sim: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Per run and matched series, the noise multiplier ``sigma_k`` (runs x series): 1 for a
    series whose data give standard errors; otherwise a draw of its posterior given the
    parameters, ``sigma_k^2 = SS_k / chi^2(n_k)`` (the Jeffreys prior's scaled inverse
    chi-square), with ``SS_k`` the weighted sum of squares of the run ``sim`` (runs x obs)."""
    like = Likelihood(problem)
    r = (np.atleast_2d(sim) - problem.observed) * problem.factor
    out = np.ones((r.shape[0], len(like.slices)))
    for k, (sl, known_se, n_k) in enumerate(like.slices):
        if not known_se and n_k > 0:
            ss = np.sum(r[:, sl] ** 2, axis=1)
            out[:, k] = np.sqrt(ss / rng.chisquare(n_k, size=r.shape[0]))
    return out


def future_noise_sd(problem: CalibrationProblem, sigma: np.ndarray,
                    trajectory: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per matched series, the standard deviation (runs x months) of a new observation of
    every month, in the series' units: ``sigma_k x scale_k / sqrt(W_k)`` for a series without
    standard errors; for one with them, the simulated value times the series' median
    relative standard error ``se_i / |observed_i|`` (new months' se are not known yet)."""
    out = {}
    for k, t in enumerate(problem.targets):
        sim = trajectory[t.name]
        if t.scale is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = (1.0 / t.factor) * math.sqrt(max(t.weight, 1e-300)) / np.abs(t.observed)
            rel = float(np.median(rel[np.isfinite(rel)])) if np.any(np.isfinite(rel)) else 0.0
            out[t.name] = rel * np.abs(sim)
        else:
            sd = sigma[:, k] * t.scale / math.sqrt(max(t.weight, 1e-300))
            out[t.name] = np.broadcast_to(sd[:, None], sim.shape).copy()
    return out


@dataclass
class Predictive:
    """The posterior predictive of each matched series over the whole horizon.

    ``months`` (1..horizon) and ``labels`` (YYYY-MM); per series ``paths`` (draws x months,
    the simulated series of each resampled draw, series units) and ``noisy`` (the same plus
    observation noise: what a new data point would look like). ``quantiles`` gives both
    bands. ``observed`` holds the data (months, values)."""

    months: np.ndarray
    labels: list[str]
    paths: dict[str, np.ndarray]
    noisy: dict[str, np.ndarray]
    observed: dict[str, tuple[np.ndarray, np.ndarray]]
    draws: np.ndarray

    def quantiles(self, name: str, q: Sequence[float] = (0.05, 0.5, 0.95),
                  noisy: bool = False) -> np.ndarray:
        """len(q) x months quantiles of the series (with observation noise when ``noisy``)."""
        return np.quantile((self.noisy if noisy else self.paths)[name], q, axis=0)

    def coverage(self, level: float = 0.9) -> dict[str, float]:
        """Share of the observations inside the central ``level`` band with noise (a check of
        the noise model: about ``level`` when it is right)."""
        lo, hi = (1 - level) / 2, (1 + level) / 2
        out = {}
        for name, (months, values) in self.observed.items():
            band = self.quantiles(name, (lo, hi), noisy=True)[:, months - 1]
            out[name] = float(np.mean((values >= band[0]) & (values <= band[1])))
        return out


def predictive(problem: CalibrationProblem, posterior: Posterior, start: str, n: int = 200,
               seed: int = 0) -> Predictive:
    """Draws of the posterior predictive: ``n`` draws resampled by weight, simulated over the
    whole horizon in ONE kernel call, with observation noise from :func:`noise_scales` and
    :func:`future_noise_sd` (observed months use the data's own se or row weights)."""
    from tpsim.config.localdata import month_label

    rng = np.random.default_rng(seed)
    rows = resample_indices(posterior.normalised_weights, min(n, max(posterior.n, 1)), rng)
    x = posterior.draws[rows]
    results = problem.simulate_results(x, full_horizon=True)
    sim_obs = np.concatenate([results[t.name][:, t.months - 1] for t in problem.targets], axis=1)
    sigma = noise_scales(problem, sim_obs, rng)
    paths = {t.name: np.asarray(results[t.name], dtype=float) for t in problem.targets}
    sd = future_noise_sd(problem, sigma, paths)
    noisy, observed = {}, {}
    for k, t in enumerate(problem.targets):
        s = sd[t.name].copy()
        # an observed month: se (data with se; the series weight only tempers the fit), or
        # sigma_k / factor_i = sigma_k x scale_k / sqrt(W_k w_i)
        inv = np.where(t.factor > 0, 1.0 / np.where(t.factor > 0, t.factor, 1.0), np.inf)
        if t.scale is None:
            s[:, t.months - 1] = (inv * math.sqrt(max(t.weight, 1e-300)))[None, :]
        else:
            s[:, t.months - 1] = inv[None, :] * sigma[:, k:k + 1]
        s = np.where(np.isfinite(s), s, 0.0)
        noisy[t.name] = paths[t.name] + rng.standard_normal(s.shape) * s
        observed[t.name] = (t.months, t.observed)
    horizon = problem.model.n_months
    months = np.arange(1, horizon + 1)
    return Predictive(months, [month_label(start, int(m)) for m in months], paths, noisy,
                      observed, x)
