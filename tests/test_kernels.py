"""The same results under other floating-point kernels (subprocesses, see lossbounds.topology.agreement).

The reference is the run under the default kernels: a measurement passes
when every other setting gives identical discrete results (numbers of
points, indices, hits, refined flags, rounds) and values within 1e-12,
far below the 1e-8 at which they are compared with exact references.
"""

import pytest

from lossbounds.topology.agreement import KERNEL_SETTINGS, kernel_agreement


@pytest.mark.parametrize(
    ("case", "settings"),
    [
        ("wells_tree", list(KERNEL_SETTINGS)),
        ("wells_critical", ["default", "openblas-haswell", "openblas-skylakex", "aten-avx2"]),
    ],
)
def test_same_results_under_every_kernel_setting(case, settings):
    rows = kernel_agreement(case, settings)
    assert [r["setting"] for r in rows] == settings
    for r in rows:
        assert r["same_discrete"], r
        assert r["max_value_diff"] <= 1e-12, r


def test_agreement_rejects_unknown_names():
    with pytest.raises(ValueError, match="case must be one of"):
        kernel_agreement("nope")
    with pytest.raises(ValueError, match="settings must be keys"):
        kernel_agreement("wells_tree", settings=["amd"])
