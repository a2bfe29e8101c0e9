"""The ILD-in-practice tools: compatibility table, boundary statistics, first-stage summaries,
per-run peak memory, and the per-method cost benchmark."""
import json

import pytest
import torch

from kdsrc import bench, experiment, results
from kdsrc.compatibility import compatibility
from kdsrc.models import Features
from kdsrc.probes import boundary_table
from kdsrc.train import peak_memory_mb, reset_peak_memory


@pytest.fixture(scope="module")
def smoke_data():
    from kdsrc.config import make_config
    return experiment.dataset_for(make_config("vanilla", "smoke"))


def test_compatibility_counts_connectors_and_names_refusals(smoke_data):
    table = compatibility("resnet8", ["resnet14", "wrn_16_2", "resnet8x4"], smoke_data).set_index("method")
    assert table.loc["AT (stages 1-3)"].tolist() == ["0", "0", "0"]  # attention maps need no connector
    assert table.loc["FSP (stage pairs)", "← resnet14"] == "0"
    assert table.loc["FSP (stage pairs)", "← wrn_16_2"].startswith("refuses: method: fsp needs equal channels")
    assert table.loc["AB (stages 1-3)", "← resnet14"] == "0"  # identity connectors for equal channels
    # AB on resnet8x4: stages 1-3 are 16->64, 32->128, 64->256 channels: a 1x1 conv without bias + BN each
    expected = sum(s * t + 2 * t for s, t in ((16, 64), (32, 128), (64, 256)))
    assert table.loc["AB (stages 1-3)", "← resnet8x4"] == f"{expected:,}"
    # FitNets regressor at stage 2 for equal shapes: 1x1 conv 32->32 with bias, BN
    assert table.loc["FitNets (stage 2 → 2)", "← resnet14"] == f"{32 * 32 + 32 + 2 * 32:,}"
    # stage 3 of the student (7x7) cannot be regressed onto stage 1 of the teacher (28x28)
    assert table.loc["FitNets (student 3 → teacher 1)", "← resnet14"].startswith("refuses: hint_layer:")


def test_boundary_table_counts_on_neurons_and_the_margin_band():
    pre = torch.tensor([-2.0, -0.5, 0.5, 3.0]).view(1, 4, 1, 1)
    features = {"net": Features(None, [], [None, pre], None)}
    row = boundary_table(features, margin=1.0, stages=(1,)).iloc[0]
    assert (row["on (%)"], row["inside ±margin (%)"], row["channels"]) == (50.0, 50.0, 4)


def _run_with_first_stage(seed, losses, seconds):
    history = [{"epoch": i + 1, "train_loss": {"fsp": v, "total": v}} for i, v in enumerate(losses)]
    return {"config": {"seed": seed}, "first_stage": {"history": history, "seconds_per_epoch": seconds}}


def test_first_stage_table_and_seconds():
    runs = [_run_with_first_stage(0, [3.0, 1.0], 2.0), _run_with_first_stage(1, [4.0, 2.0], 4.0)]
    table = results.first_stage_table(runs)
    assert table.loc[("fsp", 2), "seed 1"] == 2.0 and list(table.columns) == ["seed 0", "seed 1"]
    assert results.first_stage_seconds(runs) == 3.0


def test_peak_memory_is_counted_from_the_reset():
    before = reset_peak_memory("cpu")
    block = torch.ones(64 * 2**20 // 4)  # 64 MB, touched
    block += 1
    assert peak_memory_mb("cpu") - before > 50
    del block
    after_free = reset_peak_memory("cpu")
    assert peak_memory_mb("cpu") - after_free < 50


def test_method_cost_measures_speed_memory_and_extra_parameters():
    cost = bench.method_cost("ab", "smoke", epochs=1)
    assert cost["img_s"] > 0 and cost["first_stage_img_s"] > 0 and cost["extra_parameters"] == 0
    assert cost["peak_memory_above_start_mb"] >= 0
    assert bench.method_cost("vanilla", "smoke", epochs=1)["first_stage_img_s"] is None


def test_method_costs_frame_gives_ratios_to_the_student_alone():
    rows = [{"method": "vanilla", "img_s": 1000.0, "first_stage_img_s": None, "peak_memory_above_start_mb": 10.0,
             "extra_parameters": 0, "student_parameters": 100},
            {"method": "fsp", "img_s": 500.0, "first_stage_img_s": 250.0, "peak_memory_above_start_mb": 20.0,
             "extra_parameters": 10, "student_parameters": 100}]
    frame = results.method_costs_frame({"methods": rows}).set_index("method")
    assert frame.loc["fsp", "epoch time × alone"] == 2.0 and frame.loc["fsp", "first-stage epoch × alone"] == 4.0
    assert frame.loc["fsp", "extra params / student"] == 0.1


def test_stored_cost_benchmark_is_read_not_remeasured_and_missing_is_an_error_under_stored_only(tmp_path, monkeypatch):
    path = results.bench_path("smoke", tmp_path)
    results.write_json({"methods": [], "profile": "smoke"}, path)
    monkeypatch.setattr(bench, "method_costs", lambda *a, **k: pytest.fail("measured again"))
    assert experiment.method_costs("smoke", tmp_path)["profile"] == "smoke"
    experiment.use(tmp_path / "empty", stored_only=True)
    try:
        with pytest.raises(experiment.MissingRun, match="stored cost benchmark"):
            experiment.method_costs("smoke")
    finally:
        experiment.use()


def test_classifier_table_scores_each_models_own_head_and_a_foreign_classifier():
    from kdsrc.probes import classifier_table
    labels = torch.tensor([0, 1, 1, 0])
    pooled = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    own_logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0]])  # all right
    swap = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        swap.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # reads the channels the other way round
    row = classifier_table({"net": Features(own_logits, [], [], pooled)}, swap, labels).iloc[0]
    assert row["own classifier acc (%)"] == 100.0 and row["teacher classifier acc (%)"] == 25.0


def test_teacher_cache_benchmark_is_stored_by_the_cli_and_read_back_under_stored_only(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "kdsrc", "bench", "--teacher-cache", "--profile", "smoke", "--epochs", "1",
                           "--results", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    path = results.bench_path("smoke", tmp_path, "teacher_cache")
    stored = json.loads(path.read_text())
    assert stored["epochs"] == 1 and stored["cache_build_seconds"] > 0 and "git_commit" in stored["code"]
    experiment.use(tmp_path, stored_only=True)
    try:
        assert experiment.teacher_cache_cost("smoke") == stored
        with pytest.raises(experiment.MissingRun, match="stored teacher-cache benchmark"):
            experiment.teacher_cache_cost("cpu", tmp_path / "empty")
    finally:
        experiment.use()
    with pytest.raises(ValueError, match="^kind: must be one of"):
        results.bench_path("smoke", tmp_path, "speed")


def test_teacher_cache_table_and_the_runs_it_takes_to_pay_off():
    measurement = {"train_images": 1000, "student_alone_img_s": 1000.0, "kd_on_the_fly_img_s": 500.0,
                   "kd_cached_img_s": 1000.0, "cache_build_seconds": 30.0}
    table = results.teacher_cache_table(measurement, epochs=10)
    assert list(table["seconds per epoch"]) == [1.0, 2.0, 1.0] and list(table["× alone"]) == [1.0, 2.0, 1.0]
    assert table.loc["KD, cached teacher logits", "runs to pay off"] == "3.0"  # 30 s / (10 epochs × 1 s saved)
    slower = results.teacher_cache_table({**measurement, "kd_cached_img_s": 400.0}, epochs=10)
    assert slower.loc["KD, cached teacher logits", "runs to pay off"] == "never"
