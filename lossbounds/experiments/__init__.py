"""Experiments: resumable sweeps of measured cells, statistics, the claim analyses.

A sweep is a spec (:mod:`.spec`) of cells (:mod:`.cell`), each measured
(:mod:`.measurements`) into one row of a results table (:mod:`.table`) by the
runner (:mod:`.run`); :mod:`.stats` and :mod:`.claims` analyse the tables.
"""

from lossbounds._lazy import attach

_NAMES = {
    "load_table": "claims",
    "select": "claims",
    "groups": "claims",
    "common_datasets": "claims",
    "stale_bounds": "claims",
    "CellEstimate": "claims",
    "cell_estimates": "claims",
    "paired_comparison": "claims",
    "direction": "claims",
    "verdict": "claims",
    "trends": "claims",
    "bound_vs_measured": "claims",
    "shrink_spec": "claims",
    "quick_table": "claims",
    "Estimate": "stats",
    "bootstrap_ci": "stats",
    "PairedTest": "stats",
    "paired_test": "stats",
    "RankCorrelation": "stats",
    "spearman_ci": "stats",
    "TrendTest": "stats",
    "trend_test": "stats",
    "INPUTS": "cell",
    "Option": "cell",
    "cell_key": "cell",
    "architecture": "cell",
    "teacher_architecture": "cell",
    "make_data": "cell",
    "problem": "cell",
    "MEASUREMENTS": "measurements",
    "Measurement": "measurements",
    "measurement": "measurements",
    "run_cell": "measurements",
    "cell_from_row": "measurements",
    "SweepSpec": "spec",
    "parse_spec": "spec",
    "load_spec": "spec",
    "read_results": "table",
    "SweepReport": "run",
    "run_sweep": "run",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = attach(__name__, _NAMES)
