"""The fast path (issue 7 item 2): precision, channels-last, compile, the teacher under inference_mode.

The equivalence tests train the same seed on the plain path (fp32, NCHW, eager) and on a fast
variant, on 1000 Fashion-MNIST images for 2 epochs, and compare every epoch:

- channels-last alone and ``torch.compile`` alone keep fp32 arithmetic: train loss within 0.5 %
  relative and test accuracy within 2 points (a compiled kernel sums in another order, and one
  image in 500 changing its class moves 0.2 points);
- bfloat16 autocast (with channels-last) rounds every convolution: train loss within 5 % relative
  and test accuracy within 4 points (on 500 test images; the differences measured were up to
  3.5 % and 3 points).
"""
from dataclasses import replace

import pytest
import torch

from kdsrc import experiment, numerics
from kdsrc.config import ConfigError, make_config
from kdsrc.experiment import build_distiller, dataset_for
from kdsrc.losses import at_loss, hint_loss, kd_loss
from kdsrc.models import build_model
from kdsrc.train import fit

LOSS_RTOL = {"exact": 0.005, "bf16": 0.05}
ACC_POINTS = {"exact": 2.0, "bf16": 4.0}


def test_auto_precision_is_fp32_on_a_cpu_and_explicit_values_stand():
    assert numerics.resolve_precision("auto", "cpu") == "fp32"
    assert numerics.resolve_precision("bf16", "cpu") == "bf16"
    assert numerics.resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision: must be one of"):
        numerics.resolve_precision("fp16", "cpu")


def test_precision_and_compile_are_validated_and_leave_default_ids_alone():
    with pytest.raises(ConfigError, match="precision: must be one of"):
        make_config("kd", "cpu", precision="half")
    with pytest.raises(ConfigError, match="compile: must be True or False"):
        make_config("kd", "cpu", compile="yes")
    base = make_config("kd", "cpu")
    assert make_config("kd", "cpu", precision="auto").run_id() == base.run_id()
    assert make_config("kd", "cpu", precision="bf16").run_id() != base.run_id()
    assert make_config("kd", "cpu", compile=True).run_id() != base.run_id()
    # a student's numerics never retrain its teacher
    assert make_config("kd", "cpu", precision="bf16", compile=True).teacher_config() == base.teacher_config()


def test_paper_profile_trains_on_the_fast_path_without_a_logit_cache():
    cfg = make_config("kd", "paper")
    assert (cfg.channels_last, cfg.precision, cfg.compile, cfg.teacher_cache) == (True, "auto", False, False)


def test_losses_compute_in_fp32_under_autocast():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    fs, ft = torch.randn(8, 4, 6, 6, generator=g), torch.randn(8, 4, 6, 6, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = kd_loss(s.bfloat16(), t.bfloat16(), 4.0), hint_loss(fs.bfloat16(), ft.bfloat16()), \
            at_loss([fs.bfloat16()], [ft.bfloat16()])
    exact = kd_loss(s.bfloat16().float(), t.bfloat16().float(), 4.0), \
        hint_loss(fs.bfloat16().float(), ft.bfloat16().float()), at_loss([fs.bfloat16().float()], [ft.bfloat16().float()])
    for value, reference in zip(low, exact):
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, reference)


def test_teacher_outputs_are_ordinary_tensors_that_losses_can_save():
    torch.manual_seed(0)
    cfg = make_config("fitnets", "smoke", train_subset=100, test_subset=100)
    data = dataset_for(cfg)
    student, teacher = build_model("resnet8", 10, 1), build_model("resnet14", 10, 1)
    distiller = build_distiller("fitnets", cfg.method_params, student, teacher, data)
    x = torch.randn(4, 1, 28, 28)
    assert not distiller.teacher_logits(x).is_inference()
    assert not any(f.is_inference() for f in distiller.teacher_features(x).stages)
    _, losses = distiller.forward_train(x, torch.zeros(4, dtype=torch.int64))
    sum(losses.values()).backward()  # a loss that saved an inference tensor would raise here


def _train(method: str, device: str = "cpu", **numerics_fields) -> list[tuple[float, float]]:
    cfg = make_config(method, "smoke", train_subset=1000, test_subset=500, epochs=2, teacher_cache=False,
                      channels_last=False, precision="fp32")
    cfg = replace(cfg, **numerics_fields)
    data = dataset_for(cfg)
    torch.manual_seed(0)
    teacher = build_model("resnet14", data.num_classes, data.in_channels) if method != "vanilla" else None
    torch.manual_seed(1)
    student = build_model("resnet8", data.num_classes, data.in_channels)
    history = fit(build_distiller(method, cfg.method_params, student, teacher, data), data, cfg, device)
    return [(r["train_loss"]["total"], r["test_acc"]) for r in history]


def _assert_close_runs(plain, fast, kind):
    for epoch, ((loss, acc), (fast_loss, fast_acc)) in enumerate(zip(plain, fast), 1):
        assert fast_loss == pytest.approx(loss, rel=LOSS_RTOL[kind]), f"epoch {epoch} train loss"
        assert abs(fast_acc - acc) <= ACC_POINTS[kind], f"epoch {epoch} test accuracy {fast_acc} vs {acc}"


@pytest.mark.parametrize("method", ["vanilla", "at"])
def test_fast_path_matches_the_plain_path_on_cpu(method):
    plain = _train(method)
    _assert_close_runs(plain, _train(method, channels_last=True), "exact")
    _assert_close_runs(plain, _train(method, channels_last=True, precision="bf16"), "bf16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fast_path_matches_the_plain_path_on_a_gpu():
    plain = _train("at", "cuda")
    _assert_close_runs(plain, _train("at", "cuda", channels_last=True, precision="auto"), "bf16")


def test_compiled_step_matches_the_eager_step():
    plain = _train("vanilla")
    _assert_close_runs(plain, _train("vanilla", compile=True), "exact")


def test_a_stored_run_records_its_numerics(tiny_config, tmp_path):
    result = experiment.run(tiny_config("vanilla", epochs=1), root=tmp_path)
    assert result["numerics"] == {"precision": "fp32", "channels_last": True, "compile": False}
