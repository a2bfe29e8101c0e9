"""The stored results as the book's tables; nothing here trains.

:mod:`.tables` (runs as frames, mean ± std over seeds, paired gains, costs), :mod:`.cited` (papers'
numbers as cited data), :mod:`.rankings` (how reporting choices reorder a table),
:mod:`.bench_tables` (stored benchmarks), :mod:`.reproduction` (a reproduced paper table, training
times), :mod:`.stats` (paired differences and their intervals), :mod:`.convergence` (the
convergence study's table), :mod:`.display` (a table as a page shows it). The store's readers and paths the notebooks use are here too.
"""
from ..store import bench_path, read_run, results_dir, run_path, stored_bench, write_json
from .bench_tables import (PLAN_ROLES, cache_build_hours, measured_on, method_costs_frame, pair_epoch_times, projected_hours, run_hours,
                           reference_loop_table, teacher_cache_table)
from .display import Table, show, show_cited
from .convergence import PLATEAU_BAR, convergence_table, plateau_gain, settled_epochs
from .cited import CITED_ROW, CRD, cited_gain_summary, cited_gains, cited_table, crd_reference, reference
from .rankings import pairs_within_spread, rankings, reordered_pairs
from .reproduction import reproduction_table, training_time_table, training_times
from .stats import paired_difference, paired_gains, t_quantile, verdict
from .tables import (agreement, compare, cost, final_loss_terms, first_stage_seconds, first_stage_table, load_runs,
                     method_summary, paired_gain, summarise, to_frame)

__all__ = ["PLATEAU_BAR", "Table", "show", "show_cited", "convergence_table", "plateau_gain", "settled_epochs", "paired_difference", "paired_gains", "t_quantile", "verdict", "agreement",
           "stored_bench", "bench_path", "read_run", "results_dir", "run_path", "write_json", "measured_on",
           "method_costs_frame", "cache_build_hours", "pair_epoch_times", "projected_hours", "run_hours", "reference_loop_table", "teacher_cache_table",
           "CITED_ROW", "CRD", "cited_gain_summary", "cited_gains", "cited_table", "crd_reference", "reference",
           "pairs_within_spread", "rankings", "reordered_pairs", "PLAN_ROLES", "reproduction_table",
           "training_time_table", "training_times", "compare", "cost", "final_loss_terms", "first_stage_seconds",
           "first_stage_table", "load_runs", "method_summary", "paired_gain", "summarise", "to_frame"]
