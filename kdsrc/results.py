"""The results store: one JSON file a run, loaded into pandas and summarised over seeds.

Runs live under ``<results>/runs/<profile>/<method>/``; papers' reported numbers live, as cited
data, under ``<results>/reference/``. Nothing here trains.
"""
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

REPO_RESULTS = Path(__file__).resolve().parent.parent / "results"


def results_dir() -> Path:
    """``$KDSRC_RESULTS`` if set, else the repository's ``results/``."""
    return Path(os.environ.get("KDSRC_RESULTS", REPO_RESULTS))


def run_path(cfg, root: Path | None = None) -> Path:
    root = root or results_dir()
    return root / "runs" / cfg.profile / cfg.method / f"{cfg.model}_seed{cfg.seed}_{cfg.run_id()}.json"


def write_json(obj, path: Path) -> None:
    """Write JSON to a temporary file beside ``path``, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_run(path: Path) -> dict:
    """A stored run; a clear error naming the file if it is unreadable."""
    try:
        run = json.loads(Path(path).read_text())
        run["last_test_acc"], run["config"]  # noqa: B018 - the fields every run has
        return run
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"stored run: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "delete it to train the run again") from None


def to_frame(runs: list[dict]) -> pd.DataFrame:
    """One row a run: identity, the method's parameters, and the measured figures."""
    rows = []
    for run in runs:
        cfg = run["config"]
        rows.append({
            "method": cfg["method"], "model": cfg["model"],
            "teacher": cfg["teacher"] if cfg["method"] != "vanilla" else None,
            "seed": cfg["seed"], **cfg["method_params"],
            "last_acc": run["last_test_acc"], "best_acc": run["best_test_acc"],
            "best_epoch": run["best_epoch"], "epochs": cfg["epochs"],
            "final_train_loss": run["history"][-1]["train_loss"]["total"],
            "sec_per_epoch": run["seconds_per_epoch"], "peak_mem_mb": run["peak_memory_mb"],
            "params": run["parameters"], "run_id": run["run_id"],
        })
    return pd.DataFrame(rows)


def load_runs(profile: str | None = None, root: Path | None = None) -> pd.DataFrame:
    """Every stored run (of one profile, if given) as a DataFrame."""
    base = (root or results_dir()) / "runs"
    pattern = f"{profile}/*/*.json" if profile else "*/*/*.json"
    return to_frame([read_run(p) for p in sorted(base.glob(pattern))])


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


def cost(frame: pd.DataFrame, baseline: str = "student alone") -> pd.DataFrame:
    """Training seconds per epoch (mean over seeds) of the runs of the baseline's model, and the
    ratio to the baseline."""
    student = frame[frame.model == frame[frame.run == baseline].model.iloc[0]]
    out = student.groupby("run", sort=False).agg(sec_per_epoch=("sec_per_epoch", "mean"))
    out["ratio to alone"] = out["sec_per_epoch"] / out.loc[baseline, "sec_per_epoch"]
    return out.round(2)


def reference(name: str, root: Path | None = None) -> pd.DataFrame:
    """A table of papers' reported numbers (cited data, never our results)."""
    return pd.read_csv((root or REPO_RESULTS) / "reference" / f"{name}.csv")


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


BENCHES = ("method_costs", "teacher_cache", "pairs", "reference_loop")


def bench_path(profile: str, root: Path | None = None, kind: str = "method_costs") -> Path:
    """Where a profile's benchmark is stored: ``method_costs`` (``python -m kdsrc bench --costs``)
    or ``teacher_cache`` (``python -m kdsrc bench --teacher-cache``: the teacher on every batch
    against its cache),
    or ``pairs`` (the paper profile's teacher-student pairs: their images/second), or
    ``reference_loop`` (``python -m kdsrc bench``: our loop against RepDistiller's)."""
    if kind not in BENCHES:
        raise ValueError(f"kind: must be one of {list(BENCHES)}, got {kind!r}")
    return (root or results_dir()) / "bench" / profile / f"{kind}.json"


def method_costs_frame(costs: dict) -> pd.DataFrame:
    """A per-method cost measurement (:func:`kdsrc.bench.method_costs`) as a table, each figure
    also as a ratio to the student alone (``vanilla``)."""
    frame = pd.DataFrame(costs["methods"]).set_index("method")
    alone = frame.loc["vanilla"]
    return pd.DataFrame({
        "train img/s": frame["img_s"].round(0),
        "epoch time × alone": (alone["img_s"] / frame["img_s"]).round(2),
        "first-stage epoch × alone": (alone["img_s"] / frame["first_stage_img_s"]).round(2),
        "peak memory above start (MB)": frame["peak_memory_above_start_mb"].round(0),
        "extra parameters": frame["extra_parameters"],
        "extra params / student": (frame["extra_parameters"] / frame["student_parameters"]).round(3),
    }).reset_index()


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
    ratio and peak memory of its method (:func:`method_costs_frame`), its first-stage epochs and
    the trainable parameters it adds to the student. ``last_mean``/``last_std`` are kept for plots."""
    _, table = compare(runs)
    bench = method_costs_frame(costs).set_index("method").loc[[methods[label] for label in table.run]]
    first = [runs[label][0]["config"]["method_params"].get("init_epochs", 0) for label in table.run]
    out = table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone", "last_mean", "last_std"]].copy()
    out["epoch time × alone"] = bench["epoch time × alone"].values
    out["first-stage epochs"] = first
    out["first-stage epoch × alone"] = bench["first-stage epoch × alone"].values
    out["peak memory above start (MB)"] = bench["peak memory above start (MB)"].values
    out["extra parameters"] = [runs[label][0]["extra_parameters"] for label in table.run]
    return out


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


def final_loss_terms(groups: dict[str, list[dict]], digits: int = 3) -> pd.DataFrame:
    """Each loss term of the last training epoch, mean ± std over seeds, per labelled group of
    runs (a term a group's method lacks is left empty): for KD, the ``kd`` term says how closely
    the student ends up matching its teacher's softened outputs (Hinton et al. 2015, Sec. 2)."""
    rows = []
    for label, runs in groups.items():
        terms = pd.DataFrame([run["history"][-1]["train_loss"] for run in runs])
        rows.append({"run": label, **{term: _pm(terms[term].mean(), terms[term].std(), digits) for term in terms}})
    return pd.DataFrame(rows).fillna("")


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


def teacher_cache_table(measurement: dict, epochs: int) -> pd.DataFrame:
    """The stored teacher-cache benchmark (:func:`kdsrc.bench.bench`) as a table: seconds per
    training epoch of the student alone, of KD with the teacher on every batch and of KD reading
    the cache, each relative to the student alone; the one-off seconds to build the cache; and
    the number of ``epochs``-epoch KD runs after which the cache has paid for itself."""
    images = measurement["train_images"]
    modes = {"student alone": "student_alone_img_s", "KD, teacher on every batch": "kd_on_the_fly_img_s",
             "KD, cached teacher logits": "kd_cached_img_s"}
    seconds = {label: images / measurement[key] for label, key in modes.items()}
    saved_per_run = epochs * (seconds["KD, teacher on every batch"] - seconds["KD, cached teacher logits"])
    table = pd.DataFrame({"seconds per epoch": seconds,
                          "× alone": {label: s / seconds["student alone"] for label, s in seconds.items()}})
    table["one-off seconds"] = [0.0, 0.0, measurement["cache_build_seconds"]]
    table["runs to pay off"] = ["", "", f"{measurement['cache_build_seconds'] / saved_per_run:.1f}"
                                if saved_per_run > 0 else "never"]
    return table.round(2)


CRD = "Tian et al. 2020 (CRD)"
PLAN_ROLES = ("teacher", "student alone", "distilled")
# Our rows of a reproduced table and the names the cited tables give them.
CITED_ROW = {"teacher": "teacher", "vanilla": "student"}


def crd_reference(root: Path | None = None) -> pd.DataFrame:
    """The CRD paper's CIFAR-100 Tables 1 and 2 as cited in ``reference/kd.csv`` and ``ild.csv``
    (teacher, student alone and the book's methods that the paper ran; last-epoch accuracy)."""
    cited = pd.concat([reference(name, root) for name in ("kd", "ild")])
    return cited[cited.paper == CRD].reset_index(drop=True)


def cited_table(cited: pd.DataFrame, pairs) -> pd.DataFrame:
    """Cited accuracies one row per pair of ``pairs`` (``(table, teacher, student)`` items, in
    their order; a pair nothing is cited for is left out), one column per row of the paper's table."""
    wide = cited.pivot_table(index=["table", "teacher", "student"], columns="method", values="value")
    order = [tuple(pair) for pair in pairs if tuple(pair) in wide.index]
    return wide.reindex(index=order, columns=list(dict.fromkeys(cited.method))).rename_axis(columns=None)


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
            groups[method] = ours[match & ((ours.method == "vanilla") | (ours.teacher == teacher))]
        for row, frame in groups.items():
            if frame.empty:
                continue
            summary = summarise(frame.assign(row=row), by=["row"], digits=digits).iloc[0]
            paper = cited[(cited.teacher == teacher) & (cited.student == student)
                          & (cited.method == CITED_ROW.get(row, row))]
            value = paper.value.iloc[0] if len(paper) else None
            rows.append({"table": table, "teacher": teacher, "student": student,
                         "row": "student alone" if row == "vanilla" else row, "n": summary.n,
                         "last acc (%)": summary["last acc (%)"], "best acc (%)": summary["best acc (%)"],
                         "best epoch": round(frame.best_epoch.mean(), 1), "s/epoch": round(summary.sec_per_epoch, 1),
                         "paper": value,
                         "gap (last − paper)": None if value is None else round(summary.last_mean - value, digits),
                         "verified": paper.verified.iloc[0] if len(paper) else ""})
    return pd.DataFrame(rows, columns=columns)


def stored_bench(profile: str, kind: str, root: Path | None = None) -> dict | None:
    """A stored benchmark (:func:`bench_path`), or None when none was measured; never measures."""
    path = bench_path(profile, root, kind)
    return json.loads(path.read_text()) if path.exists() else None


def measured_on(bench: dict) -> str:
    """The machine a stored benchmark ran on: its GPU, else its CPU, else its device type."""
    return bench["hardware"].get("gpu") or bench["hardware"].get("cpu") or bench["device"]


def pair_epoch_times(bench: dict) -> pd.DataFrame:
    """A stored pairs benchmark as seconds per training epoch of each pair's teacher, student
    alone and KD (the benchmark's training images over its images/second), KD's epoch relative
    to the student alone's, and the stored reference throughput and ratio where it has them."""
    rows = []
    for pair in bench["pairs"]:
        ours = pair["ours"]
        epoch = {role: bench["train_images"] / ours[f"{role}_img_s"] for role in ("teacher", "student", "kd")}
        rows.append({"teacher": pair["teacher"], "student": pair["student"],
                     "teacher s/epoch": epoch["teacher"], "student s/epoch": epoch["student"],
                     "KD s/epoch": epoch["kd"],
                     "KD × alone": epoch["kd"] / epoch["student"],
                     "reference KD img/s": (pair.get("reference") or {}).get("kd_img_s"), "ratio": pair.get("ratio")})
    return pd.DataFrame(rows).round(2)


def projected_hours(bench: dict, plan_rows: pd.DataFrame) -> pd.DataFrame:
    """Training hours of a plan (:func:`kdsrc.reproduce.status` rows: table, role, teacher, model,
    method, epochs, init_epochs) projected from a stored pairs benchmark, per table and in all.
    A teacher trains ``epochs`` epochs at its measured rate, a student alone at the student's,
    a distilled run at its pair's KD rate, first-stage epochs included; an epoch is the
    benchmark's training images. A run whose rate was not measured leaves its sums empty."""
    images = bench["train_images"]
    rate = {}
    for pair in bench["pairs"]:
        rate.setdefault(("teacher", pair["teacher"]), pair["ours"]["teacher_img_s"])
        rate.setdefault(("student alone", pair["student"]), pair["ours"]["student_img_s"])
        rate[("distilled", pair["teacher"], pair["student"])] = pair["ours"]["kd_img_s"]
    rows = plan_rows.assign(key=[("distilled", t, m) if role == "distilled" else (role, m)
                                 for role, t, m in zip(plan_rows.role, plan_rows.teacher, plan_rows.model)])
    rows["hours"] = [(e + i) * images / rate[key] / 3600 if key in rate else float("nan")
                     for e, i, key in zip(rows.epochs, rows.init_epochs, rows.key)]
    grouped = rows.groupby(["table", "role"], sort=False)["hours"]
    hours = grouped.sum(min_count=1).where(grouped.count() == grouped.size())  # unmeasured: no sum
    hours = hours.unstack("role", fill_value=0.0).reindex(columns=PLAN_ROLES, fill_value=0.0).add_suffix(" (h)")
    hours.insert(0, "runs", rows.groupby("table", sort=False).size())
    hours.loc["all"] = hours.sum(skipna=False)
    hours["total (h)"] = hours.drop(columns="runs").sum(axis=1, skipna=False)
    return hours.round(1).rename_axis(columns=None)


def reference_loop_table(comparison: dict) -> pd.DataFrame:
    """A stored comparison of our loop with RepDistiller's (:func:`kdsrc.bench.reference_comparison`):
    images/second of each loop on each pair and its ratio to RepDistiller's loop."""
    paper, cpu = comparison["paper_pair"], comparison["cpu_pair"]
    reference = "RepDistiller-style (PIL workers, fp32, teacher every batch)"
    rows = [(paper, "fabricated CIFAR-size, batch 64", reference, paper["reference"]["kd_img_s"]),
            (paper, "", "ours (teacher every batch)", paper["ours"]["kd_img_s"]),
            (cpu, f"{cpu['dataset']}, batch {cpu['batch_size']}", reference, cpu["reference"]["kd_img_s"]),
            (cpu, "", "ours (teacher every batch)", cpu["ours"]["kd_img_s"]),
            (cpu, "", "ours (cached teacher logits)", cpu["ours"]["kd_cached_img_s"])]
    return pd.DataFrame([{"pair": f"{pair['teacher']} -> {pair['student']}", "data": data, "loop": loop,
                          "img/s": round(rate), "x RepDistiller-style": round(rate / pair["reference"]["kd_img_s"], 2)}
                         for pair, data, loop, rate in rows])


def _teacher_run_ids(runs: list[dict]) -> set[str]:
    """The run ids of the stored runs that other runs distil from: a single teacher (its
    ``teacher_run_id``) or every member of an ensemble teacher."""
    from .config import ConfigError, from_dict  # config builds on the distillers; read lazily

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
            "teacher": cfg["teacher"] if cfg["method"] != "vanilla" else None,
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
