"""Model structure (compiled arrays), the numba kernel, a numpy reference and the simpy model."""
