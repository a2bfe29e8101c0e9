"""Interleaved benchmark rounds: the order rotates, ratios are taken within a round, wide ranges are flagged."""
import pytest

from kdsrc.bench import repeats


def test_the_modes_run_in_turns_the_order_rotating_every_round():
    calls = []
    modes = {name: (lambda n=name: calls.append(n) or len(calls)) for name in "abc"}
    rounds = repeats.interleaved(modes, repeats=4)
    assert calls == list("abc" "bca" "cab" "abc")
    assert [list(r) for r in rounds] == [list("abc")] * 4  # each round reports the modes in their own order
    assert rounds[1] == {"a": 6, "b": 4, "c": 5}


def test_a_ratio_is_taken_within_each_round_so_a_drift_common_to_the_round_cancels():
    # the machine slows by half in round 2; mode a is always twice as fast as b
    rounds = [{"a": 200.0, "b": 100.0}, {"a": 100.0, "b": 50.0}, {"a": 210.0, "b": 105.0}]
    ratio = repeats.round_ratios(rounds, "a", "b")
    assert ratio["median"] == ratio["min"] == ratio["max"] == 2.0 and not ratio["unsteady"]
    assert repeats.medians(rounds) == {"a": 200.0, "b": 100.0}
    # the rates themselves are unsteady: ranges of 110 % around their median
    assert repeats.spread([r["a"] for r in rounds])["unsteady"]


def test_a_range_wider_than_the_band_is_flagged_and_warned_about(capsys):
    steady, shaky = repeats.spread([1.00, 1.05, 1.02]), repeats.spread([1.0, 1.3, 1.1])
    assert not steady["unsteady"] and steady["relative_range"] == pytest.approx(0.05 / 1.02)
    assert shaky["unsteady"] and (shaky["median"], shaky["min"], shaky["max"]) == (1.1, 1.0, 1.3)
    lines = repeats.warn_unsteady("a benchmark", {"steady one": steady, "shaky one": shaky})
    assert lines == capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: a benchmark: shaky one is unsteady: ranges 1 to 1.3 around 1.1 (27% > 10%)")


def test_rounds_must_be_at_least_one():
    with pytest.raises(ValueError, match="repeats"):
        repeats.interleaved({"a": lambda: 1.0}, repeats=0)


def test_the_cli_refuses_zero_rounds():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "kdsrc", "bench", "teacher-cache", "--profile", "smoke", "--repeats", "0"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == "kdsrc: error: repeats: must be an integer >= 1, got '0'"


def test_method_costs_take_medians_over_rounds_and_the_epoch_ratio_within_each(monkeypatch):
    from kdsrc import bench, results
    from kdsrc.bench import costs
    calls = []

    def fake(method, profile, epochs, device):
        calls.append(method)
        slow = 1 + len(calls) / 10  # the machine slows down call by call
        rate = {"vanilla": 1000.0, "kd": 500.0}[method] / slow
        return {"method": method, "img_s": rate, "first_stage_img_s": None, "peak_memory_above_start_mb": 1.0,
                "extra_parameters": 0, "student_parameters": 10}
    monkeypatch.setattr(costs, "_cost_in_fresh_process", fake)
    out = bench.measure_method_costs(["vanilla", "kd"], "smoke", repeats=3)
    assert calls == ["vanilla", "kd", "kd", "vanilla", "vanilla", "kd"]
    ratio = out["spreads"]["kd"]["epoch_ratio"]
    # within a round the drift is one call's worth, so every ratio is close to 2 whatever the order
    assert 1.8 < ratio["min"] <= ratio["median"] <= ratio["max"] < 2.2
    assert out["methods"][1]["img_s"] == sorted(out["spreads"]["kd"]["img_s"])[1]
    table = results.method_costs_frame(out).set_index("method")
    assert table.at["kd", "epoch time × alone"] == round(ratio["median"], 2)
    assert table.at["kd", "range over rounds"] == f"{ratio['min']:.2f} to {ratio['max']:.2f}"


def test_the_flop_counter_sees_a_convolutions_multiply_adds_forward_and_backward():
    import torch

    from kdsrc.bench.flops import kd_step_flops
    from kdsrc.models import build_model
    torch.manual_seed(0)
    student, teacher = build_model("resnet8", 10, 1), build_model("resnet14", 10, 1)
    flops = kd_step_flops(student, teacher, torch.randn(4, 1, 28, 28), torch.arange(4))
    # the stem alone: 16 filters of 3x3x1 at 28x28 positions, 2 FLOPs a multiply-add
    assert flops["teacher_forward"] > 2 * 16 * 9 * 28 * 28
    # a step is a forward and a backward pass (about twice the forward's work) of the smaller net
    forward_only = kd_step_flops(student, student, torch.randn(4, 1, 28, 28), torch.arange(4))["teacher_forward"]
    assert 2.5 * forward_only < flops["student_step"] < 3.5 * forward_only
    assert all(p.grad is None for p in student.parameters())


def test_a_missing_stored_benchmark_is_measured_in_rounds_except_at_the_smoke_profile(tmp_path, monkeypatch):
    from kdsrc import bench
    from kdsrc.bench import costs
    asked = []
    monkeypatch.setattr(bench.stored, "measure_method_costs",
                        lambda *a, epochs, repeats, **k: asked.append(("costs", epochs, repeats)) or {"methods": []})
    monkeypatch.setattr(bench.stored, "teacher_cache", lambda *a, repeats, **k: asked.append(("cache", repeats)) or {})
    for profile in ("smoke", "cpu"):
        bench.method_costs(profile, tmp_path / profile)
        bench.teacher_cache_cost(profile, tmp_path / profile)
    # the smoke profile's costs take one round of the fewest epochs that time one (a warm-up, then one)
    assert asked == [("costs", 2, 1), ("cache", 1),
                     ("costs", costs.DEFAULT_EPOCHS, repeats.REPEATS), ("cache", repeats.REPEATS)]
