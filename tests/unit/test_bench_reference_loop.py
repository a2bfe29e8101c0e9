"""The RepDistiller-style loop that ``python -m kdsrc bench`` measures ours against, and the benchmarks."""
import pytest
import torch
from torchvision import transforms

from kdsrc import bench, results
from kdsrc.bench import reference_loop
from kdsrc.data import to_model_input
from kdsrc.models import build_model


def test_reference_pipeline_serves_the_images_our_loop_normalises():
    data = bench.fabricated_cifar(8)
    plain = reference_loop.PilImages(data.train, transforms.Compose([transforms.ToTensor(),
                                                                     transforms.Normalize(data.mean, data.std)]))
    served = torch.stack([plain[i][0] for i in range(8)])
    torch.testing.assert_close(served, to_model_input(data.train.images, data.mean, data.std))
    assert [plain[i][1:] for i in range(3)] == [(0, 0), (1, 1), (2, 2)]  # label, index


def test_reference_transform_crops_with_padding_and_flips():
    t = reference_loop.train_transform(32, 4, (0.5,) * 3, (0.5,) * 3)
    names = [type(step).__name__ for step in t.transforms]
    assert names == ["RandomCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    assert t.transforms[0].padding == 4


def test_reference_kd_loop_trains_the_student_and_times_the_steps():
    data = bench.fabricated_cifar(4 * 8)
    torch.manual_seed(0)
    student, teacher = build_model("resnet8", 100, 3), build_model("resnet8", 100, 3)
    before = [p.clone() for p in student.parameters()]
    rate = reference_loop.kd_images_per_second(student, teacher, data.train, data.mean, data.std, 4, 8,
                                               steps=2, warmup=2, workers=0)
    assert rate > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    with pytest.raises(ValueError, match="^steps: 5 batches of 8 need 40 images"):
        reference_loop.kd_images_per_second(student, teacher, data.train, data.mean, data.std, 4, 8, steps=3,
                                            warmup=2, workers=0)


def test_reference_comparison_reports_both_loops_and_their_ratio():
    out = bench.reference_comparison("cpu", steps=1, warmup=1, paper_pair=("resnet8", "resnet8"), cpu_profile="smoke")
    paper, cpu = out["paper_pair"], out["cpu_pair"]
    # a ratio is the median of the ratios within each round, inside their range
    for ratio, spread in ((paper["ratio"], paper["ratio_spread"]["ratio"]), (cpu["ratio_cached"], cpu["ratio_spread"]["ratio_cached"])):
        assert len(spread["values"]) == out["repeats"] == 3 and spread["min"] <= ratio == spread["median"] <= spread["max"]
    assert paper["projected_240_epoch_minutes"] == pytest.approx(240 * 50_000 / paper["ours"]["kd_img_s"] / 60)
    table = results.reference_loop_table(out)
    assert list(table["x RepDistiller-style"].iloc[[0, 3]]) == [1.0, 1.0]
    assert list(table["x RepDistiller-style"].iloc[[1, 2]]) == [round(paper["ratio"], 2), round(paper["ratio_cached"], 2)]
    spread = paper["ratio_spread"]["ratio"]
    assert table["range over rounds"].iloc[1] == f"{spread['min']:.2f} to {spread['max']:.2f}"
    assert len(table) == 6 and "git_commit" in out["code"]
    # the rate of counted work: FLOPs per image times images per second; the cached step skips the teacher
    flops = cpu["flops_per_image"]
    assert flops["teacher_forward"] > 0 and flops["student_step"] > 0
    assert cpu["gflop_s"]["ours_cached"] == pytest.approx(flops["student_step"] * cpu["ours"]["kd_cached_img_s"] / 1e9)
    assert cpu["gflop_s"]["reference"] == pytest.approx(sum(flops.values()) * cpu["reference"]["kd_img_s"] / 1e9)
    assert list(table["GFLOP/s"]) == [round(pair["gflop_s"][work], 1) for pair in (paper, cpu)
                                      for work in ("reference", "ours", "ours_cached")]


def test_pairs_bench_feeds_the_projection_of_chapter_13():
    out = bench.pairs_bench([("resnet8", "resnet8"), ("resnet14", "resnet8")], steps=1, warmup=1)
    assert [p["reference"] for p in out["pairs"]] == [None, None]
    assert out["pairs"][0]["ours"]["student_img_s"] == out["pairs"][1]["ours"]["student_img_s"]  # measured once
    times = results.pair_epoch_times(out)
    assert (times["KD s/epoch"] > 0).all() and out["train_images"] == 50_000
