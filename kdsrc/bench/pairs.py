"""The paper profile's pairs on fabricated CIFAR-size data, and our loop against one built as
RepDistiller's is (:mod:`kdsrc.bench.reference_loop`)."""
import time
from dataclasses import replace

import torch

from .. import distillers
from ..config import make_config
from ..data import STATS, Dataset, Split, dataset_for
from ..distillers import ALONE, KD_METHOD
from ..teachers import build_logit_cache
from . import reference_loop
from .flops import gflop_per_second, kd_step_flops
from .repeats import REPEATS, interleaved, medians, round_ratios, warn_unsteady
from .timing import (fresh_models, images_per_second, measured_with, random_logit_cache,
                     teacher_forward_images_per_second)

CIFAR_TRAIN_IMAGES = 50_000
PAPER_REFERENCE_PAIR = ("resnet32x4", "resnet8x4")
CPU_REFERENCE_PAIR = ("resnet14", "resnet8")


def fabricated_cifar(images: int, classes: int = 100, seed: int = 0) -> Dataset:
    """Random uint8 images of CIFAR-100's size (3 x 32 x 32, 100 classes, its normalisation): what
    speed is measured on where the real archive is absent (speed does not depend on the pixels)."""
    generator = torch.Generator().manual_seed(seed)
    def split(n):
        return Split(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator),
                     torch.arange(n) % classes)
    mean, std = STATS["cifar100"]
    return Dataset("cifar100", split(images), split(64), None, classes, mean, std)


KD_MODES = ("on_the_fly", "cached", "reference")


def _kd_modes(cfg, data, cache, device, steps: int, warmup: int, reference: bool) -> dict:
    """The KD modes a benchmark compares on ``data``, each a fresh pair of ``cfg``'s networks: our
    loop with the teacher on every batch (``on_the_fly``), our loop reading ``cache`` (``cached``),
    and with ``reference`` RepDistiller's loop (:mod:`kdsrc.bench.reference_loop`)."""
    student, teacher = cfg.model, cfg.teacher

    def cached():
        kd = distillers.build(KD_METHOD, {}, *fresh_models(data, student, teacher), data)
        kd.logit_cache = cache
        return images_per_second(kd, data, replace(cfg, epochs=2, milestones=(), teacher_cache=True), device)

    modes = {"on_the_fly": lambda: _fit_rate(KD_METHOD, replace(cfg, teacher_cache=False), data, device,
                                             *fresh_models(data, student, teacher)),
             "cached": cached}
    if reference:
        modes["reference"] = lambda: reference_loop.kd_images_per_second(
            *fresh_models(data, student, teacher), data.train, data.mean, data.std, cfg.crop_padding,
            cfg.batch_size, steps, warmup, device)
    return modes


def _ratios_to_reference(rounds: list[dict]) -> dict:
    """Our KD rates over the reference loop's, within each round (:func:`round_ratios`)."""
    return {"ratio": round_ratios(rounds, "on_the_fly", "reference"),
            "ratio_cached": round_ratios(rounds, "cached", "reference")}


def _fit_rate(method: str, cfg, data, device, student, teacher=None) -> float:
    distiller = distillers.build(method, {}, student, teacher, data)
    return images_per_second(distiller, data, replace(cfg, epochs=2, milestones=()), device)


def pair_throughput(teacher: str, student: str, device: str = "cpu", steps: int = 10, warmup: int = 2,
                    reference: bool = False, rates: dict | None = None, repeats: int = REPEATS) -> dict:
    """Training images/second of a paper-profile pair on fabricated CIFAR-size data, on our loop:
    the teacher alone, the student alone, KD with the teacher on every batch and KD reading a view
    cache of the teacher's logits; the teacher's forward pass (what building that cache costs per
    image and view); with ``reference`` also KD in RepDistiller's loop
    (:mod:`kdsrc.bench.reference_loop`) and our ratios to it (``ratio``, and ``ratio_cached`` for KD
    from the cache). An epoch of ours is ``steps + warmup`` batches, the second epoch timed. The
    modes run in turns for ``repeats`` rounds (:mod:`kdsrc.bench.repeats`): rates are medians over
    rounds, a ratio the median of the ratios within a round, their ranges under ``ratio_spread``.
    ``rates`` caches the single models' figures between pairs."""
    cfg = make_config(KD_METHOD, "paper", model=student, teacher=teacher)
    data = fabricated_cifar((steps + warmup) * cfg.batch_size)
    rates = {} if rates is None else rates
    modes = {name: (lambda n=name: _fit_rate(ALONE, make_config(ALONE, "paper", model=n), data, device,
                                             *fresh_models(data, n)))
             for name in dict.fromkeys((teacher, student)) if name not in rates}
    if ("forward", teacher) not in rates:
        modes["forward", teacher] = lambda: teacher_forward_images_per_second(fresh_models(data, teacher)[0], data, cfg,
                                                                               device)
    modes.update(_kd_modes(cfg, data, random_logit_cache(data, cfg, device), device, steps, warmup, reference))
    rounds = interleaved(modes, repeats)
    rate = medians(rounds)
    rates.update({name: value for name, value in rate.items() if name not in KD_MODES})
    out = {"teacher": teacher, "student": student,
           "ours": {"teacher_img_s": rates[teacher], "student_img_s": rates[student], "kd_img_s": rate["on_the_fly"],
                    "kd_cached_img_s": rate["cached"], "teacher_forward_img_s": rates["forward", teacher]},
           "reference": None, "ratio": None}
    if reference:
        ratios = _ratios_to_reference(rounds)
        out["reference"] = {"kd_img_s": rate["reference"], "workers": reference_loop.default_workers()}
        out.update({name: spread["median"] for name, spread in ratios.items()}, ratio_spread=ratios)
        warn_unsteady(f"{teacher} -> {student} against RepDistiller's loop", ratios)
    return out


def cpu_pair_against_reference(device: str = "cpu", steps: int = 10, warmup: int = 2, profile: str = "cpu",
                               repeats: int = REPEATS) -> dict:
    """The KD pair of ``profile`` (the cpu profile's on Fashion-MNIST) in RepDistiller's loop and in
    ours, the teacher on every batch and from the view cache (whose one-off build is reported
    apart), in turns for ``repeats`` rounds: rates are medians, ratios the medians of the ratios
    within a round, their ranges under ``ratio_spread``."""
    cfg = make_config(KD_METHOD, profile)
    data = dataset_for(cfg)
    images = (steps + warmup) * cfg.batch_size
    train = data.train.subset(torch.arange(images))
    data = Dataset(data.name, train, data.test.subset(torch.arange(64)), None, data.num_classes, data.mean, data.std)
    teacher, student = cfg.teacher, cfg.model
    _, teacher_model = fresh_models(data, student, teacher)
    start = time.perf_counter()
    cache = build_logit_cache(teacher_model.to(device), data, cfg, device).to(device)
    build_seconds = time.perf_counter() - start

    rounds = interleaved(_kd_modes(cfg, data, cache, device, steps, warmup, reference=True), repeats)
    rate = medians(rounds)
    ratios = _ratios_to_reference(rounds)
    warn_unsteady(f"{teacher} -> {student} against RepDistiller's loop", ratios)
    measured = {"teacher": teacher, "student": student, "dataset": data.name, "batch_size": cfg.batch_size,
                "ours": {"kd_img_s": rate["on_the_fly"], "kd_cached_img_s": rate["cached"],
                         "cache_build_seconds": build_seconds, "cache_images": images},
                "reference": {"kd_img_s": rate["reference"], "workers": reference_loop.default_workers()},
                "ratio": ratios["ratio"]["median"], "ratio_cached": ratios["ratio_cached"]["median"],
                "ratio_spread": ratios}
    return with_flop_rates(measured, loop_flops(teacher, student, data, cfg.batch_size))


def reference_comparison(device: str = "cpu", steps: int = 10, warmup: int = 2,
                         paper_pair: tuple[str, str] = PAPER_REFERENCE_PAIR, cpu_profile: str = "cpu",
                         repeats: int = REPEATS) -> dict:
    """Our loop against RepDistiller's for the CRD benchmark's resnet32x4 -> resnet8x4 KD pair
    (fabricated CIFAR-size data) and the cpu profile's pair, with each loop's rate of counted work
    (:func:`with_flop_rates`) and the projected minutes of a 240-epoch CIFAR-100 run of the first
    on this device."""
    paper = pair_throughput(*paper_pair, device=device, steps=steps, warmup=warmup, reference=True, repeats=repeats)
    batch_size = make_config(KD_METHOD, "paper").batch_size
    paper = with_flop_rates(paper, loop_flops(*paper_pair, fabricated_cifar(batch_size), batch_size))
    paper["projected_240_epoch_minutes"] = projected_minutes(paper["ours"]["kd_img_s"])
    paper["projected_240_epoch_minutes_reference"] = projected_minutes(paper["reference"]["kd_img_s"])
    cpu = cpu_pair_against_reference(device, steps, warmup, cpu_profile, repeats)
    return {"device": device, "steps": steps, "warmup": warmup, "repeats": repeats, "paper_pair": paper,
            "cpu_pair": cpu, **measured_with(device)}


def loop_flops(teacher: str, student: str, data: Dataset, batch_size: int) -> dict:
    """FLOPs per image of one KD step of the pair on ``data``'s image size
    (:func:`kdsrc.bench.flops.kd_step_flops`): the teacher's forward pass and the student's step."""
    student_model, teacher_model = fresh_models(data, student, teacher)
    images = torch.randn(batch_size, *data.train.images.shape[1:], generator=torch.Generator().manual_seed(0))
    return kd_step_flops(student_model, teacher_model, images, torch.arange(batch_size) % data.num_classes)


def with_flop_rates(pair: dict, flops: dict) -> dict:
    """A pair's measured rates as GFLOP/s of counted work: KD with the teacher on every batch (ours
    and the reference loop's) does the teacher's forward and the student's step per image; KD
    from cached logits (where measured) the student's step only."""
    step = flops["teacher_forward"] + flops["student_step"]
    rates = {"ours": gflop_per_second(step, pair["ours"]["kd_img_s"]),
             "reference": gflop_per_second(step, pair["reference"]["kd_img_s"])}
    if "kd_cached_img_s" in pair["ours"]:
        rates["ours_cached"] = gflop_per_second(flops["student_step"], pair["ours"]["kd_cached_img_s"])
    return {**pair, "flops_per_image": flops, "gflop_s": rates}


def projected_minutes(images_per_second: float, epochs: int = 240, images: int = CIFAR_TRAIN_IMAGES) -> float:
    """Training minutes of ``epochs`` epochs of ``images`` images at a measured rate (evaluation
    not included)."""
    return epochs * images / images_per_second / 60


def pairs_bench(pairs, device: str = "cpu", steps: int = 10, warmup: int = 2, repeats: int = REPEATS) -> dict:
    """:func:`pair_throughput` of every (teacher, student) pair, with RepDistiller's loop for the
    resnet32x4 -> resnet8x4 pair: what chapter 13 projects the paper tables' hours from."""
    rates: dict = {}
    rows = [pair_throughput(t, s, device, steps, warmup, reference=(t, s) == PAPER_REFERENCE_PAIR, rates=rates,
                            repeats=repeats) for t, s in pairs]
    return {"profile": "paper", "device": device, "batch_size": make_config(KD_METHOD, "paper").batch_size,
            "train_images": CIFAR_TRAIN_IMAGES, "steps": steps, "warmup": warmup, "repeats": repeats, "pairs": rows,
            **measured_with(device)}
