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

import numpy as np
from scipy import stats

from tpsim.analysis.calibration import CalibrationProblem
from tpsim.config.calibration import BayesSettings, FitSettings, PriorSpec

__all__ = [
    "Prior", "priors_for", "Likelihood", "LogPosterior", "Posterior", "sample_posterior",
    "split_rhat", "effective_sample_size", "update", "reweight", "resample_indices",
    "posterior_csv_text", "read_posterior_csv", "summarise",
]


# ---------------------------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prior:
    """A prior on one parameter, truncated to ``[lower, upper]`` (the parameter's units)."""

    dist: str
    values: Mapping[str, float]
    lower: float
    upper: float

    def _frozen(self):
        v = self.values
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
                out[inside] = self._frozen().logpdf(x[inside])
        return out

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws of the truncated prior (inverse CDF between the bounds' quantiles)."""
        f = self._frozen()
        lo, hi = f.cdf(self.lower), f.cdf(self.upper)
        if not hi > lo:
            return rng.uniform(self.lower, self.upper, n)
        return np.clip(f.ppf(lo + rng.random(n) * (hi - lo)), self.lower, self.upper)

    def describe(self) -> str:
        inner = ", ".join(f"{k} {v:g}" for k, v in self.values.items())
        return (f"{self.dist}({inner}) on [{self.lower:g}, {self.upper:g}]" if inner
                else f"uniform on [{self.lower:g}, {self.upper:g}]")


def priors_for(problem: CalibrationProblem,
               specs: Mapping[str, PriorSpec] | None = None) -> tuple[Prior, ...]:
    """The priors of the problem's parameters (default: uniform on the bounds)."""
    specs = specs or {}
    out = []
    for q in problem.parameters:
        spec = specs.get(q.path, PriorSpec())
        out.append(Prior(spec.dist, dict(spec.values), q.lower, q.upper))
    return tuple(out)


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
class Posterior:
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
    def n(self) -> int:
        return int(self.draws.shape[0])

    @property
    def normalised_weights(self) -> np.ndarray:
        if self.weights is None:
            return np.full(self.n, 1.0 / self.n)
        return self.weights / self.weights.sum()

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


def sample_posterior(problem: CalibrationProblem, settings: BayesSettings = BayesSettings(),
                     seed: int | None = None, priors: Sequence[Prior] | None = None,
                     start: np.ndarray | None = None, start_weights: np.ndarray | None = None,
                     progress: Callable[[int, int, float], None] | None = None) -> Posterior:
    """Sample the posterior of ``problem`` with emcee (see the module docstring).

    ``seed`` overrides ``settings.seed``; ``priors`` default to uniform on the bounds;
    ``start`` (draws x p, optional ``start_weights``) seeds the walkers from earlier draws.
    ``progress(step, steps, seconds)`` is called every 25 steps of each chain.
    """
    import emcee

    t0 = time.perf_counter()
    runs0, calls0 = problem.runs, problem.kernel_calls
    seed = settings.seed if seed is None else int(seed)
    settings = dataclasses.replace(settings, seed=seed)
    priors = tuple(priors) if priors is not None else priors_for(problem)
    p = problem.n_parameters
    if settings.walkers < 2 * p:
        raise ValueError(f"{settings.walkers} walkers cannot sample {p} parameters "
                         f"(need at least {2 * p})")
    root = np.random.SeedSequence(seed)
    init_seed, *chain_seeds = root.spawn(settings.chains + 1)
    x0, origin = _initial_walkers(problem, priors, settings, np.random.default_rng(init_seed),
                                  start, start_weights)
    log_post = LogPosterior(problem, priors)
    chains, logps, accept, taus = [], [], [], []
    for c in range(settings.chains):
        sampler = emcee.EnsembleSampler(settings.walkers, p, log_post, vectorize=True)
        sampler.random_state = np.random.RandomState(
            chain_seeds[c].generate_state(1)[0]).get_state()
        for step, _ in enumerate(sampler.sample(x0[c], iterations=settings.steps), start=1):
            if progress is not None and (step % 25 == 0 or step == settings.steps):
                progress(c * settings.steps + step, settings.chains * settings.steps,
                         time.perf_counter() - t0)
        chains.append(sampler.get_chain(discard=settings.burn_in, thin=settings.thin))
        logps.append(sampler.get_log_prob(discard=settings.burn_in, thin=settings.thin))
        accept.append(sampler.acceptance_fraction)
        level = logging.getLogger("emcee").level
        logging.getLogger("emcee").setLevel(logging.ERROR)
        try:
            taus.append(sampler.get_autocorr_time(discard=settings.burn_in, quiet=True))
        finally:
            logging.getLogger("emcee").setLevel(level)
    chain = np.stack(chains)                      # chains x kept steps x walkers x p
    logp = np.stack(logps)                        # chains x kept steps x walkers
    kept = chain.shape[1]
    tau = np.nanmean(np.stack(taus), axis=0) / settings.thin   # in kept steps
    per_walker = np.moveaxis(chain, 2, 1).reshape(-1, kept, p)  # (chains*walkers) x steps x p
    rhat = np.array([split_rhat(per_walker[:, :, j]) for j in range(p)])
    draws = chain.reshape(-1, p)
    logpost = logp.reshape(-1)
    total = draws.shape[0]
    tau_max = float(np.nanmax(tau)) if np.any(np.isfinite(tau)) else float("nan")
    ess = total / max(tau_max, 1.0) if math.isfinite(tau_max) else float("nan")
    if total > settings.draws:
        keep = np.linspace(0, total - 1, settings.draws).round().astype(int)
        draws, logpost = draws[keep], logpost[keep]
    warnings = []
    if kept < 50 * tau_max:
        warnings.append(f"the chains are short: {kept} kept steps per walker is less than 50 "
                        f"autocorrelation times ({tau_max:.1f}); the autocorrelation estimate "
                        f"is unreliable: raise fit.bayes.steps")
    if np.nanmax(rhat) > 1.01:
        worst = problem.names[int(np.nanargmax(rhat))]
        warnings.append(f"R-hat {np.nanmax(rhat):.3f} > 1.01 ({worst}): the chains disagree; "
                        f"raise fit.bayes.steps and burn_in")
    mean_accept = float(np.mean(accept))
    if not 0.15 <= mean_accept <= 0.7:
        warnings.append(f"mean acceptance fraction {mean_accept:.2f} is outside 0.15-0.7")
    diagnostics = {
        **origin,
        "sampler": "emcee.EnsembleSampler (affine-invariant stretch move, vectorize=True)",
        "chains": settings.chains, "walkers": settings.walkers, "steps": settings.steps,
        "burn_in": settings.burn_in, "thin": settings.thin, "seed": seed,
        "draws_total": int(total), "draws_kept": int(draws.shape[0]),
        "autocorrelation_time": dict(zip(problem.names, map(float, tau * settings.thin))),
        "acceptance_fraction": mean_accept,
        "acceptance_fraction_range": [float(np.min(accept)), float(np.max(accept))],
        "rhat": dict(zip(problem.names, map(float, rhat))),
        "rhat_max": float(np.nanmax(rhat)),
        "ess": float(ess),
        "ess_per_draw": float(min(1.0, ess / draws.shape[0])) if math.isfinite(ess) else 1.0,
        "warnings": warnings,
    }
    return Posterior(problem.names, draws, logpost, None, diagnostics,
                     elapsed=time.perf_counter() - t0, runs=problem.runs - runs0,
                     kernel_calls=problem.kernel_calls - calls0)


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


def posterior_csv_text(posterior: Posterior) -> str:
    """``posterior.csv``: one row per draw, columns = dotted parameter paths, ``log_posterior``
    and, for re-weighted draws, ``weight`` (summing to 1)."""
    header = list(posterior.names) + ["log_posterior"]
    cols = [posterior.draws, posterior.log_posterior[:, None]]
    if posterior.weights is not None:
        header.append("weight")
        cols.append(posterior.normalised_weights[:, None])
    table = np.hstack(cols)
    lines = [",".join(header)]
    lines += [",".join(repr(float(v)) for v in row) for row in table]
    return "\n".join(lines) + "\n"


def read_posterior_csv(path, known: Sequence[str] | None = None) -> Posterior:
    """Read a ``posterior.csv`` (:func:`posterior_csv_text`). Raises
    :class:`~tpsim.errors.DataError` naming the file for a missing file, an unknown column
    (when ``known`` paths are given), a non-numeric value or no rows."""
    import os

    from tpsim.errors import DataError

    display = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            lines = [ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")]
    except FileNotFoundError:
        raise DataError("posterior draws file not found", file=display) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot be read: {err}", file=display) from None
    if len(lines) < 2:
        raise DataError("no posterior draws (expected a header and at least one row)",
                        file=display)
    header = [h.strip() for h in lines[0].split(",")]
    names = [h for h in header if h not in ("log_posterior", "weight")]
    if not names:
        raise DataError("no parameter columns", file=display, line=1)
    if known is not None:
        for h in names:
            if h not in known:
                raise DataError(f"column '{h}' is not a parameter path of the scenario",
                                file=display, line=1)
    rows = []
    for i, ln in enumerate(lines[1:], start=2):
        parts = ln.split(",")
        if len(parts) != len(header):
            raise DataError(f"expected {len(header)} fields, got {len(parts)}", file=display,
                            line=i)
        try:
            rows.append([float(v) for v in parts])
        except ValueError:
            raise DataError("a value is not a number", file=display, line=i) from None
    table = np.array(rows)
    if not np.all(np.isfinite(table[:, [header.index(n) for n in names]])):
        raise DataError("non-finite parameter value", file=display)
    draws = table[:, [header.index(n) for n in names]]
    logp = table[:, header.index("log_posterior")] if "log_posterior" in header \
        else np.zeros(len(rows))
    weights = table[:, header.index("weight")] if "weight" in header else None
    if weights is not None and (np.any(weights < 0) or not weights.sum() > 0):
        raise DataError("weights must be >= 0 and not all 0", file=display)
    return Posterior(names, draws, logp, weights)
