"""Experiments: resumable sweeps of measured cells, statistics, the claim analyses."""

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
    "INPUTS": "sweep",
    "MEASUREMENTS": "sweep",
    "Option": "sweep",
    "Measurement": "sweep",
    "measurement": "sweep",
    "SweepSpec": "sweep",
    "parse_spec": "sweep",
    "load_spec": "sweep",
    "cell_key": "sweep",
    "architecture": "sweep",
    "teacher_architecture": "sweep",
    "make_data": "sweep",
    "problem": "sweep",
    "run_cell": "sweep",
    "SweepReport": "sweep",
    "run_sweep": "sweep",
    "read_results": "sweep",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = attach(__name__, _NAMES)
