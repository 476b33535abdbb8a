"""The documents and text of a Bayesian calibration (``tpsim calibrate --method bayes``) and of
a learning update (``tpsim learn``): ``fit_report.json``, ``learning.json``, the one-page
``learnt.md`` ("what we learnt this month") and the lines printed on the terminal.

Plain functions of a :class:`~tpsim.analysis.learning.BayesFit` or
:class:`~tpsim.analysis.learning.Learning`; the commands write the text they return.
calibration/bayes.md describes every figure.
"""
from __future__ import annotations

from collections.abc import Sequence

from tpsim import __version__
from tpsim.analysis.decision import METRIC_WORDS
from tpsim.config.localdata import month_label
from tpsim.present.wording import fixed, money, sig

__all__ = ["bayes_calibrated_yaml", "bayes_fit_report", "bayes_fit_text", "learning_report", "learning_page",
           "learning_text", "posterior_comments"]


def _months(fit) -> tuple[str, str]:
    start = fit.setup.scenario.time.start
    return month_label(start, 1), month_label(start, fit.problem.fit_model.n_months)


def posterior_comments(fit, command: str) -> list[str]:
    """The ``#`` lines at the top of a posterior.csv: what wrote it, from which data."""
    first, last = _months(fit)
    post = fit.posterior
    return [f"Posterior draws written by `{command}` (tpsim {__version__}).",
            f"Scenario {fit.setup.scenario.name}; data {fit.setup.data.path}, {first} to {last}: "
            f"{fit.problem.n_observations} observations in {len(fit.problem.targets)} series.",
            f"{post.n} draws{' with importance weights' if post.weights is not None else ''}; "
            f"a scenario's `uncertainty: posterior: <this file>` draws them jointly."]


def bayes_calibrated_yaml(fit, extends: str, command: str, posterior_file: str | None) -> str:
    """``calibrated.yaml`` of ``tpsim calibrate --method bayes`` and ``tpsim learn`` (written
    by ``command``): a scenario that ``extends``
    the original (a path relative to the output folder) and sets each fitted parameter at its
    posterior mean, the central run of ``tpsim run`` and ``compare``; with ``posterior_file``
    (relative to the output folder) its ``uncertainty: posterior:`` draws the fitted
    parameters jointly in ensembles. ``None`` when the original's own uncertainty section
    draws a fitted parameter (a scenario cannot draw one path twice): the header says so."""
    from tpsim.analysis.calibration import calibrated_scenario_yaml

    post, scenario = fit.posterior, fit.setup.scenario
    first, last = _months(fit)
    summary = fit.summary
    comments = {}
    for q in fit.problem.parameters:
        s = summary[q.path]
        lo, hi = s["interval_95"]
        comments[q.path] = (f"posterior mean; sd {sig(s['sd'], 3)}, 95% interval "
                            f"[{sig(lo)}, {sig(hi)}]; was {sig(q.scenario_value, 6)}")
    header = [
        f"Calibrated scenario written by `{command}` (tpsim {__version__}).",
        "It extends the original scenario and sets each fitted parameter at its posterior mean.",
        f"Fitted to {fit.setup.data.path}: {fit.problem.n_observations} observations in "
        f"{len(fit.problem.targets)} series, {first} to {last}, by posterior sampling.",
    ]
    if posterior_file is not None:
        header.append(f"Ensembles draw the fitted parameters jointly from {posterior_file}.")
    else:
        header += ["The original scenario's uncertainty section already draws a fitted "
                   "parameter, so this file", "does not name the posterior draws; replace "
                   "that section to use them."]
    header.append("Priors, posterior summary and diagnostics: fit_report.json next to this "
                  "file.")
    values = {name: summary[name]["mean"] for name in post.names}
    cfg = fit.config
    note = (f"Posterior of {command} on local data {fit.setup.data.path} "
            f"({first} to {last}); see fit_report.json")
    text = calibrated_scenario_yaml(cfg.name or f"{scenario.name}_calibrated", extends, values,
                                    comments, header,
                                    title=cfg.title or f"{scenario.title or scenario.name} "
                                                       f"(calibrated)", source_note=note)
    if posterior_file is not None:
        text += f"uncertainty:\n  posterior: {posterior_file}\n"
    return text


def bayes_fit_report(fit, *, config_file: str, posterior_file: str) -> dict:
    """The content of ``fit_report.json`` of a Bayesian calibration (plain Python types)."""
    post, problem = fit.posterior, fit.problem
    first, last = _months(fit)
    priors = {q.path: {"prior": pr.describe(), "lower": q.lower, "upper": q.upper,
                       "scenario_value": q.scenario_value}
              for q, pr in zip(problem.parameters, fit.priors)}
    series = {}
    coverage = fit.predictive.coverage(0.9)
    for t in problem.targets:
        series[t.name] = {"observations": int(t.observed.size), "weight": t.weight,
                          "likelihood": ("Gaussian with the data's standard errors"
                                         if t.scale is None else
                                         "Gaussian with an unknown noise scale (Jeffreys prior, "
                                         "integrated out)"),
                          "predictive_coverage_90": coverage[t.name]}
    return {
        "method": "bayes",
        "tpsim_version": __version__,
        "config_file": config_file,
        "scenario": fit.setup.scenario.name,
        "data_file": fit.setup.data.path,
        "months": [first, last],
        "observations": problem.n_observations,
        "posterior_file": posterior_file,
        "parameters": {name: {**priors[name], **fit.summary[name]} for name in post.names},
        "correlation": _correlation(post),
        "series": series,
        "diagnostics": post.diagnostics,
        "sampler_settings": dict(fit.settings.__dict__),
        "model_runs": post.runs,
        "kernel_calls": post.kernel_calls,
        "seconds": post.elapsed,
        "decision": fit.decision,
    }


def _correlation(post) -> dict[str, dict[str, float]]:
    import numpy as np

    w = post.normalised_weights
    d = post.draws - w @ post.draws
    cov = (d * w[:, None]).T @ d
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    return {a: {b: float(corr[i, j]) for j, b in enumerate(post.names)}
            for i, a in enumerate(post.names)}


def _parameter_lines(summary: dict) -> list[str]:
    width = max(len(n) for n in summary)
    lines = [f"  {'parameter':<{width}}  {'mean':>11}  {'sd':>10}  90% interval"]
    for name, s in summary.items():
        lo, hi = s["interval_90"]
        lines.append(f"  {name:<{width}}  {sig(s['mean'], 5):>11}  {sig(s['sd'], 3):>10}  "
                     f"[{sig(lo, 4)}, {sig(hi, 4)}]")
    return lines


def _decision_lines(decision: dict | None) -> list[str]:
    if not decision:
        return []
    from tpsim.analysis.decision import summary_lines

    return [f"decision: {decision['option']} against {decision['counterfactual']}"] + [
        f"  {line}" for line in summary_lines(decision["value_of_information"],
                                              decision["months_until_decision"], money)]


def bayes_fit_text(fit) -> str:
    """What ``tpsim calibrate --method bayes`` prints: the posterior of each parameter, the
    convergence diagnostics and, with a decision, P(metric > 0) and the value of information."""
    d = fit.posterior.diagnostics
    first, last = _months(fit)
    lines = [f"Bayesian calibration of {fit.setup.scenario.name} to {fit.setup.data.path} "
             f"({first} to {last}, {fit.problem.n_observations} observations)"]
    lines += _parameter_lines(fit.summary)
    lines.append(f"diagnostics: R-hat max {fixed(d.get('rhat_max'), 3)} (chains), "
                 f"{fixed(d.get('rhat_walkers_max'), 3)} (walkers); acceptance "
                 f"{fixed(d.get('acceptance_fraction'), 2)}; autocorrelation time max "
                 f"{sig(max(d.get('autocorrelation_time', {0: float('nan')}).values()), 3)} "
                 f"steps; ESS {sig(d.get('ess'), 4)}")
    lines += [f"warning: {w}" for w in d.get("warnings", [])]
    lines += _decision_lines(fit.decision)
    return "\n".join(lines)


def learning_report(learning, *, posterior_file: str, data_file: str) -> dict:
    """The content of ``learning.json`` of ``tpsim learn``."""
    after = learning.after
    first, last = _months(after)
    return {
        "method": "bayes",
        "tpsim_version": __version__,
        "scenario": after.setup.scenario.name,
        "new_data_file": learning.new_data.path,
        "data_so_far_file": data_file,
        "months": [first, last],
        "update": learning.update,
        "parameters": learning.moves,
        "posterior_file": posterior_file,
        "decision_before": learning.before.decision,
        "decision_after": after.decision,
    }


def _p_positive(decision: dict | None) -> float | None:
    return None if not decision else decision["value_of_information"]["probability_positive"]


def learning_page(learning) -> str:
    """``learnt.md``: one page of what the new months taught (markdown)."""
    before, after = learning.before, learning.after
    b0, b1 = _months(before)
    a0, a1 = _months(after)
    up = learning.update
    how = (f"re-ran the sampler for {up['rerun_steps']} steps from the re-weighted draws "
           f"(the importance effective sample size fell to {sig(up['importance_ess'], 3)} of "
           f"{up['draws']} draws, below {up['ess_threshold']:g} of them)" if up["rerun"] else
           f"re-weighted the {up['draws']} saved draws by the likelihood of the new months "
           f"(importance effective sample size {sig(up['importance_ess'], 3)})")
    lines = [f"# What we learnt: {before.setup.scenario.name}, data to {a1}", "",
             f"The posterior was fitted to {b0} to {b1}; the new data ({learning.new_data.path}) "
             f"run to {a1}. tpsim {how}.", "",
             "## How each effect moved", "",
             "| parameter | before: median [90% interval] | after: median [90% interval] | "
             "shift (sd before) | interval width after / before |",
             "|---|---|---|---|---|"]
    for name, m in learning.moves.items():
        b, a = m["before"], m["after"]
        lines.append(
            f"| {name} | {sig(b['median'], 4)} [{sig(b['interval_90'][0], 4)}, "
            f"{sig(b['interval_90'][1], 4)}] | {sig(a['median'], 4)} "
            f"[{sig(a['interval_90'][0], 4)}, {sig(a['interval_90'][1], 4)}] | "
            f"{fixed(m['shift_in_sd'], 2)} | {fixed(m['interval_90_width_ratio'], 2)} |")
    if after.decision:
        d = after.decision
        voi = d["value_of_information"]
        p0, p1 = _p_positive(before.decision), _p_positive(after.decision)
        lines += ["", f"## The decision: {d['option']} against {d['counterfactual']}", "",
                  f"P({METRIC_WORDS.get(voi['metric'], voi['metric'])} > 0) was {fixed(p0, 2)} and is now {fixed(p1, 2)}."]
        flipped = (before.decision["value_of_information"]["choice_now"] != voi["choice_now"])
        lines.append(f"The best choice now is the {voi['choice_now']}"
                     + (" - the new months flipped it." if flipped else
                        " - unchanged by the new months."))
        lines += ["", *[f"- {line.strip()}" for line in _decision_lines_after(d)]]
    lines += ["", "Files: posterior.csv (the updated draws), learning.json (every figure), "
                  "charts/learnt.png (the intervals before and after), charts/predictive_*.png.",
              ""]
    return "\n".join(lines)


def _decision_lines_after(decision: dict) -> list[str]:
    from tpsim.analysis.decision import summary_lines

    return summary_lines(decision["value_of_information"], decision["months_until_decision"],
                         money)


def learning_text(learning, written: Sequence[str] = ()) -> str:
    """What ``tpsim learn`` prints."""
    after = learning.after
    _, a1 = _months(after)
    up = learning.update
    lines = [f"learnt from {learning.new_data.path}: data now to {a1} "
             f"({after.problem.n_observations} observations); "
             + ("re-ran the sampler" if up["rerun"] else "re-weighted the draws")
             + f" (importance ESS {sig(up['importance_ess'], 3)} of {up['draws']})"]
    lines += _parameter_lines(after.summary)
    for name, m in learning.moves.items():
        if m["interval_90_width_ratio"] is not None:
            lines.append(f"  {name}: shift {fixed(m['shift_in_sd'], 2)} sd, 90% interval x "
                         f"{fixed(m['interval_90_width_ratio'], 2)}")
    lines += _decision_lines(after.decision)
    lines += [f"wrote {w}" for w in written]
    return "\n".join(lines)
