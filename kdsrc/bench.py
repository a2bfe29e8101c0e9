"""Throughput and cost: the cpu-profile student alone vs KD, with the teacher's logits computed on
the fly or looked up in the view cache (:mod:`kdsrc.teacher_cache`), and the cost of every method."""
import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone

import torch

from . import augment, provenance
from .config import make_config
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
        torch.manual_seed(0)
        return (build_model(base.model, data.num_classes, data.in_channels),
                build_model(base.teacher, data.num_classes, data.in_channels))

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
