"""Small networks shared by tests/test_network.py and tests/test_symmetry.py."""

import numpy as np

from lossbounds.theory.architecture import Architecture

ACTIVATIONS = ["sigmoid", "tanh", "arctan", "softplus", "gaussian", "swish", "erf"]
SKIPS = [None, "identity", "projection"]
OUTPUTS = ["linear", "sigmoid"]


def arch_of(act="tanh", skip=None, output="linear", n=2, h=3, H=2, m=5):
    """An architecture with n inputs, H hidden layers of width h and m samples."""
    return Architecture(n, h, H, m, activation=act, output=output, skip=skip)


def data(n=2, m=5, seed=1):
    """Seeded standard-normal inputs of shape (m, n)."""
    return np.random.default_rng(seed).standard_normal((m, n))
