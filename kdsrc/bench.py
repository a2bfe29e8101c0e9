"""Throughput and cost: the cpu-profile student alone vs KD, with the teacher's logits computed on
the fly or looked up in the view cache (:mod:`kdsrc.teacher_cache`); the cost of every method; the
paper profile's pairs; and our training loop against one built as RepDistiller's is
(:mod:`kdsrc.reference_loop`)."""
import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone

import torch

from . import augment, provenance, reference_loop
from .config import make_config
from .data import STATS, Dataset, Split
from .distillers import METHODS
from .experiment import build_distiller, dataset_for
from .models import build_model, count_parameters
from .teacher_cache import build_logit_cache
from .train import fit, peak_memory_mb, reset_peak_memory


def _images_per_second(distiller, data, cfg, device, stage=None) -> float:
    history = fit(distiller, data, cfg, device, stage=stage)
    return len(data.train) / min(r["epoch_seconds"] for r in history[1:] or history)


def bench(profile: str = "cpu", epochs: int = 4, device: str = "cpu", **overrides) -> dict:
    """Training images/second of each mode, their ratio to the student alone, and peak memory.

    Weights are freshly initialised (speed does not depend on them); the first epoch is a warm-up
    when ``epochs`` > 1. Peak memory is the process's peak so far, so it only grows mode by mode.
    """
    base = make_config("kd", profile, epochs=epochs, test_subset=1000, **overrides)
    data = dataset_for(base)
    out = {"profile": profile, "epochs": epochs, "student": base.model, "teacher": base.teacher,
           "train_images": len(data.train), "device": device, "threads": torch.get_num_threads()}

    def models():
        return _models(data, base.model, base.teacher)

    student, _ = models()
    out["student_alone_img_s"] = _images_per_second(METHODS["vanilla"](student), data, base, device)
    out["student_alone_peak_mb"] = peak_memory_mb(device)

    student, teacher = models()
    kd = METHODS["kd"](student, teacher)
    out["kd_on_the_fly_img_s"] = _images_per_second(kd, data, replace(base, teacher_cache=False), device)
    out["kd_on_the_fly_peak_mb"] = peak_memory_mb(device)

    student, teacher = models()
    start = time.perf_counter()
    cache = build_logit_cache(teacher.to(device), data, base, device)
    out["cache_build_seconds"] = time.perf_counter() - start
    kd = METHODS["kd"](student, teacher)
    kd.logit_cache = cache.to(device)
    out["kd_cached_img_s"] = _images_per_second(kd, data, base, device)
    out["kd_cached_peak_mb"] = peak_memory_mb(device)
    for mode in ("kd_on_the_fly", "kd_cached"):
        out[f"{mode}_epoch_ratio"] = out["student_alone_img_s"] / out[f"{mode}_img_s"]
    return {**out, **_provenance(device)}


def _provenance(device) -> dict:
    return {"code": provenance.code_version(), "libraries": provenance.libraries(),
            "hardware": provenance.hardware(device),
            "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def method_cost(method: str, profile: str = "cpu", epochs: int = 2, device: str = "cpu") -> dict:
    """Training cost of one method on a profile's pair, measured in this process.

    Images/second of the main training (best of ``epochs`` epochs, the first a warm-up) and of a
    two-stage method's first stage, peak memory above the memory in use before training, and
    trainable parameters beyond the student's. Weights are freshly initialised; a method that
    reads cached teacher logits gets a cache of the right size filled with random values (a
    lookup costs the same whatever the values). Run each method in a fresh process
    (:func:`method_costs`) so that no method inherits another's peak.
    """
    cfg = make_config(method, profile, epochs=epochs, test_subset=1000)
    data = dataset_for(cfg)
    torch.manual_seed(0)
    student = build_model(cfg.model, data.num_classes, data.in_channels)
    teacher = build_model(cfg.teacher, data.num_classes, data.in_channels) if METHODS[method].needs_teacher else None
    distiller = build_distiller(method, cfg.method_params, student, teacher, data)
    if getattr(distiller, "caches_teacher_logits", False) and cfg.teacher_cache:
        views = augment.num_views(cfg.crop_padding, cfg.flip)
        distiller.logit_cache = torch.randn(len(data.train) * views, data.num_classes, device=device)
    before = reset_peak_memory(device)
    out = {"method": method, "profile": profile, "student": cfg.model, "teacher": cfg.teacher if teacher else None,
           "train_images": len(data.train), "batch_size": cfg.batch_size, "device": device,
           "threads": torch.get_num_threads(), "first_stage_img_s": None}
    stage = distiller.first_stage()
    if stage is not None:
        out["first_stage_img_s"] = _images_per_second(distiller, data, cfg, device, replace(stage, epochs=epochs))
    out["img_s"] = _images_per_second(distiller, data, cfg, device)
    out["peak_memory_above_start_mb"] = peak_memory_mb(device) - before
    out["memory_before_training_mb"] = before
    out["student_parameters"] = count_parameters(student)
    out["extra_parameters"] = distiller.extra_parameter_count()
    return out


def method_costs(methods, profile: str = "cpu", epochs: int = 4, device: str = "cpu") -> dict:
    """:func:`method_cost` of each method, each in a fresh ``python -m kdsrc bench --method`` process,
    with the code version, libraries and hardware that produced them."""
    rows = []
    for method in methods:
        command = [sys.executable, "-m", "kdsrc", "bench", "--method", method, "--profile", profile,
                   "--epochs", str(epochs), "--device", device, "--json"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"method: bench of {method!r} failed: {done.stderr.strip()[-300:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"profile": profile, "epochs": epochs, "methods": rows, **_provenance(device)}


# ------------------------------------------------------------------ our loop against RepDistiller's
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


def _fit_rate(method: str, cfg, data, device, student, teacher=None) -> float:
    distiller = METHODS[method](student, teacher) if teacher is not None else METHODS[method](student)
    return _images_per_second(distiller, data, replace(cfg, epochs=2, milestones=()), device)


def _models(data, *names):
    torch.manual_seed(0)
    return [build_model(name, data.num_classes, data.in_channels) for name in names]


def pair_throughput(teacher: str, student: str, device: str = "cpu", steps: int = 10, warmup: int = 2,
                    reference: bool = False, rates: dict | None = None) -> dict:
    """Training images/second of a paper-profile pair on fabricated CIFAR-size data, on our loop:
    the teacher alone, the student alone and KD with the teacher on every batch; with
    ``reference`` also KD in RepDistiller's loop (:mod:`kdsrc.reference_loop`) and our ratio to
    it. An epoch of ours is ``steps + warmup`` batches, the second epoch timed; ``rates`` caches
    the single models' figures between pairs."""
    cfg = make_config("kd", "paper", model=student, teacher=teacher)
    data = fabricated_cifar((steps + warmup) * cfg.batch_size)
    rates = {} if rates is None else rates
    for name in (teacher, student):
        if name not in rates:
            rates[name] = _fit_rate("vanilla", make_config("vanilla", "paper", model=name), data, device, *_models(data, name))
    out = {"teacher": teacher, "student": student,
           "ours": {"teacher_img_s": rates[teacher], "student_img_s": rates[student],
                    "kd_img_s": _fit_rate("kd", cfg, data, device, *_models(data, student, teacher))},
           "reference": None, "ratio": None}
    if reference:
        student_model, teacher_model = _models(data, student, teacher)
        out["reference"] = {"kd_img_s": reference_loop.kd_images_per_second(
            student_model, teacher_model, data.train, data.mean, data.std, cfg.crop_padding, cfg.batch_size,
            steps, warmup, device), "workers": reference_loop.default_workers()}
        out["ratio"] = out["ours"]["kd_img_s"] / out["reference"]["kd_img_s"]
    return out


def cpu_pair_against_reference(device: str = "cpu", steps: int = 10, warmup: int = 2, profile: str = "cpu") -> dict:
    """The KD pair of ``profile`` (the cpu profile's on Fashion-MNIST) in RepDistiller's loop and in
    ours, the teacher on every batch and from the view cache (whose one-off build is reported apart)."""
    cfg = make_config("kd", profile)
    data = dataset_for(cfg)
    images = (steps + warmup) * cfg.batch_size
    train = data.train.subset(torch.arange(images))
    data = Dataset(data.name, train, data.test.subset(torch.arange(64)), None, data.num_classes, data.mean, data.std)
    teacher, student = cfg.teacher, cfg.model
    on_the_fly = _fit_rate("kd", replace(cfg, teacher_cache=False), data, device, *_models(data, student, teacher))
    student_model, teacher_model = _models(data, student, teacher)
    start = time.perf_counter()
    cache = build_logit_cache(teacher_model.to(device), data, cfg, device)
    build_seconds = time.perf_counter() - start
    kd = METHODS["kd"](student_model, teacher_model)
    kd.logit_cache = cache.to(device)
    cached = _images_per_second(kd, data, replace(cfg, epochs=2), device)
    student_model, teacher_model = _models(data, student, teacher)
    reference = reference_loop.kd_images_per_second(student_model, teacher_model, data.train, data.mean, data.std,
                                                    cfg.crop_padding, cfg.batch_size, steps, warmup, device)
    return {"teacher": teacher, "student": student, "dataset": data.name, "batch_size": cfg.batch_size,
            "ours": {"kd_img_s": on_the_fly, "kd_cached_img_s": cached, "cache_build_seconds": build_seconds,
                     "cache_images": images},
            "reference": {"kd_img_s": reference, "workers": reference_loop.default_workers()},
            "ratio": on_the_fly / reference, "ratio_cached": cached / reference}


def reference_comparison(device: str = "cpu", steps: int = 10, warmup: int = 2,
                         paper_pair: tuple[str, str] = PAPER_REFERENCE_PAIR, cpu_profile: str = "cpu") -> dict:
    """Our loop against RepDistiller's for the CRD benchmark's resnet32x4 -> resnet8x4 KD pair
    (fabricated CIFAR-size data) and the cpu profile's pair, with the projected minutes of a
    240-epoch CIFAR-100 run of the first on this device."""
    paper = pair_throughput(*paper_pair, device=device, steps=steps, warmup=warmup, reference=True)
    paper["projected_240_epoch_minutes"] = projected_minutes(paper["ours"]["kd_img_s"])
    paper["projected_240_epoch_minutes_reference"] = projected_minutes(paper["reference"]["kd_img_s"])
    return {"device": device, "steps": steps, "warmup": warmup, "paper_pair": paper,
            "cpu_pair": cpu_pair_against_reference(device, steps, warmup, cpu_profile), **_provenance(device)}


def projected_minutes(images_per_second: float, epochs: int = 240, images: int = CIFAR_TRAIN_IMAGES) -> float:
    """Training minutes of ``epochs`` epochs of ``images`` images at a measured rate (evaluation
    not included)."""
    return epochs * images / images_per_second / 60


def pairs_bench(pairs, device: str = "cpu", steps: int = 10, warmup: int = 2) -> dict:
    """:func:`pair_throughput` of every (teacher, student) pair, with RepDistiller's loop for the
    resnet32x4 -> resnet8x4 pair: what chapter 13 projects the paper tables' hours from."""
    rates: dict = {}
    rows = [pair_throughput(t, s, device, steps, warmup, reference=(t, s) == PAPER_REFERENCE_PAIR, rates=rates)
            for t, s in pairs]
    return {"profile": "paper", "device": device, "batch_size": make_config("kd", "paper").batch_size,
            "train_images": CIFAR_TRAIN_IMAGES, "steps": steps, "warmup": warmup, "pairs": rows, **_provenance(device)}
