"""The reproduction chapter's tables on hand-made runs and a hand-made benchmark: ours beside the
cited CRD numbers, and the projected hours."""
import math

import pandas as pd

from kdsrc import results
from kdsrc.reproduce import TABLES, pairs_from

ZOO = ("sp", "cc", "vid", "rkd", "pkt", "ft", "nst")  # Part IV's rows of the CRD tables, in the README's order


def _run(method, model, seed, last, best, teacher=None, best_epoch=240):
    return {"config": {"method": method, "model": model, "teacher": teacher, "seed": seed, "method_params": {},
                       "epochs": 240},
            "last_test_acc": last, "best_test_acc": best, "best_epoch": best_epoch, "seconds_per_epoch": 30.0,
            "peak_memory_mb": 1.0, "parameters": 1, "run_id": f"{method}{model}{seed}",
            "history": [{"train_loss": {"total": 0.5}}]}


def test_crd_reference_cites_teacher_student_and_the_book_methods_for_every_pair():
    cited = results.crd_reference()
    assert set(cited[cited.method != "crd_kd"].verified) == {"authors' README"}
    assert set(cited[cited.method == "crd_kd"].verified) == {"secondary"}  # never in RepDistiller's README
    for table, pairs in TABLES.items():
        for teacher, student in pairs:
            rows = set(cited[(cited.table == table) & (cited.teacher == teacher) & (cited.student == student)].method)
            paper_na = table == "Table 2" or (teacher, student) == ("wrn_40_2", "wrn_40_1")  # FSP: N/A or no row
            assert rows == ({"teacher", "student", "kd", "fitnets", "at", "ab", *ZOO, "crd", "crd_kd"}
                            | (set() if paper_na else {"fsp"}))


def test_crd_reference_holds_the_readmes_numbers_for_part_fours_methods():
    cited = results.crd_reference().set_index(["table", "teacher", "student", "method"]).value
    assert cited[("Table 1", "wrn_40_2", "wrn_16_2", "pkt")] == 74.54
    assert cited[("Table 1", "resnet32x4", "resnet8x4", "rkd")] == 71.90
    assert cited[("Table 2", "vgg13", "MobileNetV2", "ft")] == 61.78
    assert cited[("Table 2", "wrn_40_2", "ShuffleV1", "nst")] == 74.89
    assert len(cited[cited.index.get_level_values("method").isin(ZOO)]) == 7 * 13
    assert cited[("Table 1", "resnet32x4", "resnet8x4", "crd")] == 75.51
    assert cited[("Table 2", "wrn_40_2", "ShuffleV1", "crd_kd")] == 76.27


def test_the_later_methods_cited_numbers_are_their_sources_on_the_crd_pairs():
    frame = results.reference("logits")
    std = frame[frame.metric == "top1_acc_std"].set_index(["teacher", "student"]).value
    assert std[("resnet32x4", "resnet8x4")] == 0.19  # DIST's README gives mean ± std
    cited = frame[frame.metric == "top1_acc"].set_index(["paper", "teacher", "student", "method"]).value
    assert cited[("Zhao et al. 2022 (DKD)", "resnet32x4", "resnet8x4", "dkd")] == 76.32
    assert cited[("Zhao et al. 2022 (DKD)", "resnet32x4", "ShuffleV2", "dkd")] == 77.07  # the README's "MobileNet-V2"
    assert cited[("Huang et al. 2022 (DIST)", "resnet32x4", "resnet8x4", "dist")] == 76.31
    assert cited[("Sun et al. 2024 (logit standardization)", "ResNet50", "MobileNetV2", "standardized_kd")] == 69.02
    assert cited[("Chen et al. 2021 (ReviewKD)", "resnet32x4", "ShuffleV2", "reviewkd")] == 77.78
    dkd = frame[frame.method == "dkd"]
    assert len(dkd) == 11 and dkd.source.str.contains("best epoch's accuracy, mean of 5 runs").all()
    assert set(frame[frame.method == "reviewkd"].verified) == {"secondary"}


def test_reproduction_table_puts_our_mean_and_std_beside_the_paper_with_the_gap():
    teachers = [_run("vanilla", "wrn_40_2", 0, 75.0, 75.5)]
    students = [_run("vanilla", "wrn_16_2", 0, 72.0, 72.5, teacher="resnet56"),
                _run("vanilla", "wrn_16_2", 1, 74.0, 74.5, teacher="resnet56"),
                _run("kd", "wrn_16_2", 0, 74.0, 75.0, teacher="wrn_40_2", best_epoch=200),
                _run("kd", "wrn_16_2", 1, 75.0, 75.0, teacher="wrn_40_2", best_epoch=230),
                _run("kd", "wrn_16_2", 0, 10.0, 10.0, teacher="resnet56"),  # another pair's run
                _run("srrl", "wrn_16_2", 0, 75.0, 75.0, teacher="wrn_40_2")]
    table = results.reproduction_table(teachers, students, pairs_from("wrn_40_2:wrn_16_2"), results.crd_reference())
    assert list(table.row) == ["teacher", "student alone", "kd", "srrl"] and list(table.n) == [1, 2, 2, 1]
    assert list(table["last acc (%)"]) == ["75.00", "73.00 ± 1.41", "74.50 ± 0.71", "75.00"]
    assert list(table["best acc (%)"])[2] == "75.00 ± 0.00" and list(table["best epoch"])[2] == 215.0
    assert list(table.paper[:3]) == [75.61, 73.26, 74.92] and math.isnan(table.paper[3])
    assert list(table["gap (last − paper)"][:3]) == [-0.61, -0.26, -0.42] and table["gap (last − paper)"].isna()[3]
    assert list(table.verified) == ["authors' README"] * 3 + [""]


def test_reproduction_table_without_runs_is_empty():
    table = results.reproduction_table([], [], pairs_from("table1"), results.crd_reference())
    assert table.empty and "gap (last − paper)" in table.columns


def test_cited_table_has_one_row_per_cited_pair_in_the_plans_order_and_one_column_per_row_of_the_paper():
    wide = results.cited_table(results.crd_reference(), pairs_from("table2,resnet8:resnet8,resnet110:resnet32"))
    assert list(wide.index) == [(p.table, p.teacher, p.student) for p in pairs_from("table2,resnet110:resnet32")]
    assert list(wide.columns) == ["teacher", "student", "kd", "fitnets", "at", "ab", "fsp", *ZOO, "crd", "crd_kd"]
    assert wide.loc[("Table 1", "resnet110", "resnet32"), "kd"] == 73.08 and wide.fsp.isna().sum() == 6
    assert wide.index.names == ["table", "teacher network", "student network"]


BENCH = {"profile": "paper", "device": "cuda", "hardware": {}, "batch_size": 64, "train_images": 50000,
         "pairs": [{"teacher": "T", "student": "S", "reference": {"kd_img_s": 5000.0}, "ratio": 0.8,
                    "ours": {"kd_img_s": 4000.0, "teacher_img_s": 5000.0, "student_img_s": 10000.0}},
                   {"teacher": "T", "student": "U", "reference": None, "ratio": None,
                    "ours": {"kd_img_s": 2000.0, "teacher_img_s": 5000.0, "student_img_s": 2500.0}}]}


def _rows(*rows):
    return pd.DataFrame([dict(zip(["table", "role", "teacher", "model", "method", "epochs", "init_epochs"], row))
                         for row in rows])


def test_projected_hours_add_epochs_times_images_over_each_runs_measured_rate():
    rows = _rows(("Table 1", "teacher", "", "T", "vanilla", 240, 0),
                 ("Table 1", "student alone", "", "S", "vanilla", 240, 0),
                 ("Table 1", "distilled", "T", "S", "kd", 240, 0), ("Table 1", "distilled", "T", "S", "fsp", 240, 30),
                 ("Table 2", "distilled", "T", "U", "kd", 240, 0))
    hours = results.projected_hours(BENCH, rows)
    assert list(hours.index) == ["Table 1", "Table 2", "all"] and list(hours.runs) == [4, 1, 5]
    # teacher 240 * 50000 / 5000 s; alone 240 * 50000 / 10000 s; KD 240 and FSP 270 epochs at 4000 img/s
    assert hours.loc["Table 1"].tolist()[1:] == [0.7, 0.3, 1.8, 2.8]
    assert hours.loc["Table 2"].tolist()[1:] == [0.0, 0.0, 1.7, 1.7]
    assert hours.loc["all", "total (h)"] == 4.4  # 2.77 + 1.67, rounded once


def test_run_hours_are_each_runs_share_of_the_projection():
    rows = _rows(("Table 1", "teacher", "", "T", "vanilla", 240, 0), ("Table 1", "distilled", "T", "S", "fsp", 240, 30),
                 ("Table 1", "distilled", "V", "S", "kd", 240, 0))
    hours = results.run_hours(BENCH, rows)
    assert hours.iloc[:2].round(3).tolist() == [round(240 * 50000 / 5000 / 3600, 3), round(270 * 50000 / 4000 / 3600, 3)]
    assert math.isnan(hours.iloc[2])  # V -> S was not measured


def test_projected_hours_of_an_unmeasured_pair_are_left_empty_not_understated():
    rows = _rows(("Table 1", "distilled", "T", "S", "kd", 240, 0), ("Table 1", "distilled", "V", "S", "kd", 240, 0))
    hours = results.projected_hours(BENCH, rows)
    assert math.isnan(hours.loc["Table 1", "distilled (h)"]) and math.isnan(hours.loc["all", "total (h)"])


def test_pair_epoch_times_are_training_images_over_images_per_second():
    times = results.pair_epoch_times(BENCH)
    first = times.iloc[0][["teacher s/epoch", "student s/epoch", "KD s/epoch", "KD × alone"]]
    assert first.tolist() == [10.0, 5.0, 12.5, 2.5]
    assert times["reference KD img/s"].tolist()[0] == 5000.0 and pd.isna(times["reference KD img/s"][1])


def test_stored_bench_is_none_until_measured(tmp_path):
    assert results.stored_bench("paper", "pairs", tmp_path) is None
    results.write_json(BENCH, results.bench_path("paper", tmp_path, "pairs"))
    assert results.stored_bench("paper", "pairs", tmp_path) == BENCH


def test_with_the_cache_logit_only_runs_train_at_the_cached_rate_and_each_teacher_cache_is_built_once():
    bench = {**BENCH, "pairs": [{**pair, "ours": {**pair["ours"], "kd_cached_img_s": 8000.0, "teacher_forward_img_s": 30000.0}}
                                for pair in BENCH["pairs"]]}
    rows = _rows(("Table 1", "distilled", "T", "S", "kd", 240, 0), ("Table 1", "distilled", "T", "S", "fitnets", 240, 0),
                 ("Table 2", "distilled", "T", "U", "kd", 240, 0))
    rows["teacher_cache"], rows["views"] = [True, False, True], 162
    without, cached = results.run_hours(bench, rows), results.run_hours(bench, rows, cached=True)
    assert without.round(3).tolist() == [round(240 * 50000 / r / 3600, 3) for r in (4000, 4000, 2000)]
    assert cached.round(3).tolist() == [round(240 * 50000 / r / 3600, 3) for r in (8000, 4000, 8000)]
    build = results.cache_build_hours(bench, rows)  # T's cache: 162 views of 50,000 images at 30,000 img/s, once
    assert build.round(3).tolist() == [round(162 * 50000 / 30000 / 3600, 3), 0.0, 0.0]
    table = results.projected_hours(bench, rows, cached=True)
    assert table.loc["Table 1", "teacher caches (h)"] == round(build.iloc[0], 1) and table.loc["Table 2", "teacher caches (h)"] == 0.0
    assert table.loc["all", "total (h)"] == round(cached.sum() + build.sum(), 1)
    assert "teacher caches (h)" not in results.projected_hours(bench, rows)
    unmeasured = results.cache_build_hours(BENCH, rows)  # no forward rate stored: no build time, not 0
    assert math.isnan(unmeasured.iloc[0]) and unmeasured.iloc[1:].tolist() == [0.0, 0.0]
