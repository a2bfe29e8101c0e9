"""The fast path (issue 7 item 2): precision, channels-last, compile, the teacher under inference_mode.

The equivalence tests train the plain path (fp32, NCHW, eager) and a fast variant from the same
seeds, on 1000 Fashion-MNIST images for 2 epochs, and compare them. One such short run is chaotic:
a different summation order (a compiled kernel, another memory format, another CPU's vector unit
or thread count) moves its test accuracy on 500 images by a few points. So each comparison is of
means over ``SEEDS`` student initialisations: the train loss of every epoch, relative, and the test
accuracy averaged over the epochs too, in points. The bands were chosen from the largest
differences measured (``MEASURED``) on an AMD EPYC with AVX-512, with its default kernels and 2
threads and with the plain kernels (``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``) and 1
thread, between the plain path and each variant and between the plain path under the two settings
(a rounding change of either kind moves these short runs alike), and for bf16 also on an Intel Xeon
with AMX and on a CI machine whose bf16 arithmetic is not native, times ``MARGIN``, never below
``FLOOR``:

- channels-last alone and ``torch.compile`` alone keep fp32 arithmetic ("exact");
- bfloat16 autocast (with channels-last) rounds every convolution ("bf16").
"""
import functools
from dataclasses import replace

import pytest
import torch

from kdsrc import experiment
from kdsrc.engine import numerics
from kdsrc.config import ConfigError, make_config
from kdsrc.data import dataset_for
from kdsrc.distillers import build
from kdsrc.losses import at_loss, hint_loss, kd_loss
from kdsrc.models import build_model
from kdsrc.engine import fit

SEEDS = (1, 2)
# the largest differences measured (tests/unit/data/fast_path_spread.json). "exact": the larger of a
# variant against the plain path on one setting and of the plain path on one setting against the
# other (AT: 0.0071 and 0.75 points between the AVX-512 and the plain SSE4.1 kernels; channels-last
# alone gave identical numbers on this CPU, compile 0.0008 and 0.5 points). "bf16": bf16 autocast
# against the plain path, with the vector kernels only (CI does not run bf16 on the plain ones): AT's
# loss 0.0137 on the AMD and 0.0134 on the Intel machine, but 0.0276 on the CI machine of 2026-12-03
# (its first epoch; it failed the band of 0.0274 set from the first two); vanilla's accuracy 1.1
MEASURED = {("exact", "loss"): 0.0071, ("exact", "accuracy"): 0.75, ("bf16", "loss"): 0.0276, ("bf16", "accuracy"): 1.1}
MARGIN = 2.0  # room for the kernels of machines not measured
FLOOR = {"loss": 0.005, "accuracy": 1.0}
BAND = {key: max(FLOOR[key[1]], MARGIN * value) for key, value in MEASURED.items()}


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


def test_paper_profile_trains_on_the_fast_path_in_fp32_without_a_logit_cache():
    cfg = make_config("kd", "paper")
    assert (cfg.channels_last, cfg.precision, cfg.compile, cfg.teacher_cache) == (True, "fp32", False, False)


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
    distiller = build("fitnets", cfg.method_params, student, teacher, data)
    x = torch.randn(4, 1, 28, 28)
    assert not distiller.teacher_logits(x).is_inference()
    assert not any(f.is_inference() for f in distiller.teacher_features(x).stages)
    _, losses = distiller.forward_train(x, torch.zeros(4, dtype=torch.int64))
    sum(losses.values()).backward()  # a loss that saved an inference tensor would raise here


def _train(method: str, seed: int, device: str = "cpu", **numerics_fields) -> list[tuple[float, float]]:
    cfg = make_config(method, "smoke", train_subset=1000, test_subset=500, epochs=2, teacher_cache=False,
                      channels_last=False, precision="fp32")
    cfg = replace(cfg, **numerics_fields)
    data = dataset_for(cfg)
    torch.manual_seed(0)
    teacher = build_model("resnet14", data.num_classes, data.in_channels) if method != "vanilla" else None
    torch.manual_seed(seed)
    student = build_model("resnet8", data.num_classes, data.in_channels)
    history = fit(build(method, cfg.method_params, student, teacher, data), data, cfg, device)
    return [(r["train_loss"]["total"], r["test_acc"]) for r in history]


@functools.cache  # the plain path is trained once per method for all its variants
def _means(method: str, device: str = "cpu", **numerics_fields) -> tuple[list[float], float]:
    """Over ``SEEDS``: the mean train loss of each epoch, and the mean test accuracy over all epochs."""
    runs = [_train(method, seed, device, **numerics_fields) for seed in SEEDS]
    losses = [sum(run[epoch][0] for run in runs) / len(runs) for epoch in range(len(runs[0]))]
    return losses, sum(acc for run in runs for _, acc in run) / sum(len(run) for run in runs)


def _assert_close_runs(plain, fast, kind):
    (losses, acc), (fast_losses, fast_acc) = plain, fast
    for epoch, (loss, fast_loss) in enumerate(zip(losses, fast_losses), 1):
        assert abs(fast_loss - loss) <= BAND[kind, "loss"] * loss, f"epoch {epoch} mean train loss {fast_loss} vs {loss}"
    assert abs(fast_acc - acc) <= BAND[kind, "accuracy"], f"mean test accuracy {fast_acc} vs {acc}"


CPU_VARIANTS = {"channels_last": ("exact", {"channels_last": True}),
                "bf16": ("bf16", {"channels_last": True, "precision": "bf16"})}


@pytest.mark.parametrize("variant", CPU_VARIANTS)
@pytest.mark.parametrize("method", ["vanilla", "at"])
def test_fast_path_matches_the_plain_path_on_cpu(method, variant):
    kind, fields = CPU_VARIANTS[variant]
    _assert_close_runs(_means(method), _means(method, **fields), kind)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fast_path_matches_the_plain_path_on_a_gpu():
    plain = _means("at", "cuda")
    _assert_close_runs(plain, _means("at", "cuda", channels_last=True, precision="auto"), "bf16")


def test_compiled_step_matches_the_eager_step():
    plain = _means("vanilla")
    _assert_close_runs(plain, _means("vanilla", compile=True), "exact")


def test_a_stored_run_records_its_numerics(tiny_config, tmp_path):
    result = experiment.run(tiny_config("vanilla", epochs=1), root=tmp_path)
    assert result["numerics"] == {"precision": "fp32", "channels_last": True, "compile": False}
