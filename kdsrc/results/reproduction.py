"""A reproduced paper table beside the paper's numbers, and what its runs took to train."""
import pandas as pd

from ..config import ConfigError, from_dict
from ..distillers import ALONE, METHODS
from .cited import CITED_ROW
from .tables import summarise, to_frame




def reproduction_table(teachers: list[dict], students: list[dict], pairs, cited: pd.DataFrame,
                       digits: int = 2) -> pd.DataFrame:
    """Our runs of a paper's pairs beside its numbers: one row per pair (``(table, teacher,
    student)`` items) and row of the table that has runs (the teacher: ``teachers`` of that model;
    the student alone: vanilla ``students`` of the student; each method: ``students`` of that
    method, teacher and student), in the order the runs come. Seeds, last- and best-epoch test
    accuracy (mean ± std), the mean best epoch and seconds per epoch, the cited number and
    whether it was verified, and the gap: our mean last-epoch accuracy minus the cited number."""
    columns = ["table", "teacher", "student", "row", "n", "last acc (%)", "best acc (%)", "best epoch",
               "s/epoch", "paper", "gap (last − paper)", "verified"]
    ours, taught = to_frame(students), to_frame(teachers)
    rows = []
    for table, teacher, student in pairs:
        groups = {"teacher": taught[taught.model == teacher]} if len(taught) else {}
        for method in dict.fromkeys(ours.method) if len(ours) else ():
            match = (ours.method == method) & (ours.model == student)
            groups[method] = ours[match & ((ours.method == ALONE) | (ours.teacher == teacher))]
        for row, frame in groups.items():
            if frame.empty:
                continue
            summary = summarise(frame.assign(row=row), by=["row"], digits=digits).iloc[0]
            paper = cited[(cited.teacher == teacher) & (cited.student == student)
                          & (cited.method == CITED_ROW.get(row, row))]
            value = paper.value.iloc[0] if len(paper) else None
            rows.append({"table": table, "teacher": teacher, "student": student,
                         "row": "student alone" if row == ALONE else row, "n": summary.n,
                         "last acc (%)": summary["last acc (%)"], "best acc (%)": summary["best acc (%)"],
                         "best epoch": round(frame.best_epoch.mean(), 1), "s/epoch": round(summary.sec_per_epoch, 1),
                         "paper": value,
                         "gap (last − paper)": None if value is None else round(summary.last_mean - value, digits),
                         "verified": paper.verified.iloc[0] if len(paper) else ""})
    return pd.DataFrame(rows, columns=columns)


def _teacher_run_ids(runs: list[dict]) -> set[str]:
    """The run ids of the stored runs that other runs distil from: a single teacher (its
    ``teacher_run_id``) or every member of an ensemble teacher."""
    ids = {run["teacher_run_id"] for run in runs if run.get("teacher_run_id")}
    for run in runs:
        try:
            ids |= {member.run_id() for member in from_dict(run["config"]).teacher_configs()}
        except ConfigError:  # e.g. a teacher checkpoint not on this machine: its own id is recorded
            pass
    return ids


def training_times(runs: list[dict]) -> pd.DataFrame:
    """One row a stored run with what its training took: its role (``teacher`` when another of
    ``runs`` distils from it, alone or as an ensemble member, else ``student``), identity
    (method, model, teacher, ensemble size, mixing, seed, training subset: None is the whole
    training set), epochs and first-stage epochs, the mean and the fastest training seconds per
    epoch, the first stage's mean seconds per epoch, the seconds a run spent outside its training
    epochs (the test-set evaluation after every epoch, checkpoints) per evaluated epoch, the wall
    seconds of the session that trained it, and the machine it ran on."""
    teachers = _teacher_run_ids(runs)
    rows = []
    for run in runs:
        cfg, first = run["config"], run.get("first_stage") or {}
        epochs = [h["epoch_seconds"] for h in run["history"]]
        first_epochs = [h["epoch_seconds"] for h in first.get("history", [])]
        wall = run["wall_seconds_this_session"]
        rows.append({
            "role": "teacher" if run["run_id"] in teachers else "student",
            "method": cfg["method"], "model": cfg["model"],
            "teacher": cfg["teacher"] if METHODS[cfg["method"]].needs_teacher else None,
            "teacher_ensemble": cfg.get("teacher_ensemble", 1), "mixing": cfg.get("mixing", "none"),
            "seed": cfg["seed"], "train_subset": cfg["train_subset"],
            "epochs": len(epochs), "first_stage_epochs": len(first_epochs),
            "sec_per_epoch": run["seconds_per_epoch"], "fastest_epoch_s": min(epochs),
            "first_stage_sec_per_epoch": first.get("seconds_per_epoch"),
            "other_sec_per_epoch": (wall - sum(epochs) - sum(first_epochs)) / (len(epochs) + len(first_epochs)),
            "wall_s": wall, "machine": run["hardware"].get("gpu") or run["hardware"].get("cpu"),
            "cores": run["hardware"].get("cpu_count"), "run_id": run["run_id"],
        })
    return pd.DataFrame(rows)


def training_time_table(times: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """:func:`training_times` rows summed per group of ``by``: the number of runs, their wall
    minutes in all and per run, the mean, smallest and largest of their runs' training seconds
    per epoch and the mean first-stage seconds per epoch (empty without a first stage)."""
    grouped = times.groupby(by, sort=False, dropna=False)
    out = grouped.agg(runs=("run_id", "count"), minutes=("wall_s", "sum"),
                      s_epoch=("sec_per_epoch", "mean"), s_epoch_min=("sec_per_epoch", "min"),
                      s_epoch_max=("sec_per_epoch", "max"),
                      first_stage=("first_stage_sec_per_epoch", "mean")).reset_index()
    out["minutes"] = out["minutes"] / 60
    out.insert(out.columns.get_loc("minutes") + 1, "minutes per run", out["minutes"] / out["runs"])
    out = out.rename(columns={"minutes": "minutes in all", "s_epoch": "s/epoch (mean)", "s_epoch_min": "s/epoch (min)",
                              "s_epoch_max": "s/epoch (max)", "first_stage": "first-stage s/epoch"})
    return out.round(2)
