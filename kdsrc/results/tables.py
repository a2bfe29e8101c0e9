"""Stored runs as tables: one row a run, mean ± std over seeds, paired gains, costs, first stages."""
from pathlib import Path

import pandas as pd

from .. import store
from ..distillers import METHODS
from ..validate import ConfigError
from .bench_tables import method_costs_frame


def to_frame(runs: list[dict]) -> pd.DataFrame:
    """One row a run: identity, the method's parameters, and the measured figures."""
    rows = []
    for run in runs:
        cfg = run["config"]
        rows.append({
            "method": cfg["method"], "model": cfg["model"],
            "teacher": cfg["teacher"] if METHODS[cfg["method"]].needs_teacher else None,
            "seed": cfg["seed"], **cfg["method_params"],
            "last_acc": run["last_test_acc"], "best_acc": run["best_test_acc"], "val_acc": run.get("last_val_acc"),
            "best_epoch": run["best_epoch"], "epochs": cfg["epochs"],
            "final_train_loss": run["history"][-1]["train_loss"]["total"],
            "sec_per_epoch": run["seconds_per_epoch"], "peak_mem_mb": run["peak_memory_mb"],
            "params": run["parameters"], "run_id": run["run_id"],
        })
    return pd.DataFrame(rows)


def agreement(classes, reference) -> float:
    """Top-1 agreement (%) of two networks: the share of images on which their predicted classes
    (:func:`kdsrc.experiment.predictions`) are the same."""
    if classes.shape != reference.shape:
        raise ValueError(f"agreement: predictions of {tuple(classes.shape)} and {tuple(reference.shape)} images differ")
    return 100.0 * (classes.long() == reference.long()).float().mean().item()


def load_runs(profile: str | None = None, root: Path | None = None) -> pd.DataFrame:
    """Every stored run (of one profile, if given) as a DataFrame."""
    return to_frame([store.read_run(p) for p in store.run_files(profile, root)])


def summarise(frame: pd.DataFrame, by: list[str], digits: int = 2) -> pd.DataFrame:
    """Mean ± sample std over seeds of last- and best-epoch accuracy, with n and cost."""
    grouped = frame.groupby(by, dropna=False, sort=False)
    out = grouped.agg(n=("seed", "count"), last_mean=("last_acc", "mean"), last_std=("last_acc", "std"),
                      best_mean=("best_acc", "mean"), best_std=("best_acc", "std"),
                      sec_per_epoch=("sec_per_epoch", "mean")).reset_index()
    for kind in ("last", "best"):
        out[f"{kind} acc (%)"] = [_pm(m, s, digits) for m, s in zip(out[f"{kind}_mean"], out[f"{kind}_std"])]
    return out


def _pm(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def paired_gain(frame: pd.DataFrame, baseline: pd.DataFrame, digits: int = 2) -> str:
    """Mean ± std over seeds of (run - baseline run of the same seed), last-epoch accuracy."""
    merged = frame.merge(baseline[["seed", "last_acc"]], on="seed", suffixes=("", "_base"))
    gain = merged["last_acc"] - merged["last_acc_base"]
    return _pm(gain.mean(), gain.std(), digits)


def compare(groups: dict[str, list[dict]], baseline: str = "student alone") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs of several labelled groups as one frame (column ``run``), and their summary table:
    mean ± std over seeds (:func:`summarise`), the mean final training loss, and, for every group
    of the baseline's model, the paired gain over ``baseline`` (:func:`paired_gain`)."""
    frame = to_frame([run for runs in groups.values() for run in runs])
    frame["run"] = [label for label, runs in groups.items() for _ in runs]
    table = summarise(frame, by=["run", "model"])
    base = frame[frame.run == baseline]
    table["paired gain over alone"] = [
        paired_gain(frame[frame.run == label], base) if model == base.model.iloc[0] and label != baseline else ""
        for label, model in zip(table.run, table.model)]
    table["final train loss"] = frame.groupby("run", sort=False)["final_train_loss"].mean().round(4).values
    return frame, table


def cost(frame: pd.DataFrame, baseline: str = "student alone", groups: dict[str, list[dict]] | None = None,
         first_stage: bool = False, extra_parameters: bool = False) -> pd.DataFrame:
    """Training seconds per epoch (mean over seeds) of the runs of the baseline's model, and the
    ratio to the baseline, one row per group of ``frame`` (:func:`compare`), rounded to 2
    decimals. From ``groups``, the labelled runs of ``frame``, it adds on request the first
    stage's seconds per epoch of each two-stage group (``first_stage``, :func:`first_stage_seconds`;
    empty for the others) and the trainable parameters each group's method adds to the student
    (``extra_parameters``)."""
    if (first_stage or extra_parameters) and groups is None:
        raise ConfigError("groups: first_stage and extra_parameters are read from the runs; give the groups")
    student = frame[frame.model == frame[frame.run == baseline].model.iloc[0]]
    out = student.groupby("run", sort=False).agg(sec_per_epoch=("sec_per_epoch", "mean"))
    out["ratio to alone"] = out["sec_per_epoch"] / out.loc[baseline, "sec_per_epoch"]
    if first_stage:
        out["first stage s/epoch"] = pd.Series({label: first_stage_seconds(runs) for label, runs in groups.items()
                                                if runs[0].get("first_stage")})
    if extra_parameters:
        out["extra parameters"] = pd.Series({label: runs[0]["extra_parameters"] for label, runs in groups.items()})
    return out.round(2)


def first_stage_table(runs: list[dict]) -> pd.DataFrame:
    """The first stage of two-stage runs: its loss terms per epoch (rows) and seed (columns)."""
    rows = [{"seed": run["config"]["seed"], "epoch": h["epoch"], "term": term, "loss": value}
            for run in runs for h in run["first_stage"]["history"]
            for term, value in h["train_loss"].items() if term != "total"]
    frame = pd.DataFrame(rows)
    return frame.pivot_table(index=["term", "epoch"], columns="seed", values="loss").rename(columns=lambda s: f"seed {s}")


def first_stage_seconds(runs: list[dict]) -> float:
    """Seconds per epoch of the first stage, mean over runs."""
    return sum(run["first_stage"]["seconds_per_epoch"] for run in runs) / len(runs)


def method_summary(runs: dict[str, list[dict]], costs: dict, methods: dict[str, str]) -> pd.DataFrame:
    """One row per labelled group of runs (``methods`` maps each label to its method): accuracy
    and paired gain (:func:`compare`), the controlled benchmark's epoch-time ratio, first-stage
    ratio and peak memory of its method (:func:`method_costs_frame`), its first-stage epochs, the
    trainable parameters it adds to the student, and its whole run's training time over the
    student alone's (``run time × alone``: the epochs at the epoch-time ratio plus the first
    stage's epochs at theirs, over the epochs). ``last_mean``/``last_std`` are kept for plots."""
    _, table = compare(runs)
    bench = method_costs_frame(costs).set_index("method").loc[[methods[label] for label in table.run]]
    first = [runs[label][0]["config"]["method_params"].get("init_epochs", 0) for label in table.run]
    out = table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone", "last_mean", "last_std"]].copy()
    out["epoch time × alone"] = bench["epoch time × alone"].values
    out["first-stage epochs"] = first
    out["first-stage epoch × alone"] = bench["first-stage epoch × alone"].values
    out["peak memory above start (MB)"] = bench["peak memory above start (MB)"].values
    out["extra parameters"] = [runs[label][0]["extra_parameters"] for label in table.run]
    epochs = [runs[label][0]["config"]["epochs"] for label in table.run]
    out["run time × alone"] = [(e * ratio + f * (0.0 if pd.isna(first_ratio) else first_ratio)) / e
                               for e, ratio, f, first_ratio in zip(epochs, out["epoch time × alone"], first,
                                                                   out["first-stage epoch × alone"])]
    return out


def final_loss_terms(groups: dict[str, list[dict]], digits: int = 3) -> pd.DataFrame:
    """Each loss term of the last training epoch, mean ± std over seeds, per labelled group of
    runs (a term a group's method lacks is left empty): for KD, the ``kd`` term says how closely
    the student ends up matching its teacher's softened outputs (Hinton et al. 2015, Sec. 2)."""
    rows = []
    for label, runs in groups.items():
        terms = pd.DataFrame([run["history"][-1]["train_loss"] for run in runs])
        rows.append({"run": label, **{term: _pm(terms[term].mean(), terms[term].std(), digits) for term in terms}})
    return pd.DataFrame(rows).fillna("")
