"""Architectures shared by tests/test_formats.py and tests/test_certificates.py."""

from lossbounds.theory.architecture import Architecture

# (output, loss, l2, skip): the variants the format tests cover
VARIANTS = [
    ("linear", "mse", False, None),
    ("sigmoid", "mse", False, None),
    ("sigmoid", "bce", True, None),
    ("linear", "mse", False, "identity"),
    ("linear", "mse", True, "projection"),
]


def _arch(n, h, K, m, act="sigmoid", variant=VARIANTS[0]):
    out, loss, l2, skip = variant
    return Architecture(n, h, K, m, activation=act, output=out, loss=loss, l2=l2, skip=skip)
