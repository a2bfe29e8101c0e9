"""Tables as a page shows them: headers in words, no index column, no missing-value markers, and
no text cut short (a cited number's source is shown whole)."""
import html

import pandas as pd

# Column names of the run frames (:func:`kdsrc.results.to_frame`, :func:`~kdsrc.results.summarise`,
# :func:`~kdsrc.results.cost`) in words; any other snake_case name has its underscores read as spaces.
HEADERS = {
    "last_acc": "last-epoch test acc. (%)", "best_acc": "best-epoch test acc. (%)", "val_acc": "validation acc. (%)",
    "best_epoch": "best epoch", "final_train_loss": "final training loss", "sec_per_epoch": "s / epoch",
    "peak_mem_mb": "peak memory (MB)", "params": "parameters", "run_id": "run id", "n": "seeds",
    "last_mean": "last-epoch mean (%)", "last_std": "last-epoch std", "best_mean": "best-epoch mean (%)",
    "best_std": "best-epoch std", "run": "run", "ce_weight": "CE weight", "kd_weight": "KD weight",
}
MISSING = "–"  # what an empty cell shows


def header(name) -> str:
    """``name`` in words (:data:`HEADERS`, else its underscores as spaces)."""
    text = str(name)
    return HEADERS.get(text, text.replace("_", " "))


class Table:
    """A frame shown without its index, headers in words, missing values as :data:`MISSING`,
    every cell whole; the same text for the page (HTML) and for a plain-text reader."""

    def __init__(self, frame: pd.DataFrame, missing: str = MISSING, notes: list[str] | None = None):
        keep_index = _has_meaningful_index(frame)
        if keep_index and set(frame.index.names) & set(frame.columns):
            raise ValueError(f"show: the index levels {frame.index.names} would repeat columns of the table; rename them")
        shown = frame.reset_index() if keep_index else frame.reset_index(drop=True)
        shown = shown.rename(columns=header).astype(object)
        self.frame = shown.where(shown.notna(), missing)
        self.notes = list(notes or [])

    def _repr_html_(self) -> str:
        with pd.option_context("display.max_colwidth", None):
            table = self.frame.to_html(index=False, border=0, classes="dataframe kd-table")
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        return table + (f'<ol class="kd-table-notes">{notes}</ol>' if notes else "")

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", 10_000):
            text = self.frame.to_string(index=False)
        return "\n".join([text, *(f"[{k}] {note}" for k, note in enumerate(self.notes, 1))])


def _has_meaningful_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return index.nlevels > 1 or index.name is not None or not isinstance(index, pd.RangeIndex)


def show(frame: pd.DataFrame, missing: str = MISSING) -> Table:
    """``frame`` as a page shows it (:class:`Table`)."""
    return Table(frame, missing)


def show_cited(frame: pd.DataFrame) -> Table:
    """A table of papers' numbers (rows with ``paper``, ``table``, ``verified`` and ``source``
    columns, as :func:`kdsrc.results.cited_gains` gives them) as a page shows it: each row's
    provenance becomes a numbered note under the table, written out whole ("Tian et al. 2020
    (CRD), Table 1; verified against: authors' README; source: ..."), and the row keeps only its
    note's number, so the numbers stay in a compact grid."""
    provenance = ["paper", "table", "verified", "source"]
    keys = list(dict.fromkeys(map(tuple, frame[provenance].itertuples(index=False))))
    notes = [f"{paper}, {table}; verified against: {verified}; source: {source}" for paper, table, verified, source in keys]
    number = {key: k for k, key in enumerate(keys, 1)}
    shown = frame.drop(columns=provenance).assign(
        source=[f"[{number[key]}]" for key in map(tuple, frame[provenance].itertuples(index=False))])
    return Table(shown, notes=notes)
