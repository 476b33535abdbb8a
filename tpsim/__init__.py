"""tpsim: a system-dynamics simulator of prevention versus reactive public spend in a place.

The Python API (docs/python.md) is imported on first use, so ``import tpsim`` and the command
line stay fast::

    import tpsim
    results = tpsim.run("scenarios/pooled_prevention.yaml")
    results.to_xarray()
"""

__version__ = "0.1.0"

_API = ("load", "run", "compare", "ensemble", "sensitivity", "calibrate", "Comparison",
        "Option", "EnsembleResult", "SensitivityResult", "Calibration", "place_init",
        "places_compare", "initial_state", "BayesCalibration", "LearningResult", "learn",
        "evidence", "discover", "DiscoveryResult", "optimise", "OptimisationResult")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from tpsim import api
        return getattr(api, name)
    raise AttributeError(f"module 'tpsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
