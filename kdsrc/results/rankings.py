"""How a table's order of methods depends on what it reports, and which orders the spread allows."""
import itertools

import numpy as np
import pandas as pd


def rankings(frame: pd.DataFrame) -> pd.DataFrame:
    """The rank (1 = most accurate) of each group of ``frame`` (column ``run``, as from
    :func:`compare`) under each way a table could report it: the mean over seeds of the last-
    or of the best-epoch test accuracy, or a single seed's last- or best-epoch accuracy. Equal
    accuracies share the higher place."""
    order = list(dict.fromkeys(frame.run))
    columns = {f"mean, {kind} epoch": frame.groupby("run")[f"{kind}_acc"].mean() for kind in ("last", "best")}
    for seed, part in frame.groupby("seed"):
        for kind in ("last", "best"):
            columns[f"seed {seed}, {kind} epoch"] = part.set_index("run")[f"{kind}_acc"]
    accuracy = pd.DataFrame(columns).reindex(order)
    if accuracy.isna().any().any():
        raise ValueError("frame: every group needs a run of every seed to be ranked")
    return accuracy.rank(ascending=False, method="min").astype(int)


def _pairs_in_other_order(ranks: pd.DataFrame, reference: str, other: str) -> list[tuple[str, str]]:
    def order(column, a, b):
        return int(np.sign(ranks.at[a, column] - ranks.at[b, column]))
    return [(a, b) for a, b in itertools.combinations(ranks.index, 2) if order(reference, a, b) != order(other, a, b)]


def reordered_pairs(ranks: pd.DataFrame, reference: str = "mean, last epoch") -> pd.DataFrame:
    """For every ranking of :func:`rankings` but ``reference``: how many pairs of groups it puts
    in a different order from ``reference`` (a tie against an order counts as different), their
    share of all pairs, and which pairs they are."""
    if reference not in ranks.columns:
        raise ValueError(f"reference: must be one of {list(ranks.columns)}, got {reference!r}")
    total = len(ranks) * (len(ranks) - 1) // 2
    rows = []
    for column in ranks.columns.drop(reference):
        changed = _pairs_in_other_order(ranks, reference, column)
        rows.append({"ranking": column, "pairs in another order": len(changed),
                     "share of pairs": round(len(changed) / total, 2),
                     "which": "; ".join(f"{a} / {b}" for a, b in changed)})
    return pd.DataFrame(rows)


def pairs_within_spread(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The pairs of groups of ``frame`` whose mean last-epoch accuracies differ by less than the
    larger of their two seed standard deviations: the orders a table cannot be sure of."""
    stats = frame.groupby("run", sort=False)["last_acc"].agg(["mean", "std"])
    return [(a, b) for a, b in itertools.combinations(stats.index, 2)
            if abs(stats.at[a, "mean"] - stats.at[b, "mean"]) < max(stats.at[a, "std"], stats.at[b, "std"])]
