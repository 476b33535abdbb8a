"""Tests of the generated Euler kernel (tpsim.models.codegen): it gives the generic kernel's
answers, batches equal single runs exactly, the generated source is cached per structure outside
the package, and its lane loops are vectorised."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tpsim
from tpsim.config.scenario import load_scenario, scenario_from_dict
from tpsim.models import codegen
from tpsim.models import layout as lo
from tpsim.models.simulate import kernel_for, simulate
from tpsim.models.structure import compile_scenario
from conftest import GENERATED_KERNEL
from test_mechanisms import mechanism_dict

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.xdist_group(GENERATED_KERNEL)   # see tests/conftest.py

# FMA contraction pairs some multiply-adds differently in the two kernels; every state entry
# agrees to this relative tolerance (measured: ~1e-14 for totals, ~6e-12 for month-end values)
FMA_RTOL = 1e-11


@pytest.fixture(autouse=True)
def default_kernel(monkeypatch):
    """The kernel choice users get (conftest sets the generic one for the rest of the suite)."""
    monkeypatch.delenv("TPSIM_KERNEL", raising=False)


def perturbed(model, n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = model.theta(n)
    finite = np.isfinite(model.theta0)
    theta[:, finite] *= rng.uniform(0.8, 1.2, (n, int(finite.sum())))
    for block in (lo.P_PV_EFFECT, lo.P_PV_UPTAKE, lo.P_RV_FIXED_SHARE, lo.P_UTIL):
        cols = slice(model.po[block], model.po[block + 1])
        np.clip(theta[:, cols], 0.0, 1.0, out=theta[:, cols])
    return theta


def assert_kernels_agree(model, theta, ev=None) -> None:
    assert kernel_for(model) == "generated"
    fast = simulate(model, theta, ev, kernel_choice="generated")
    slow = simulate(model, theta, ev, kernel_choice="generic")
    scale = np.maximum(np.abs(slow.final).max(axis=0), 1.0)
    np.testing.assert_allclose(fast.final / scale, slow.final / scale, rtol=0, atol=FMA_RTOL)
    tscale = np.maximum(np.abs(slow.trajectory).max(axis=(0, 1)), 1.0)
    np.testing.assert_allclose(fast.trajectory / tscale, slow.trajectory / tscale, rtol=0,
                               atol=FMA_RTOL)


def everything_dict() -> dict:
    """The rich scenario with every mechanism switched on (tests/test_mechanisms.py), so one
    model has a pool that opens at month 6, doom-loop cuts of the unpooled services, queues at
    capacity, substitution, utilisation effects, recovery, short-run and persisting effects,
    credit, exit split, transitions between cohorts, employment and cashability, and two
    changes during the run."""
    d = mechanism_dict()
    d["changes"] = [{"month": 7, "set": {"services.falls_prevention.places": 0.0}},
                    {"month": 10, "set": {"services.reablement.places": 80.0}}]
    return d


@pytest.fixture(scope="module")
def everything():
    """The :func:`everything_dict` model (one generated-kernel compile for the whole module),
    perturbed parameters and both kernels' runs: (model, theta, generated run, generic run)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TPSIM_KERNEL", raising=False)
        model = compile_scenario(scenario_from_dict(everything_dict()))
        assert kernel_for(model) == "generated"
        theta = perturbed(model, 37, seed=5)
        fast = simulate(model, theta, kernel_choice="generated")
        slow = simulate(model, theta, kernel_choice="generic")
    return model, theta, fast, slow


def assert_blocks_agree(model, fast, slow, blocks) -> None:
    """The state blocks ``blocks`` agree between the two runs, through the whole trajectory,
    to FMA_RTOL of each entry's largest magnitude."""
    for b in blocks:
        cols = slice(model.xo[b], model.xo[b + 1])
        a, e = fast.trajectory[:, :, cols], slow.trajectory[:, :, cols]
        scale = np.maximum(np.abs(e).max(axis=(0, 1)), 1.0)
        np.testing.assert_allclose(a / scale, e / scale, rtol=0, atol=FMA_RTOL, err_msg=str(b))


def test_generated_equals_generic_on_every_entry(everything):
    model, theta, fast, slow = everything
    scale = np.maximum(np.abs(slow.final).max(axis=0), 1.0)
    np.testing.assert_allclose(fast.final / scale, slow.final / scale, rtol=0, atol=FMA_RTOL)
    tscale = np.maximum(np.abs(slow.trajectory).max(axis=(0, 1)), 1.0)
    np.testing.assert_allclose(fast.trajectory / tscale, slow.trajectory / tscale, rtol=0,
                               atol=FMA_RTOL)


def test_generated_equals_generic_with_a_pool(everything):
    model, _, fast, slow = everything
    pool = (lo.X_POOL_PLACES, lo.X_COMMUNITY, lo.X_CAPTURED, lo.X_POOL, lo.A_AG_CONTRIB,
            lo.A_AG_CAPTURE, lo.A_POOL_IN, lo.A_REINVESTED, lo.A_POOL_SPEND, lo.A_SETUP,
            lo.A_DOUBLE_RUNNING)
    assert_blocks_agree(model, fast, slow, pool)
    for b in (lo.A_POOL_IN, lo.A_AG_CAPTURE, lo.A_SETUP, lo.A_DOUBLE_RUNNING):
        assert slow.final[:, model.xo[b]:model.xo[b + 1]].min() > 0.0, b   # the pool did run


def test_generated_equals_generic_with_cuts_and_queues(everything):
    model, _, fast, slow = everything
    assert_blocks_agree(model, fast, slow, (lo.X_FUNDING, lo.X_RESERVES, lo.X_PERCEIVED,
                                            lo.X_WAITING, lo.X_CAPBASE, lo.A_BUDGET,
                                            lo.A_AG_SPEND, lo.A_AG_OVERHEAD))
    funding = slow.trajectory[:, :, model.xo[lo.X_FUNDING]:model.xo[lo.X_FUNDING + 1]]
    assert funding.min() < 0.99                       # the doom loop cut a service
    waiting = slow.trajectory[:, :, model.xo[lo.X_WAITING]:model.xo[lo.X_WAITING + 1]]
    assert waiting.max() > 0.0                        # a queue formed at capacity


def test_generated_equals_generic_with_every_mechanism(everything):
    """Substitution, utilisation effects, recovery, short-run and persisting effects, credit,
    exit split, transitions between cohorts, employment and cashability."""
    model, _, fast, slow = everything
    blocks = (lo.X_POP, lo.X_STAGE, lo.X_PERSIST, lo.A_ESC, lo.A_EXIT, lo.A_ACT_REACT,
              lo.A_VALUE_REACT, lo.A_REC, lo.A_DEATH, lo.A_TRANS_OUT, lo.A_TRANS_IN,
              lo.A_EMPLOYED, lo.A_EMPLOY_VALUE)
    assert_blocks_agree(model, fast, slow, blocks)
    for b in (lo.A_TRANS_IN, lo.A_DEATH, lo.A_EMPLOY_VALUE, lo.A_REC, lo.X_PERSIST):
        assert slow.final[:, model.xo[b]:model.xo[b + 1]].max() > 0.0, b


def test_generated_equals_generic_through_the_changes(everything):
    """The two changes (falls prevention's places closed at month 7, reablement at 80 places
    from month 10) act, and both kernels spend the same on each preventive service."""
    model, _, fast, slow = everything
    assert_blocks_agree(model, fast, slow, (lo.A_SPEND_PREV, lo.A_ACT_PREV, lo.A_TOTAL))
    def monthly_spend(name):   # column k: spend in month k + 1
        i = model.x_index(lo.A_SPEND_PREV, model.preventive.index(name))
        return np.diff(slow.trajectory[:, :, i], axis=1)

    falls, reablement = monthly_spend("falls_prevention"), monthly_spend("reablement")
    assert (falls[:, 7] < 0.1 * falls[:, 6]).all()               # only community places left
    assert (reablement[:, 10] > 1.15 * reablement[:, 9]).all()   # 80 places from month 10


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml")
                                        if p.name != "evidence.yaml"))
def test_generated_equals_generic_on_shipped_scenarios(name):
    model = compile_scenario(load_scenario(ROOT / "scenarios" / name))
    assert_kernels_agree(model, perturbed(model, 9, seed=7))


def test_batch_equals_single_runs_exactly(everything):
    model = everything[0]
    n = 3 * codegen.LANES + 5
    theta = perturbed(model, n, seed=11)
    ev = model.event_values(n) * np.random.default_rng(2).uniform(0.5, 1.5, (n, 1))
    batch = simulate(model, theta, ev)
    for k in (0, 1, codegen.LANES - 1, codegen.LANES, n - 1):
        single = simulate(model, theta[k:k + 1], ev[k:k + 1])
        np.testing.assert_array_equal(single.final[0], batch.final[k])
        np.testing.assert_array_equal(single.trajectory[0], batch.trajectory[k])
    record = np.array([model.x_index(lo.X_POP, 2), model.x_index(lo.A_TOTAL)])
    part = simulate(model, theta[4:9], ev[4:9], record=record)
    np.testing.assert_array_equal(part.trajectory, batch.trajectory[4:9][:, :, record])


def test_rk4_stays_on_the_generic_kernel(rich_scenario):
    d = rich_scenario()
    d["time"]["method"] = "rk4"
    assert kernel_for(compile_scenario(scenario_from_dict(d))) == "generic"


def test_a_model_past_the_size_limit_runs_on_the_generic_kernel(tiny_scenario_dict,
                                                                 monkeypatch):
    import tpsim.models.simulate as sim
    model = compile_scenario(scenario_from_dict(tiny_scenario_dict))
    assert kernel_for(model) == "generated"
    monkeypatch.setattr(sim, "GENERATED_MAX_STATES", model.nstate - 1)
    assert kernel_for(model) == "generic"
    assert kernel_for(model, "generated") == "generated"   # an explicit choice still holds


def test_cache_is_keyed_by_structure_and_lives_outside_the_package(tiny_scenario_dict,
                                                                    tmp_path, monkeypatch):
    monkeypatch.setenv("TPSIM_CACHE_DIR", str(tmp_path))
    base = compile_scenario(scenario_from_dict(tiny_scenario_dict))
    d = tiny_scenario_dict
    d["cohorts"]["older_people"]["states"]["independent"]["inflow"] = 75.0
    d["time"]["horizon"] = 12
    same = compile_scenario(scenario_from_dict(d))
    d["services"]["residential_care"]["utilisation"]["at_risk"] = 0.01  # a new (service, state) pair
    other = compile_scenario(scenario_from_dict(d))
    assert codegen.structure_key(base) == codegen.structure_key(same)
    assert codegen.structure_key(base) != codegen.structure_key(other)
    assert codegen.cache_dir() == tmp_path / "kernels"
    # the source is written under the cache directory, never into the package
    codegen._modules.pop(codegen.structure_key(base), None)
    module = codegen.load(base)
    path = Path(module.__file__).resolve()
    assert path.parent == (tmp_path / "kernels").resolve()
    package = Path(tpsim.__file__).resolve().parent
    assert package not in path.parents
    assert not list(package.rglob("tpsim_kernel_*"))
    assert codegen.load(same) is module
    source = path.read_text()
    assert "def euler_step" in source and "Do not edit" in source


def test_source_spells_out_the_structure(tiny_scenario_dict):
    model = compile_scenario(scenario_from_dict(tiny_scenario_dict))
    source = codegen.generate_source(model)
    # one escalation per state below the top, one recovery per state above the bottom
    assert len(re.findall(r"^\s+esc_\d+ = p\d+ ", source, re.M)) == model.npop - 1
    assert len(re.findall(r"^\s+rec_\d+ = p\d+ ", source, re.M)) == model.npop - 1
    loops = source.count("for l in range(L):")
    assert loops >= 1
    compile(source, "<generated>", "exec")


_VECTOR_CHECK = """
import re, sys, numpy as np
import llvmlite.binding as llvm
for kind in ("", "-missed", "-analysis"):
    llvm.set_option("", f"--pass-remarks{kind}=loop-vectorize")   # remarks go to stderr
from tpsim.config.scenario import load_scenario
from tpsim.models.structure import compile_scenario
from tpsim.models import codegen
model = compile_scenario(load_scenario(sys.argv[1]))
mod = codegen.load(model)
z = lambda k: np.zeros(k * mod.LANES)
mod.euler_step(0.0, 0.25, 4.0, 1.0, 1.0, mod.LANES, z(mod.NX), z(mod.NPAR), z(mod.NGROWTH),
               z(mod.NGROWTH), z(mod.NSLOT), z(mod.NAG), z(mod.NPREV + mod.NAG))
ir = "".join(mod.euler_step.inspect_llvm().values())
step = re.search(r"^define [^\\n]*euler_step.*?^}$", ir, re.M | re.S).group(0)
for op in ("fmul", "fadd"):
    scalar = len(re.findall(op + r" (?:[a-z]+ )*double ", step))
    vector = len(re.findall(op + r" (?:[a-z]+ )*<[248] x double>", step))
    print(op, scalar, vector)
"""


@pytest.mark.xdist_group("lane_vectorisation")   # a fresh compile of its own, in a subprocess
def test_lane_loops_are_vectorised(tmp_path):
    """LLVM's loop vectoriser reports every lane loop of the baseline's Euler step vectorised
    (its remarks, on stderr) and none missed; and every scalar multiply and add of the step
    has a SIMD twin (the scalar copies are the remainder loops), so no loop stayed scalar
    (a loop touching too many distinct pointers would)."""
    root = Path(__file__).resolve().parents[1]
    env = {"TPSIM_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _VECTOR_CHECK,
                          str(root / "scenarios" / "baseline.yaml")],
                         env=env, capture_output=True, text=True, check=True)
    remarks = [line for line in out.stderr.splitlines() if line.startswith("remark:")]
    assert any("vectorized loop" in r for r in remarks), out.stderr
    assert not [r for r in remarks if "not vectorized" in r], remarks
    counts = {op: (int(a), int(b)) for op, a, b in
              (line.split() for line in out.stdout.strip().splitlines()[-2:])}
    for op, (scalar, vector) in counts.items():
        assert scalar > 100 and vector >= scalar, (op, scalar, vector)
