"""The benchmarks: per-run peak memory, a method's cost, and the stored cost and teacher-cache benchmarks."""
import json

import pytest
import torch

from kdsrc import bench, experiment, results
from kdsrc.engine.memory import peak_memory_mb, reset_peak_memory


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


def test_stored_cost_benchmark_is_read_not_remeasured_and_missing_is_an_error_under_stored_only(tmp_path, monkeypatch):
    path = results.bench_path("smoke", tmp_path)
    results.write_json({"methods": [], "profile": "smoke"}, path)
    monkeypatch.setattr(bench.stored, "measure_method_costs", lambda *a, **k: pytest.fail("measured again"))
    assert bench.method_costs("smoke", tmp_path)["profile"] == "smoke"
    experiment.use(tmp_path / "empty", stored_only=True)
    try:
        with pytest.raises(experiment.MissingRun, match="stored cost benchmark"):
            bench.method_costs("smoke")
    finally:
        experiment.use()


def test_teacher_cache_benchmark_is_stored_by_the_cli_and_read_back_under_stored_only(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "kdsrc", "bench", "teacher-cache", "--profile", "smoke", "--epochs", "1", "--repeats", "2",
                           "--results", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    path = results.bench_path("smoke", tmp_path, "teacher_cache")
    stored = json.loads(path.read_text())
    assert stored["epochs"] == 1 and stored["cache_build_seconds"] > 0 and "git_commit" in stored["code"]
    # two interleaved rounds: each ratio is the median of the two within-round ratios
    rounds, ratio = stored["repeats"]["rounds"], stored["repeats"]["kd_cached_epoch_ratio"]
    assert len(rounds) == 2 and stored["kd_cached_epoch_ratio"] == ratio["median"]
    assert ratio["values"] == [r["student_alone"] / r["kd_cached"] for r in rounds]
    experiment.use(tmp_path, stored_only=True)
    try:
        assert bench.teacher_cache_cost("smoke") == stored
        with pytest.raises(experiment.MissingRun, match="stored teacher-cache benchmark"):
            bench.teacher_cache_cost("cpu", tmp_path / "empty")
    finally:
        experiment.use()
    with pytest.raises(ValueError, match="^kind: must be one of"):
        results.bench_path("smoke", tmp_path, "speed")


def test_a_measurement_never_lands_over_the_books_stored_benchmarks_unless_asked(tmp_path, monkeypatch, capsys):
    from kdsrc import store
    from kdsrc.__main__ import _store
    monkeypatch.setattr(store, "REPO_RESULTS", tmp_path / "results")
    book = store.bench_path("cpu", tmp_path / "results", "method_costs")
    store.write_json({"the": "book's"}, book)
    _store({"a": "reader's"}, book)
    assert json.loads(book.read_text()) == {"the": "book's"}
    kept = tmp_path / "_build" / "bench" / "cpu" / "method_costs.json"
    assert json.loads(kept.read_text()) == {"a": "reader's"} and "--store replaces it" in capsys.readouterr().err
    _store({"asked": True}, book, replace_book=True)
    assert json.loads(book.read_text()) == {"asked": True}
    elsewhere = store.bench_path("cpu", tmp_path / "mine", "method_costs")  # another results folder: stored there
    _store({"mine": 1}, elsewhere)
    assert json.loads(elsewhere.read_text()) == {"mine": 1}
