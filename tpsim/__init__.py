"""tpsim: a system-dynamics simulator of prevention versus reactive public spend in a place."""

__version__ = "0.1.0"
