"""Papers' reported numbers, kept as cited data under ``results/reference/`` (never our results)."""
from pathlib import Path

import pandas as pd

from .. import store
from ..distillers import ALONE


def reference(name: str, root: Path | None = None) -> pd.DataFrame:
    """A table of papers' reported numbers (cited data, never our results)."""
    return pd.read_csv(store.reference_path(name, root))


def cited_gains(cited: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per teacher-student pair of a cited table: teacher, student alone, ``method``, gain."""
    roles = {"teacher": "teacher acc", "student": "student acc", method: f"{method} acc"}
    rows = cited[cited.method.isin(roles)].assign(method=lambda f: f.method.map(roles))
    table = rows.pivot_table(index=["paper", "table", "teacher", "student"], columns="method",
                             values="value", sort=False).reset_index()
    table[f"{method} gain"] = (table[f"{method} acc"] - table["student acc"]).round(2)
    provenance = rows.groupby(["paper", "table", "teacher", "student"], sort=False)[["verified", "source"]].first()
    table = table.merge(provenance.reset_index(), on=["paper", "table", "teacher", "student"])
    return table[["paper", "table", "teacher", "student", *roles.values(), f"{method} gain", "verified", "source"]]


def cited_gain_summary(cited: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per method and cited table, the method's gain over the student alone
    (:func:`cited_gains`) summarised over the table's teacher-student pairs: mean, smallest,
    largest and number of pairs, with whether the numbers were verified at their source."""
    rows = []
    for method in methods:
        for (paper, name), part in cited.groupby(["paper", "table"], sort=False):
            if not {method, "student"} <= set(part.method):
                continue
            gains = cited_gains(part, method)[f"{method} gain"].dropna()
            if gains.empty:
                continue
            rows.append({"method": method, "paper": paper, "table": name, "pairs": len(gains),
                         "mean gain": round(gains.mean(), 2), "smallest": gains.min(), "largest": gains.max(),
                         "verified": "/".join(sorted(set(part.loc[part.method == method, "verified"])))})
    return pd.DataFrame(rows)


CRD = "Tian et al. 2020 (CRD)"
CRD_FILES = ("kd", "ild", "zoo")  # the cited-data files (reference/kd.csv, ild.csv, zoo.csv) that hold its tables


# Our rows of a reproduced table and the names the cited tables give them.
CITED_ROW = {"teacher": "teacher", ALONE: "student"}


def crd_reference(root: Path | None = None) -> pd.DataFrame:
    """The CRD paper's CIFAR-100 Tables 1 and 2 as cited in ``reference/kd.csv``, ``ild.csv`` and
    ``zoo.csv`` (teacher, student alone and the book's methods that the paper ran; last-epoch
    accuracy)."""
    cited = pd.concat([reference(name, root) for name in CRD_FILES])
    return cited[cited.paper == CRD].reset_index(drop=True)


def cited_table(cited: pd.DataFrame, pairs) -> pd.DataFrame:
    """Cited accuracies one row per pair of ``pairs`` (``(table, teacher, student)`` items, in
    their order; a pair nothing is cited for is left out), one column per row of the paper's table
    (the index levels are the table and the pair's networks, ``teacher network``/``student network``,
    so they are not mistaken for the ``teacher`` and ``student`` rows' accuracies)."""
    wide = cited.pivot_table(index=["table", "teacher", "student"], columns="method", values="value")
    order = [tuple(pair) for pair in pairs if tuple(pair) in wide.index]
    return (wide.reindex(index=order, columns=list(dict.fromkeys(cited.method)))
            .rename_axis(index=["table", "teacher network", "student network"], columns=None))
