"""Stored benchmarks as tables: method costs, the teacher cache, the paper pairs, our loop against RepDistiller's."""
import pandas as pd

from ..distillers import ALONE

PLAN_ROLES = ("teacher", "student alone", "distilled")  # the roles of a reproduce plan's runs


def _range(spread: dict | None) -> str:
    return f"{spread['min']:.2f} to {spread['max']:.2f}" if spread else ""


def method_costs_frame(costs: dict) -> pd.DataFrame:
    """A per-method cost measurement (:func:`kdsrc.bench.measure_method_costs`) as a table, each figure
    also as a ratio to the student alone (``vanilla``): the epoch ratio is the median of the ratios
    within a round, with its range over the rounds where the measurement has rounds."""
    frame = pd.DataFrame(costs["methods"]).set_index("method")
    alone = frame.loc[ALONE]
    spreads = costs.get("spreads", {})
    ratio = pd.Series({m: spreads[m]["epoch_ratio"]["median"] if "epoch_ratio" in spreads.get(m, {})
                       else alone["img_s"] / frame.at[m, "img_s"] for m in frame.index})
    span = {"range over rounds": pd.Series({m: _range(spreads.get(m, {}).get("epoch_ratio")) for m in frame.index})}
    return pd.DataFrame({
        "train img/s": frame["img_s"].round(0),
        "epoch time × alone": ratio.round(2),
        **(span if spreads else {}),
        "first-stage epoch × alone": (alone["img_s"] / frame["first_stage_img_s"]).round(2),
        "peak memory above start (MB)": frame["peak_memory_above_start_mb"].round(0),
        "extra parameters": frame["extra_parameters"],
        "extra params / student": (frame["extra_parameters"] / frame["student_parameters"]).round(3),
    }).rename_axis("method").reset_index()


def teacher_cache_table(measurement: dict, epochs: int) -> pd.DataFrame:
    """The stored teacher-cache benchmark (:func:`kdsrc.bench.teacher_cache`) as a table: seconds per
    training epoch of the student alone, of KD with the teacher on every batch and of KD reading
    the cache (medians over the rounds), each relative to the student alone (the median of the
    ratios within a round, with their range over the rounds where it has rounds); the one-off
    seconds to build the cache; and the number of ``epochs``-epoch KD runs after which the cache
    has paid for itself."""
    images = measurement["train_images"]
    modes = {"student alone": "student_alone", "KD, teacher on every batch": "kd_on_the_fly",
             "KD, cached teacher logits": "kd_cached"}
    seconds = {label: images / measurement[f"{mode}_img_s"] for label, mode in modes.items()}
    saved_per_run = epochs * (seconds["KD, teacher on every batch"] - seconds["KD, cached teacher logits"])
    rounds = measurement.get("repeats", {})
    table = pd.DataFrame({
        "seconds per epoch": seconds,
        "× alone": {label: measurement.get(f"{mode}_epoch_ratio", seconds[label] / seconds["student alone"])
                    for label, mode in modes.items()},
        **({"range over rounds": {label: _range(rounds.get(f"{mode}_epoch_ratio")) for label, mode in modes.items()}}
           if rounds else {})})
    table["one-off seconds"] = [0.0, 0.0, measurement["cache_build_seconds"]]
    table["runs to pay off"] = ["", "", f"{measurement['cache_build_seconds'] / saved_per_run:.1f}"
                                if saved_per_run > 0 else "never"]
    return table.round(2)


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
        epoch = {label: bench["train_images"] / ours[key] for label, key in
                 (("teacher s/epoch", "teacher_img_s"), ("student s/epoch", "student_img_s"), ("KD s/epoch", "kd_img_s"))}
        rows.append({"teacher": pair["teacher"], "student": pair["student"], **epoch,
                     "KD × alone": epoch["KD s/epoch"] / epoch["student s/epoch"],
                     "reference KD img/s": (pair.get("reference") or {}).get("kd_img_s"), "ratio": pair.get("ratio")})
    return pd.DataFrame(rows).round(2)


def _training_rates(bench: dict, cached: bool) -> dict:
    rate = {}
    for pair in bench["pairs"]:
        ours = pair["ours"]
        rate.setdefault(("teacher", pair["teacher"]), ours["teacher_img_s"])
        rate.setdefault(("student alone", pair["student"]), ours["student_img_s"])
        rate[("distilled", pair["teacher"], pair["student"])] = ours["kd_img_s"]
        if cached and "kd_cached_img_s" in ours:
            rate[("cached", pair["teacher"], pair["student"])] = ours["kd_cached_img_s"]
    return rate


def _reads_the_cache(plan_rows: pd.DataFrame) -> pd.Series:
    if "teacher_cache" not in plan_rows:
        return pd.Series(False, index=plan_rows.index)
    return plan_rows["teacher_cache"].fillna(False).astype(bool)


def run_hours(bench: dict, plan_rows: pd.DataFrame, cached: bool = False) -> pd.Series:
    """Each run's training hours (:func:`kdsrc.reproduce.status` rows: role, teacher, model,
    epochs, init_epochs, and whether it reads the teacher-logit cache) projected from a stored
    pairs benchmark: a teacher trains its epochs at its measured rate, a student alone at the
    student's, a distilled run at its pair's KD rate, first-stage epochs included; an epoch is the
    benchmark's training images. With ``cached``, a run that reads the cache trains at the pair's
    rate of KD from cached logits, and the cache's build (:func:`cache_build_hours`) is counted
    apart. NaN where the rate was not measured."""
    images = bench["train_images"]
    rate = _training_rates(bench, cached)
    from_cache = _reads_the_cache(plan_rows) & cached
    keys = [("cached" if c else "distilled", t, m) if role == "distilled" else (role, m)
            for role, t, m, c in zip(plan_rows.role, plan_rows.teacher, plan_rows.model, from_cache)]
    return pd.Series([(e + i) * images / rate[key] / 3600 if key in rate else float("nan")
                      for e, i, key in zip(plan_rows.epochs, plan_rows.init_epochs, keys)], index=plan_rows.index)


def cache_build_hours(bench: dict, plan_rows: pd.DataFrame) -> pd.Series:
    """Hours to build each teacher's view cache once (its views, ``plan_rows.views``, of every
    training image through the teacher's measured forward rate), put on the first run that reads
    it and 0 on the others: the build is shared by every run of that teacher that reads the cache.
    NaN where the teacher's forward rate was not measured."""
    forward = {pair["teacher"]: pair["ours"]["teacher_forward_img_s"] for pair in bench["pairs"]
               if "teacher_forward_img_s" in pair["ours"]}
    reads = _reads_the_cache(plan_rows)
    first = reads & ~plan_rows.teacher.where(reads).duplicated()
    hours = pd.Series(0.0, index=plan_rows.index)
    for index in plan_rows.index[first]:
        teacher = plan_rows.at[index, "teacher"]
        hours[index] = (plan_rows.at[index, "views"] * bench["train_images"] / forward[teacher] / 3600
                        if teacher in forward else float("nan"))
    return hours


def projected_hours(bench: dict, plan_rows: pd.DataFrame, cached: bool = False) -> pd.DataFrame:
    """Training hours of a plan (:func:`kdsrc.reproduce.status` rows, :func:`run_hours`) per
    table and role, and in all; with ``cached``, the runs that read the teacher-logit cache at
    the cached rate and a column for building the caches (:func:`cache_build_hours`, each under
    the table of its first reader). A group with a run whose rate was not measured has no sum."""
    rows = plan_rows.assign(hours=run_hours(bench, plan_rows, cached))
    grouped = rows.groupby(["table", "role"], sort=False)["hours"]
    hours = grouped.sum(min_count=1).where(grouped.count() == grouped.size())  # unmeasured: no sum
    hours = hours.unstack("role", fill_value=0.0).reindex(columns=PLAN_ROLES, fill_value=0.0).add_suffix(" (h)")
    if cached:
        build = rows.assign(build=cache_build_hours(bench, plan_rows)).groupby("table", sort=False)["build"]
        hours["teacher caches (h)"] = build.sum(min_count=1).where(build.count() == build.size())
    hours.insert(0, "runs", rows.groupby("table", sort=False).size())
    hours.loc["all"] = hours.sum(skipna=False)
    hours["total (h)"] = hours.drop(columns="runs").sum(axis=1, skipna=False)
    return hours.round(1).rename_axis(columns=None)


def reference_loop_table(comparison: dict) -> pd.DataFrame:
    """A stored comparison of our loop with RepDistiller's (:func:`kdsrc.bench.reference_comparison`):
    images/second of each loop on each pair (medians over the rounds), its ratio to RepDistiller's
    loop (the median of the ratios within a round), the ratio's range over the rounds, and the
    loop's rate of counted work (GFLOP/s, where the comparison counted it)."""
    paper, cpu = comparison["paper_pair"], comparison["cpu_pair"]
    reference = "RepDistiller-style (PIL workers, fp32, teacher every batch)"
    rows = []
    for pair, data in ((paper, "fabricated CIFAR-size, batch 64"), (cpu, f"{cpu['dataset']}, batch {cpu['batch_size']}")):
        spreads = pair.get("ratio_spread") or {}
        rows += [(pair, data, reference, pair["reference"]["kd_img_s"], 1.0, None, "reference"),
                 (pair, "", "ours (teacher every batch)", pair["ours"]["kd_img_s"], pair["ratio"], spreads.get("ratio"), "ours")]
        if "ratio_cached" in pair:
            rows.append((pair, "", "ours (cached teacher logits)", pair["ours"]["kd_cached_img_s"], pair["ratio_cached"],
                         spreads.get("ratio_cached"), "ours_cached"))
    counted = "gflop_s" in paper and "gflop_s" in cpu
    return pd.DataFrame([{"pair": f"{pair['teacher']} -> {pair['student']}", "data": data, "loop": loop,
                          "img/s": round(rate), "x RepDistiller-style": round(ratio, 2),
                          "range over rounds": _range(spread),
                          **({"GFLOP/s": round(pair["gflop_s"][work], 1)} if counted else {})}
                         for pair, data, loop, rate, ratio, spread, work in rows])
