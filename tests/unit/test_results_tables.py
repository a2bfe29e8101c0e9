"""The chapters' tables on hand-made and tiny stored runs: summaries, paired gains, comparisons,
costs, first stages and benchmark tables."""
import pandas as pd
import pytest

from kdsrc import experiment, results
from kdsrc.results import compare, cost


def _frame(accs, method="kd"):
    return pd.DataFrame({"method": method, "seed": range(len(accs)), "last_acc": accs,
                         "best_acc": [a + 1 for a in accs], "sec_per_epoch": 2.0})


def _run_with_first_stage(seed, losses, seconds):
    history = [{"epoch": i + 1, "train_loss": {"fsp": v, "total": v}} for i, v in enumerate(losses)]
    return {"config": {"seed": seed}, "first_stage": {"history": history, "seconds_per_epoch": seconds}}


def _run(method, model, seed, acc, sec):
    return {"config": {"method": method, "model": model, "teacher": None, "seed": seed, "method_params": {},
                       "epochs": 2},
            "last_test_acc": acc, "best_test_acc": acc, "best_epoch": 2, "seconds_per_epoch": sec,
            "peak_memory_mb": 1.0, "parameters": 1, "run_id": f"{method}{seed}",
            "history": [{"train_loss": {"total": 0.5}}]}


def test_compare_gives_paired_gains_for_the_students_only():
    teacher = [_run("vanilla", "big", 0, 90.0, 10.0)]
    alone = [_run("vanilla", "small", s, acc, 2.0) for s, acc in enumerate([70.0, 72.0])]
    kd = [_run("kd", "small", s, acc, 3.0) for s, acc in enumerate([73.0, 74.0])]
    frame, table = compare({"teacher": teacher, "student alone": alone, "student + KD": kd})
    assert list(frame.run) == ["teacher", "student alone", "student alone", "student + KD", "student + KD"]
    assert list(table["paired gain over alone"]) == ["", "", "2.50 ± 0.71"]
    assert list(table["last acc (%)"]) == ["90.00", "71.00 ± 1.41", "73.50 ± 0.71"]
    ratios = cost(frame)
    assert list(ratios.index) == ["student alone", "student + KD"] and list(ratios["ratio to alone"]) == [1.0, 1.5]


def test_cost_adds_the_first_stage_and_the_extra_parameters_of_each_group():
    teacher = [_run("vanilla", "big", 0, 90.0, 10.0)]
    alone = [_run("vanilla", "small", s, 70.0, 2.0) for s in range(2)]
    fsp = [_run("fsp", "small", s, 71.0, 3.0) for s in range(2)]
    for run, seconds in zip(fsp, (4.0, 5.0)):
        run["first_stage"] = {"history": [], "seconds_per_epoch": seconds}
    for run in teacher + alone + fsp:
        run["extra_parameters"] = 12 if run in fsp else 0
    groups = {"teacher": teacher, "student alone": alone, "student + FSP": fsp}
    frame = compare(groups)[0]
    table = cost(frame, groups=groups, first_stage=True, extra_parameters=True)
    assert list(table.columns) == ["sec_per_epoch", "ratio to alone", "first stage s/epoch", "extra parameters"]
    assert list(table.index) == ["student alone", "student + FSP"]  # the teacher's model is not the student's
    assert pd.isna(table.at["student alone", "first stage s/epoch"]) and table.at["student + FSP", "first stage s/epoch"] == 4.5
    assert list(table["extra parameters"]) == [0, 12]
    assert list(cost(frame).columns) == ["sec_per_epoch", "ratio to alone"]
    with pytest.raises(ValueError, match="^groups: "):
        cost(frame, first_stage=True)


def test_cited_ild_rows_name_the_same_pairs_as_the_cited_kd_rows():
    """A cited method row joins its pair's teacher and student rows only if the names agree."""
    kd, ild = results.reference("kd"), results.reference("ild")
    crd = lambda frame: set(map(tuple, frame[frame.paper.str.contains("CRD")][["table", "teacher", "student"]].values))  # noqa: E731
    assert crd(ild) <= crd(kd), sorted(crd(ild) - crd(kd))


def test_method_summary_joins_accuracy_benchmark_and_extra_parameters():
    alone = [_run("vanilla", "small", s, acc, 2.0) for s, acc in enumerate([70.0, 72.0])]
    fsp = [_run("fsp", "small", s, acc, 2.0) for s, acc in enumerate([71.0, 74.0])]
    for run in fsp:
        run["config"]["method_params"] = {"init_epochs": 2}
        run["extra_parameters"] = 0
    for run in alone:
        run["extra_parameters"] = 0
    bench_row = dict(first_stage_img_s=None, peak_memory_above_start_mb=100.0, extra_parameters=0, student_parameters=10)
    costs = {"methods": [{"method": "vanilla", "img_s": 1000.0, **bench_row},
                         {"method": "fsp", "img_s": 500.0, **{**bench_row, "first_stage_img_s": 250.0}}]}
    summary = results.method_summary({"student alone": alone, "FSP": fsp}, costs, {"student alone": "vanilla", "FSP": "fsp"})
    assert list(summary.run) == ["student alone", "FSP"]
    assert list(summary["epoch time × alone"]) == [1.0, 2.0]
    assert list(summary["first-stage epochs"]) == [0, 2] and summary["first-stage epoch × alone"].iloc[1] == 4.0
    assert list(summary["paired gain over alone"]) == ["", "1.50 ± 0.71"]
    assert list(summary["last_mean"]) == [71.0, 72.5]
    epochs = fsp[0]["config"]["epochs"]  # FSP's run: its epochs at 2x plus 2 first-stage epochs at 4x
    assert summary["run time × alone"].tolist() == [1.0, (epochs * 2.0 + 2 * 4.0) / epochs]


def test_cited_gain_summary_over_the_pairs_of_each_table():
    import pandas as pd
    rows = [("P", "T1", "a", "s", "student", 70.0), ("P", "T1", "a", "s", "kd", 72.0),
            ("P", "T1", "b", "s2", "student", 60.0), ("P", "T1", "b", "s2", "kd", 61.0),
            ("P", "T1", "b", "s2", "teacher", 80.0), ("P", "T1", "a", "s", "teacher", 80.0),
            ("Q", "Fig. 1", None, None, "kd", 40.0)]  # no student row: no gain to summarise
    cited = pd.DataFrame([dict(paper=p, table=t, dataset="cifar100", teacher=te, student=st, method=m, metric="top1_acc",
                               value=v, verified="yes", source="src") for p, t, te, st, m, v in rows])
    summary = results.cited_gain_summary(cited, ["kd", "fitnets"])
    assert summary.to_dict("records") == [{"method": "kd", "paper": "P", "table": "T1", "pairs": 2, "mean gain": 1.5,
                                           "smallest": 1.0, "largest": 2.0, "verified": "yes"}]


def _accuracy_frame(last, best):
    """A frame as from compare: ``last``/``best`` map each group to its per-seed accuracies."""
    runs = {}
    for label in last:
        runs[label] = [_run("kd", "small", seed, acc, 1.0) for seed, acc in enumerate(last[label])]
        for run, b in zip(runs[label], best[label]):
            run["best_test_acc"] = b
    return compare(runs, baseline=next(iter(last)))[0]


def test_rankings_and_the_pairs_each_reporting_choice_reorders():
    last = {"a": [80.0, 78.0, 79.0], "b": [79.0, 80.0, 79.5], "c": [70.0, 71.0, 72.0]}
    best = {"a": [80.0, 78.0, 79.0], "b": [81.0, 80.0, 79.5], "c": [70.0, 71.0, 72.0]}
    ranks = results.rankings(_accuracy_frame(last, best))
    assert list(ranks.index) == ["a", "b", "c"]
    assert list(ranks["mean, last epoch"]) == [2, 1, 3]  # b: 79.5 against a: 79.0
    assert list(ranks["seed 0, last epoch"]) == [1, 2, 3] and list(ranks["seed 2, last epoch"]) == [2, 1, 3]
    changed = results.reordered_pairs(ranks).set_index("ranking")
    assert changed.loc["seed 0, last epoch", "pairs in another order"] == 1
    assert changed.loc["seed 0, last epoch", "which"] == "a / b"
    assert changed.loc["seed 0, last epoch", "share of pairs"] == 0.33
    assert changed.loc["seed 1, last epoch", "pairs in another order"] == 0
    assert changed.loc["mean, best epoch", "pairs in another order"] == 0
    assert results.pairs_within_spread(_accuracy_frame(last, best)) == [("a", "b")]


def test_a_tie_against_an_order_counts_as_reordered_and_bad_input_is_named():
    last = {"a": [80.0, 79.0], "b": [79.0, 79.0]}
    ranks = results.rankings(_accuracy_frame(last, last))
    assert list(ranks["seed 1, last epoch"]) == [1, 1]
    changed = results.reordered_pairs(ranks).set_index("ranking")
    assert changed.loc["seed 1, last epoch", "pairs in another order"] == 1
    import pytest
    with pytest.raises(ValueError, match="^reference: must be one of"):
        results.reordered_pairs(ranks, reference="median")
    frame = _accuracy_frame({"a": [80.0, 79.0], "b": [79.0]}, {"a": [80.0, 79.0], "b": [79.0]})
    with pytest.raises(ValueError, match="^frame: every group needs a run of every seed"):
        results.rankings(frame)


def test_final_loss_terms_per_group():
    runs = {"kd": [_run("kd", "small", s, 80.0, 1.0) for s in range(2)], "alone": [_run("vanilla", "small", 0, 70.0, 1.0)]}
    runs["kd"][0]["history"] = [{"train_loss": {"ce": 0.2, "kd": 0.5, "total": 0.7}}]
    runs["kd"][1]["history"] = [{"train_loss": {"ce": 0.4, "kd": 0.7, "total": 1.1}}]
    table = results.final_loss_terms(runs).set_index("run")
    assert table.loc["kd", "kd"] == "0.600 ± 0.141" and table.loc["kd", "total"] == "0.900 ± 0.283"
    assert table.loc["alone", "total"] == "0.500" and table.loc["alone", "kd"] == ""


def test_summarise_gives_mean_plus_minus_sample_std_and_n():
    out = results.summarise(pd.concat([_frame([90.0, 92.0]), _frame([80.0], "vanilla")]), by=["method"])
    kd, vanilla = out.set_index("method").loc["kd"], out.set_index("method").loc["vanilla"]
    assert kd["n"] == 2 and kd["last acc (%)"] == "91.00 ± 1.41" and kd["best acc (%)"] == "92.00 ± 1.41"
    assert vanilla["n"] == 1 and vanilla["last acc (%)"] == "80.00"


def test_paired_gain_subtracts_the_baseline_of_the_same_seed():
    gain = results.paired_gain(_frame([91.0, 95.0, 92.0]), _frame([90.0, 92.0, 92.0], "vanilla").iloc[::-1])
    assert gain == "1.33 ± 1.53"  # gains 1, 3, 0


def test_load_runs_gives_one_row_per_stored_run(tiny_config, tmp_path):
    for seed in (0, 1):
        experiment.run(tiny_config("vanilla", epochs=1, seed=seed), root=tmp_path)
    frame = results.load_runs("smoke", root=tmp_path)
    assert sorted(frame["seed"]) == [0, 1] and set(frame["method"]) == {"vanilla"}
    assert results.load_runs("paper", root=tmp_path).empty


def test_first_stage_table_and_seconds():
    runs = [_run_with_first_stage(0, [3.0, 1.0], 2.0), _run_with_first_stage(1, [4.0, 2.0], 4.0)]
    table = results.first_stage_table(runs)
    assert table.loc[("fsp", 2), "seed 1"] == 2.0 and list(table.columns) == ["seed 0", "seed 1"]
    assert results.first_stage_seconds(runs) == 3.0


def test_method_costs_frame_gives_ratios_to_the_student_alone():
    rows = [{"method": "vanilla", "img_s": 1000.0, "first_stage_img_s": None, "peak_memory_above_start_mb": 10.0,
             "extra_parameters": 0, "student_parameters": 100},
            {"method": "fsp", "img_s": 500.0, "first_stage_img_s": 250.0, "peak_memory_above_start_mb": 20.0,
             "extra_parameters": 10, "student_parameters": 100}]
    frame = results.method_costs_frame({"methods": rows}).set_index("method")
    assert frame.loc["fsp", "epoch time × alone"] == 2.0 and frame.loc["fsp", "first-stage epoch × alone"] == 4.0
    assert frame.loc["fsp", "extra params / student"] == 0.1


def test_teacher_cache_table_and_the_runs_it_takes_to_pay_off():
    measurement = {"train_images": 1000, "student_alone_img_s": 1000.0, "kd_on_the_fly_img_s": 500.0,
                   "kd_cached_img_s": 1000.0, "cache_build_seconds": 30.0}
    table = results.teacher_cache_table(measurement, epochs=10)
    assert list(table["seconds per epoch"]) == [1.0, 2.0, 1.0] and list(table["× alone"]) == [1.0, 2.0, 1.0]
    assert table.loc["KD, cached teacher logits", "runs to pay off"] == "3.0"  # 30 s / (10 epochs × 1 s saved)
    slower = results.teacher_cache_table({**measurement, "kd_cached_img_s": 400.0}, epochs=10)
    assert slower.loc["KD, cached teacher logits", "runs to pay off"] == "never"
