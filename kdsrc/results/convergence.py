"""Has training converged? A run's plateau (what the last part of its training added), and the
convergence study's table: how far doubling the training moves each method, against the spread
between seeds, and the profile length it supports (chapter 1)."""
import pandas as pd

# A run is at its plateau when its last fifth added less than this to its validation accuracy
# (points; chapter 1's bar for the teacher).
PLATEAU_BAR = 0.2


def convergence_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per method and training length (runs of :func:`~kdsrc.results.to_frame`): mean and
    sample std over seeds of the final validation and test accuracy; then, where the doubled
    length was run, the change of the validation mean when the epochs double, the seed spread it
    is held against (the larger of the two lengths' validation stds) and whether it is smaller."""
    grouped = frame.groupby(["method", "epochs"], sort=True)
    table = grouped.agg(n=("seed", "count"), val_mean=("val_acc", "mean"), val_std=("val_acc", "std"),
                        test_mean=("last_acc", "mean"), test_std=("last_acc", "std")).reset_index()
    keyed = table.set_index(["method", "epochs"])
    # row (method, E) of `doubled` is the row of (method, 2E), where that length was run
    doubled = table[table.epochs % 2 == 0].assign(epochs=lambda t: t.epochs // 2).set_index(["method", "epochs"])
    later = doubled.reindex(keyed.index)
    table["change at 2E"] = (later.val_mean - keyed.val_mean).values
    table["seed spread"] = pd.concat([keyed.val_std, later.val_std], axis=1).max(axis=1).where(later.val_mean.notna()).values
    table["settled"] = (table["change at 2E"].abs() < table["seed spread"]).where(table["change at 2E"].notna())
    return table


def settled_epochs(table: pd.DataFrame, methods: list[str] | None = None) -> int | None:
    """The shortest length at which doubling moves the validation accuracy of none of ``methods``
    (default: every method of the table) by its seed spread or more (:func:`convergence_table`),
    or None when no measured length is settled for all of them."""
    if methods is not None:
        unknown = sorted(set(methods) - set(table["method"]))
        if unknown:
            raise ValueError(f"settled_epochs: methods must be among the table's {sorted(set(table['method']))}, "
                             f"got {unknown}")
        table = table[table["method"].isin(methods)]
    lengths = [epochs for epochs, part in table.groupby("epochs")
               if part["settled"].notna().all() and part["settled"].astype(bool).all()]
    return min(lengths) if lengths else None


def plateau_gain(run: dict, fraction: float = 0.2, metric: str = "val_acc") -> float:
    """What the last ``fraction`` of a run's epochs added to ``metric`` (points): its value at the
    last epoch minus its value at the last evaluated epoch before that stretch began. A run is
    at its plateau when this is below :data:`PLATEAU_BAR`."""
    history = [h for h in run["history"] if h[metric] is not None]
    start = len(run["history"]) * (1 - fraction)
    before = [h for h in history if h["epoch"] <= start]
    if not before:
        raise ValueError(f"plateau_gain: no evaluated epoch before the last {fraction:.0%} of the run")
    return history[-1][metric] - before[-1][metric]
