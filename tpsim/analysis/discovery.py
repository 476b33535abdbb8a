"""Scenario discovery: the regions of the uncertain inputs where an outcome of interest happens.

PRIM (the Patient Rule Induction Method, Friedman and Fisher 1999, as EMA Workbench runs it
for scenario discovery, Bryant and Lempert 2010): start from the box of every sampled run;
*peel* repeatedly, each time cutting the ``peel_alpha`` share of the box's runs off one side of
one input, choosing the cut that raises the share of runs of interest (the box's *density*)
most per run removed, until the box holds fewer than ``mass_min`` of all runs. Every box on the
way is one point of the *peeling trajectory*: its **coverage** (the share of all runs of
interest that fall in it) against its **density**. The user picks a box on the trajectory; it is
then *pasted*: each restricted side is widened by ``paste_alpha`` of the box's runs while that
raises the density. A restriction's **quasi-p-value** is the one-sided binomial test of
EMA Workbench: the probability, were the box's density no higher than that of the box without
this restriction, of seeing at least the box's count of runs of interest among its runs.

CART (scikit-learn's ``DecisionTreeClassifier``, optional) is a second view: the leaves of a
shallow tree, each a box, with their share of runs of interest.

Plain numpy on ``x`` (runs x inputs, float) and ``y`` (bool per run); no files. Memory: the
inputs (8 bytes x runs x inputs) plus one index array of the runs in the current box.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tpsim.errors import TpsimError

__all__ = ["Box", "PrimResult", "prim", "paste", "quasi_p_values", "choose_box",
           "restrictions", "cart_rules", "PEEL_ALPHA", "PASTE_ALPHA", "MASS_MIN",
           "DENSITY_THRESHOLD"]

PEEL_ALPHA = 0.05
PASTE_ALPHA = 0.05
MASS_MIN = 0.05
#: The default choice of box considers the boxes at least this dense (see choose_box).
DENSITY_THRESHOLD = 0.8


@dataclass
class Box:
    """Limits ``low``/``high`` per input (inclusive), and its figures over the sample."""

    low: np.ndarray
    high: np.ndarray
    coverage: float
    density: float
    mass: float
    n: int
    n_interest: int

    def contains(self, x: np.ndarray) -> np.ndarray:
        return np.all((x >= self.low) & (x <= self.high), axis=1)


@dataclass
class PrimResult:
    """The peeling trajectory (``boxes[0]`` is every run), the sampled ranges and the totals."""

    boxes: list[Box]
    sample_low: np.ndarray
    sample_high: np.ndarray
    n: int
    n_interest: int
    settings: dict = field(default_factory=dict)

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(coverage, density) along the trajectory."""
        return (np.array([b.coverage for b in self.boxes]),
                np.array([b.density for b in self.boxes]))


def _figures(y_box: np.ndarray, n_total: int, n_interest: int) -> tuple[float, float, float]:
    n = y_box.size
    k = int(y_box.sum())
    coverage = k / n_interest if n_interest else 0.0
    density = k / n if n else 0.0
    return coverage, density, n / n_total


def _box(low, high, y_box, n_total, n_interest) -> Box:
    coverage, density, mass = _figures(y_box, n_total, n_interest)
    return Box(low.copy(), high.copy(), coverage, density, mass, int(y_box.size),
               int(y_box.sum()))


def prim(x: np.ndarray, y: np.ndarray, peel_alpha: float = PEEL_ALPHA,
         mass_min: float = MASS_MIN) -> PrimResult:
    """The peeling trajectory of ``y`` (bool per run) over inputs ``x`` (runs x inputs)."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=bool)
    n, d = x.shape
    if n == 0:
        raise TpsimError("no runs to discover from", key="runs")
    n_interest = int(y.sum())
    low, high = x.min(axis=0), x.max(axis=0)
    result = PrimResult([], low.copy(), high.copy(), n, n_interest,
                        {"peel_alpha": peel_alpha, "mass_min": mass_min})
    result.boxes.append(_box(low, high, y, n, n_interest))
    if n_interest == 0 or n_interest == n:
        return result
    xb, yb = x, y  # the runs in the box, compacted after each peel
    while yb.size > mass_min * n:
        mean_old = yb.mean()
        best = None  # (objective, j, side, limit, keep mask)
        for j in range(d):
            col = xb[:, j]
            for side in (0, 1):
                q = peel_alpha if side == 0 else 1.0 - peel_alpha
                limit = float(np.quantile(col, q, method="lower" if side == 0 else "higher"))
                keep = col > limit if side == 0 else col < limit
                if keep.all() or not keep.any():
                    # ties at the limit (a discrete input): cut the tied values themselves
                    continue
                removed = yb.size - int(keep.sum())
                if yb.size - removed < mass_min * n:
                    continue
                objective = (yb[keep].mean() - mean_old) / removed
                if best is None or objective > best[0]:
                    best = (objective, j, side, keep)
        if best is None:
            break
        _, j, side, keep = best
        xb, yb = xb[keep], yb[keep]
        if side == 0:
            low[j] = xb[:, j].min()
        else:
            high[j] = xb[:, j].max()
        result.boxes.append(_box(low, high, yb, n, n_interest))
    return result


def paste(x: np.ndarray, y: np.ndarray, box: Box, sample_low: np.ndarray,
          sample_high: np.ndarray, n_interest: int,
          paste_alpha: float = PASTE_ALPHA) -> Box:
    """``box`` widened, one restricted side at a time, by ``paste_alpha`` of its runs while a
    widening gains runs of interest without lowering its density (the densest widening
    first)."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=bool)
    n = x.shape[0]
    low, high = box.low.copy(), box.high.copy()
    inside = np.all((x >= low) & (x <= high), axis=1)
    while True:
        density = y[inside].mean() if inside.any() else 0.0
        step = max(1, int(round(paste_alpha * inside.sum())))
        best = None
        for j in range(x.shape[1]):
            others = np.ones(n, dtype=bool)
            for i in range(x.shape[1]):
                if i != j:
                    others &= (x[:, i] >= low[i]) & (x[:, i] <= high[i])
            for side in (0, 1):
                if (side == 0 and low[j] <= sample_low[j]) or (side == 1 and high[j] >= sample_high[j]):
                    continue
                outside = others & ((x[:, j] < low[j]) if side == 0 else (x[:, j] > high[j]))
                values = np.sort(x[outside, j])
                if values.size == 0:
                    continue
                limit = values[-min(step, values.size)] if side == 0 else values[min(step, values.size) - 1]
                add = outside & ((x[:, j] >= limit) if side == 0 else (x[:, j] <= limit))
                new = inside | add
                new_density = y[new].mean()
                gained = int(y[add & ~inside].sum())
                if gained and new_density >= density and (
                        best is None or (new_density, gained) > best[0]):
                    best = ((new_density, gained), j, side, limit, new)
        if best is None:
            break
        _, j, side, limit, inside = best
        if side == 0:
            low[j] = limit
        else:
            high[j] = limit
    return _box(low, high, y[inside], n, n_interest)


def restrictions(box: Box, sample_low: np.ndarray, sample_high: np.ndarray) -> list[int]:
    """Inputs whose limits are inside the sampled range, most restricted (narrowest share of
    its sampled range) first."""
    span = np.where(sample_high > sample_low, sample_high - sample_low, 1.0)
    kept = (box.high - box.low) / span
    restricted = [j for j in range(box.low.size)
                  if box.low[j] > sample_low[j] or box.high[j] < sample_high[j]]
    return sorted(restricted, key=lambda j: kept[j])


def quasi_p_values(x: np.ndarray, y: np.ndarray, box: Box, sample_low: np.ndarray,
                   sample_high: np.ndarray) -> dict[int, float]:
    """Per restricted input: ``P(X >= k)``, ``X ~ Binomial(n, p0)``, where the box holds ``n``
    runs of which ``k`` are of interest and ``p0`` is the density of the box with that
    restriction lifted (EMA Workbench's quasi-p-value)."""
    from scipy import stats

    out = {}
    for j in restrictions(box, sample_low, sample_high):
        low, high = box.low.copy(), box.high.copy()
        low[j], high[j] = sample_low[j], sample_high[j]
        wider = np.all((x >= low) & (x <= high), axis=1)
        p0 = float(y[wider].mean()) if wider.any() else 0.0
        out[j] = float(stats.binom.sf(box.n_interest - 1, box.n, p0))
    return out


def choose_box(result: PrimResult, box: int | None = None,
               threshold: float = DENSITY_THRESHOLD) -> int:
    """The index on the trajectory: ``box`` if given (negative counts from the end); else the
    box with the largest coverage x density among those with density >= ``threshold`` (among
    all boxes when none is that dense): the balance of the trade-off curve's two figures."""
    m = len(result.boxes)
    if box is not None:
        if not -m <= box < m:
            raise TpsimError(f"there are {m} boxes on the peeling trajectory (0 to {m - 1}); "
                             f"got {box}", key="box")
        return box % m
    coverage, density = result.curve()
    ok = np.flatnonzero(density >= threshold)
    if ok.size == 0:
        ok = np.arange(m)
    return int(ok[np.argmax((coverage * density)[ok])])


def cart_rules(x: np.ndarray, y: np.ndarray, labels: Sequence[str], max_depth: int = 3,
               min_leaf: float = MASS_MIN, seed: int = 0) -> dict:
    """A CART tree (scikit-learn) of ``y`` on ``x``: its leaves as boxes, each with its runs,
    share of all runs, density and coverage, densest first. ``{"available": False, "reason"}``
    when scikit-learn is not installed (pip install 'tpsim[discover]')."""
    try:
        from sklearn.tree import DecisionTreeClassifier
    except ImportError:
        return {"available": False,
                "reason": "scikit-learn is not installed: pip install 'tpsim[discover]'"}
    y = np.asarray(y, dtype=bool)
    n = y.size
    n_interest = int(y.sum())
    tree = DecisionTreeClassifier(max_depth=max_depth,
                                  min_samples_leaf=max(1, int(min_leaf * n)), random_state=seed)
    tree.fit(x, y)
    t = tree.tree_
    leaves = []

    def walk(node: int, conds: list) -> None:
        if t.children_left[node] == -1:
            counts = t.value[node][0]
            size = int(t.n_node_samples[node])
            share = counts / counts.sum() if counts.sum() else counts
            k = float(share[list(tree.classes_).index(True)]) if True in tree.classes_ else 0.0
            leaves.append({"conditions": [{"input": labels[j], "op": op, "value": float(v)}
                                          for j, op, v in conds],
                           "runs": size, "mass": size / n, "density": k,
                           "coverage": (k * size / n_interest) if n_interest else 0.0})
            return
        j, v = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), conds + [(j, "<=", v)])
        walk(int(t.children_right[node]), conds + [(j, ">", v)])

    walk(0, [])
    leaves.sort(key=lambda leaf: -leaf["density"])
    return {"available": True, "max_depth": max_depth, "min_leaf": min_leaf, "leaves": leaves,
            "accuracy": float(tree.score(x, y))}


# ---------------------------------------------------------------------------------------------
# One discovery: PRIM trajectory, the chosen pasted box, quasi-p-values, CART
# ---------------------------------------------------------------------------------------------


@dataclass
class Discovery:
    """What scenario discovery found for one condition: ``labels``/``relative`` name the inputs,
    ``result`` is the PRIM trajectory, ``chosen`` the index picked on it, ``box`` that box
    pasted, ``p_values`` its quasi-p-value per restricted input, ``cart`` the tree view."""

    labels: list[str]
    relative: list[bool]
    result: PrimResult
    chosen: int
    box: Box
    p_values: dict[int, float]
    cart: dict

    @property
    def restricted(self) -> list[int]:
        return restrictions(self.box, self.result.sample_low, self.result.sample_high)


def analyse(x: np.ndarray, y: np.ndarray, labels: Sequence[str],
            relative: Sequence[bool] | None = None, *, box: int | None = None,
            threshold: float = DENSITY_THRESHOLD, peel_alpha: float = PEEL_ALPHA,
            paste_alpha: float = PASTE_ALPHA, mass_min: float = MASS_MIN,
            cart_depth: int = 3) -> Discovery:
    """PRIM and CART on inputs ``x`` (runs x inputs) and the runs of interest ``y``."""
    result = prim(x, y, peel_alpha, mass_min)
    chosen = choose_box(result, box, threshold)
    picked = result.boxes[chosen]
    if 0 < result.n_interest < result.n:
        picked = paste(x, y, picked, result.sample_low, result.sample_high, result.n_interest,
                       paste_alpha)
    p_values = quasi_p_values(x, y, picked, result.sample_low, result.sample_high)
    if 0 < result.n_interest < result.n:
        cart = cart_rules(x, y, list(labels), cart_depth, mass_min)
    else:
        cart = {"available": False, "reason": "every run or no run meets the condition"}
    result.settings.update(paste_alpha=paste_alpha, threshold=threshold)
    return Discovery(list(labels), list(relative or [False] * len(labels)), result, chosen,
                     picked, p_values, cart)
