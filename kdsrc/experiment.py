"""``run(config)``: return the stored result of a configuration, training it first if needed.

Wires data, models, distillers, the trainer and the results store. A teacher is itself a run
(``config.teacher_config()``), trained and cached the same way; its final weights are kept beside
its JSON so every student distilled from it loads the same network (``weights_only=True``). A
teacher can instead be read from a RepDistiller/mdistiller checkpoint (``teacher_checkpoint``,
:func:`kdsrc.teachers.import_checkpoint`); either way it is recorded in the profile's teacher
manifest (:func:`kdsrc.teachers.manifest`).

Under ``torchrun`` (:mod:`kdsrc.distributed`) every process runs the same calls and trains
together; process 0 alone writes results, weights, caches and manifests, and the others wait for
it where they read them next.
"""
import functools
import hashlib
import json
import os
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import distributed, provenance, results, teachers
from .config import ConfigError, RunConfig, from_dict
from .data import load_dataset, to_model_input
from .distillers import METHODS
from .models import build_model, count_parameters
from .models.ensemble import TeacherEnsemble
from .numerics import resolve_precision
from .teacher_cache import build_logit_cache
from .train import evaluate, fit, load_checkpoint, peak_memory_mb, reset_peak_memory, save_atomic


class MissingRun(RuntimeError):
    """A stored run was required (``stored_only``) but none exists."""


_SESSION = {"root": None, "stored_only": False}


def use(results_root: str | Path | None = None, fresh: bool = False, stored_only: bool = False) -> Path:
    """Set where this process's runs are read and written; return that folder.

    ``fresh=True`` uses a new temporary folder, so everything trains anew without touching the
    stored runs (or the scratch folder named by ``$KDSRC_FRESH_RESULTS``: the test suite shares
    one between the chapters it re-executes at smoke scale, so a run they have in common trains
    once); ``stored_only=True`` makes a missing run an error instead of training it (the book's
    regression tests use it: re-executing a chapter must never train).
    """
    root = _fresh_root() if fresh else (Path(results_root) if results_root else None)
    _SESSION.update(root=root, stored_only=stored_only)
    return root or results.results_dir()


def _fresh_root() -> Path:
    shared = os.environ.get("KDSRC_FRESH_RESULTS")
    if not shared:
        return Path(tempfile.mkdtemp(prefix="kdsrc-"))
    Path(shared).mkdir(parents=True, exist_ok=True)
    return Path(shared)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=4)
def _dataset(cfg_data: tuple):
    name, root, train_subset, val_size, test_subset, subset_seed = cfg_data
    return load_dataset(name, Path(root) if root else None, train_subset, val_size, test_subset, subset_seed)


def dataset_for(cfg: RunConfig):
    """The in-memory dataset of a configuration (loaded once per process)."""
    return _dataset((cfg.dataset, cfg.data_root, cfg.train_subset, cfg.val_size, cfg.test_subset, cfg.subset_seed))


def _root(root: str | Path | None) -> Path:
    """The results folder: ``root`` if given, else the one chosen by :func:`use`, else the default."""
    return Path(root or _SESSION["root"] or results.results_dir())


def weights_path(cfg: RunConfig, root: Path | None = None) -> Path:
    return results.run_path(cfg, _root(root)).with_suffix(".pt")


def checkpoint_path(cfg: RunConfig, root: Path | None = None) -> Path:
    """Where an unfinished run of ``cfg`` keeps its checkpoint (a first stage's files sit beside it)."""
    root = _root(root)
    return root / "checkpoints" / results.run_path(cfg, root).relative_to(root / "runs").with_suffix(".ckpt")


def stored_run(cfg: RunConfig, root: Path | None = None) -> dict | None:
    """The stored result of ``cfg``, or None; never trains."""
    path = results.run_path(cfg, _root(root))
    return results.read_run(path) if path.exists() else None


def run_state(cfg: RunConfig, root: Path | None = None) -> str:
    """``stored`` (its result exists), ``in progress`` (a checkpoint of it exists: :func:`run`
    resumes from it) or ``missing``."""
    if results.run_path(cfg, _root(root)).exists():
        return "stored"
    checkpoint = checkpoint_path(cfg, root)
    return "in progress" if any(p.exists() for p in (checkpoint, *_stage_files(checkpoint))) else "missing"


def load_weights(cfg: RunConfig, root: Path | None = None, model: torch.nn.Module | None = None) -> torch.nn.Module:
    """The trained network of a stored vanilla run (used as a teacher), loaded into ``model`` if given."""
    if model is None:
        data = dataset_for(cfg)
        model = build_model(cfg.model, data.num_classes, data.in_channels)
    path = weights_path(cfg, root)
    if not path.exists():
        raise ValueError(f"teacher: the stored run {path.with_suffix('.json')} has no weights file {path.name}; "
                         "delete the run's JSON to train it again")
    model.load_state_dict(load_checkpoint(path))
    return model


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, data) -> torch.Tensor:
    """Logits of ``model`` in eval mode for uint8 ``images`` of ``data`` (no augmentation)."""
    model.eval()
    return model(to_model_input(images, data.mean, data.std))


@torch.no_grad()
def predict_features(model: torch.nn.Module, images: torch.Tensor, data):
    """:class:`kdsrc.models.Features` of ``model`` in eval mode for uint8 ``images`` of ``data``."""
    model.eval()
    return model.forward_features(to_model_input(images, data.mean, data.std))


def build_distiller(method: str, params: dict, student: torch.nn.Module, teacher: torch.nn.Module | None, data):
    """``method``'s distiller for ``student`` and ``teacher`` with parameters ``params``, its
    connectors sized on two training images of ``data``; a ValueError names a bad parameter or pair."""
    distiller = METHODS[method]
    example = to_model_input(data.train.images[:2], data.mean, data.std)
    return distiller(student, teacher, distiller.Config(**params), example=example)


def _mean_epoch_seconds(history: list[dict]) -> float:
    return sum(r["epoch_seconds"] for r in history) / len(history)


def _network_cache(teacher_id: str, network, cfg: RunConfig, root: Path, device) -> torch.Tensor:
    data_key = f"{cfg.dataset}-{cfg.train_subset}-{cfg.val_size}-{cfg.subset_seed}-p{cfg.crop_padding}-f{int(cfg.flip)}"
    numerics_key = f"cl{int(cfg.channels_last)}" + ("_bf16" if resolve_precision(cfg.precision, device) == "bf16" else "")
    path = root / "cache" / f"logits_{teacher_id}_{data_key}_{numerics_key}.pt"
    with distributed.main_first():  # built and stored by process 0, read by the others
        if path.exists():
            return load_checkpoint(path)
        logits = build_logit_cache(network.to(device), dataset_for(cfg), cfg, device)
        save_atomic(logits, path)
        return logits


def _logit_cache(cfg: RunConfig, teacher, root: Path, device) -> torch.Tensor:
    """The teacher's logits on every view of the training images, built once per network and data
    and stored; an ensemble's is the combination of its members' caches, each stored as a single
    teacher's would be (so ensembles of any size share them)."""
    if isinstance(teacher, TeacherEnsemble):
        members = [_network_cache(member.run_id(), network, cfg, root, device)
                   for member, network in zip(cfg.teacher_configs(), teacher.members)]
        return teacher.combine(torch.stack(members))
    teacher_id = (teachers.checkpoint_id(cfg.teacher_checkpoint).replace(":", "-") if cfg.teacher_checkpoint
                  else cfg.teacher_config().run_id())
    return _network_cache(teacher_id, teacher, cfg, root, device)


def _ensemble_temperature(cfg: RunConfig) -> float | None:
    """The temperature at which a probability ensemble averages its members' softened
    probabilities: the distilling method's own (1 for a method without one); None for logits."""
    return float(cfg.method_params.get("temperature", 1.0)) if cfg.ensemble == "probs" else None


def _ensemble_identity(cfg: RunConfig) -> dict:
    identity = {"members": [member.run_id() for member in cfg.teacher_configs()], "ensemble": cfg.ensemble}
    if cfg.ensemble == "probs":
        identity["temperature"] = _ensemble_temperature(cfg)
    return identity


def _ensemble_id(cfg: RunConfig) -> str:
    return hashlib.sha256(json.dumps(_ensemble_identity(cfg)).encode()).hexdigest()[:16]


def ensemble_path(cfg: RunConfig, root: Path | None = None) -> Path:
    """Where the accuracy record of ``cfg``'s ensemble teacher is stored."""
    return (_root(root) / "ensembles" / cfg.profile
            / f"{cfg.teacher}_x{cfg.teacher_ensemble}_{cfg.ensemble}_{_ensemble_id(cfg)}.json")


def _teacher_network(cfg: RunConfig, data) -> torch.nn.Module:
    """The teacher's architecture: one network, or a :class:`TeacherEnsemble` of untrained members."""
    if cfg.teacher_checkpoint:
        return build_model(cfg.teacher, data.num_classes, data.in_channels)
    members = [build_model(member.model, data.num_classes, data.in_channels) for member in cfg.teacher_configs()]
    if cfg.teacher_ensemble == 1:
        return members[0]
    return TeacherEnsemble(members, cfg.ensemble, _ensemble_temperature(cfg) or 1.0)


def ensemble_run(cfg: RunConfig, root: Path | None = None, device: str | None = None) -> dict:
    """The stored record of ``cfg``'s ensemble teacher (its members' runs and its own test
    accuracy); its members are trained first (cached runs, one per seed) when needed."""
    path = ensemble_path(cfg, root)
    if path.exists():
        return results.read_run(path)
    if _SESSION["stored_only"]:
        raise MissingRun(f"stored ensemble: none for {cfg.teacher_ensemble} x {cfg.teacher} (expected {path}); "
                         "run without stored_only to train it")
    device = device or default_device()
    members = [run(member, root, device) for member in cfg.teacher_configs()]
    data = dataset_for(cfg)
    ensemble = load_teacher(cfg, root)
    acc = evaluate(ensemble.to(device), data.test, data, cfg.teacher_config(), device)
    record = {"run_id": _ensemble_id(cfg),
              "config": {"profile": cfg.profile, "teacher": cfg.teacher, "members": cfg.teacher_ensemble,
                         "seeds": [m["config"]["seed"] for m in members], "ensemble": cfg.ensemble,
                         "temperature": _ensemble_temperature(cfg)},
              "member_run_ids": [m["run_id"] for m in members],
              "member_test_acc": [m["last_test_acc"] for m in members],
              "last_test_acc": acc, "code": provenance.code_version(), "libraries": provenance.libraries(),
              "hardware": provenance.hardware(device),
              "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if distributed.is_main():
        results.write_json(record, path)
    distributed.barrier()
    return record


def load_teacher(cfg: RunConfig, root: Path | None = None, network: torch.nn.Module | None = None) -> torch.nn.Module:
    """``cfg``'s trained teacher (one network or an ensemble), from stored runs or its
    ``teacher_checkpoint``, loaded into ``network`` if given."""
    network = network or _teacher_network(cfg, dataset_for(cfg))
    if cfg.teacher_checkpoint:
        return teachers.import_checkpoint(cfg.teacher_checkpoint, cfg.teacher, model=network)
    members = network.members if isinstance(network, TeacherEnsemble) else [network]
    for member_cfg, member in zip(cfg.teacher_configs(), members):
        load_weights(member_cfg, root, member)
    return network


def _prepare_teacher(cfg: RunConfig, teacher, root: Path, device) -> tuple[str, float]:
    """Train (or read) ``cfg``'s teacher runs, or read its checkpoint, load the weights into
    ``teacher`` and record it in the teacher manifest; its id and test accuracy."""
    if cfg.teacher_checkpoint:  # measured once, before the student trains, as RepDistiller does
        load_teacher(cfg, root, teacher)
        data = dataset_for(cfg)
        acc = evaluate(teacher.to(device), data.test, data, cfg, device)
        if distributed.is_main():
            teachers.record_imported(cfg, acc, root)
        return teachers.checkpoint_id(cfg.teacher_checkpoint), acc
    if cfg.teacher_ensemble == 1:
        record = run(cfg.teacher_config(), root, device)
        members = [record]
    else:  # ensemble_run trains (or reads) its members first; here they are read
        record = ensemble_run(cfg, root, device)
        members = [run(member, root, device) for member in cfg.teacher_configs()]
    load_teacher(cfg, root, teacher)
    for member_cfg, member in zip(cfg.teacher_configs(), members) if distributed.is_main() else ():
        teachers.record_trained(member, weights_path(member_cfg, root), root)
    return record["run_id"], record["last_test_acc"]


def record_stored_teachers(profile: str, root: Path | None = None) -> list[dict]:
    """Record in ``profile``'s teacher manifest every trained teacher its stored student runs used
    (runs stored before the manifest existed never passed through :func:`_prepare_teacher`); the
    entries, one per teacher, read from the teachers' own stored runs and weights."""
    root = _root(root)
    teachers_used = {}
    for path in sorted((root / "runs" / profile).glob("*/*.json")):
        cfg = from_dict(results.read_run(path)["config"])
        if not cfg.teacher_checkpoint:
            teachers_used.update((member.run_id(), member) for member in cfg.teacher_configs())
    entries = []
    for member in teachers_used.values():
        record = stored_run(member, root)
        if record is None:
            raise MissingRun(f"teacher manifest: the teacher run {results.run_path(member, root)} is not stored")
        entries.append(teachers.record_trained(record, weights_path(member, root), root))
    return entries


def _stage_files(checkpoint: Path) -> tuple[Path, Path]:
    """The first stage's own checkpoint, and its finished state (so it never runs twice)."""
    return checkpoint.with_suffix(".stage1.ckpt"), checkpoint.with_suffix(".stage1.pt")


def _first_stage(distiller, data, cfg: RunConfig, device, checkpoint: Path) -> dict | None:
    """Train a two-stage method's first stage (resumable; skipped once finished); its record."""
    stage = distiller.first_stage()
    if stage is None:
        return None
    stage_checkpoint, finished = _stage_files(checkpoint)
    if finished.exists():
        state = load_checkpoint(finished)
        distiller.load_trainable_state(state["model"])
        history = state["history"]
    else:
        history = fit(distiller, data, cfg, device, stage_checkpoint, desc=f"{cfg.method}:{stage.name}", stage=stage)
        if distributed.is_main():
            save_atomic({"model": distiller.trainable_state(), "history": history}, finished)
    return {"name": stage.name, "epochs": stage.epochs, "history": history,
            "seconds_per_epoch": _mean_epoch_seconds(history)}


def run(cfg: RunConfig, root: Path | None = None, device: str | None = None) -> dict:
    """The stored result of ``cfg``; trains it (and its teacher) first when none is stored.

    A partial run left by an interruption resumes from its checkpoint. ``root`` defaults to the
    folder chosen by :func:`use`, else :func:`kdsrc.results.results_dir`.
    """
    root = _root(root)
    path = results.run_path(cfg, root)
    if path.exists():
        return results.read_run(path)
    if _SESSION["stored_only"]:
        raise MissingRun(f"stored run: none for {cfg.method}/{cfg.model} seed {cfg.seed} "
                         f"(expected {path}); run without stored_only to train it")
    device = device or default_device()
    code = provenance.code_version()  # the code as it was when training started
    data = dataset_for(cfg)
    teacher_id, teacher_acc, teacher = None, None, None
    if cfg.teacher_checkpoint or cfg.teacher_configs():  # its architecture now, its weights once the distiller fits it
        teacher = _teacher_network(cfg, data)

    torch.manual_seed(cfg.seed)
    student = build_model(cfg.model, data.num_classes, data.in_channels)
    try:
        distiller = build_distiller(cfg.method, cfg.method_params, student, teacher, data)
        distributed.require_plain_backward(distiller)  # before its teacher trains
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if teacher is not None:
        teacher_id, teacher_acc = _prepare_teacher(cfg, teacher, root, device)
    if teacher is not None and getattr(distiller, "caches_teacher_logits", False) and cfg.teacher_cache \
            and cfg.mixing == "none":  # mixed images are no cached views
        distiller.logit_cache = _logit_cache(cfg, teacher, root, device).to(device)

    checkpoint = checkpoint_path(cfg, root)
    memory_before = reset_peak_memory(device)  # data, teacher and caches are loaded: count training alone
    start = time.perf_counter()
    first = _first_stage(distiller, data, cfg, device, checkpoint)
    history = fit(distiller, data, cfg, device, checkpoint, desc=f"{cfg.method}:{cfg.model}:s{cfg.seed}")
    best = max(history, key=lambda r: r["test_acc"])
    result = {
        "run_id": cfg.run_id(),
        "config": cfg.to_dict(),
        "teacher_run_id": teacher_id,
        "teacher_test_acc": teacher_acc,
        "history": history,
        "first_stage": first,
        "last_test_acc": history[-1]["test_acc"],
        "best_test_acc": best["test_acc"],
        "best_epoch": best["epoch"],
        "last_val_acc": history[-1]["val_acc"],
        "seconds_per_epoch": _mean_epoch_seconds(history),
        "wall_seconds_this_session": time.perf_counter() - start,
        "peak_memory_mb": peak_memory_mb(device),
        "memory_before_training_mb": memory_before,
        "peak_memory_kind": "cuda_max_allocated" if torch.device(device).type == "cuda" else "process_peak_rss",
        "numerics": {"precision": resolve_precision(cfg.precision, device), "channels_last": cfg.channels_last,
                     "compile": cfg.compile},
        "parameters": count_parameters(student),
        "extra_parameters": distiller.extra_parameter_count(),
        "code": code,
        "libraries": provenance.libraries(),
        "hardware": provenance.hardware(device),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if distributed.active():  # absent from one-process runs, which are stored as they always were
        result["distributed"] = distributed.describe()
    if distributed.is_main():
        if cfg.method == "vanilla":  # any vanilla run can serve as a teacher: keep its weights
            save_atomic({k: v.cpu() for k, v in student.state_dict().items()}, weights_path(cfg, root))
        results.write_json(result, path)
        for leftover in (checkpoint, *_stage_files(checkpoint)):
            leftover.unlink(missing_ok=True)
    distributed.barrier()  # the others may read these files next (a teacher's weights)
    return result


def run_seeds(cfg: RunConfig, seeds: int, root: Path | None = None, device: str | None = None) -> list[dict]:
    """``run`` for seeds 0 .. seeds-1 of the same configuration."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds: must be an integer >= 1, got {seeds!r}")
    return [run(replace(cfg, seed=s), root, device) for s in range(seeds)]


def _stored_bench(profile: str, kind: str, root: Path | None, device: str | None) -> dict:
    path = results.bench_path(profile, _root(root), kind)
    stored = results.stored_bench(profile, kind, _root(root))
    if stored is not None:
        return stored
    if _SESSION["stored_only"]:
        label = {"method_costs": "cost benchmark", "teacher_cache": "teacher-cache benchmark"}[kind]
        raise MissingRun(f"stored {label}: none for profile {profile!r} (expected {path}); "
                         "run without stored_only to measure it")
    from . import bench  # bench builds on this module
    device = device or default_device()
    if kind == "method_costs":
        out = bench.method_costs(METHODS, profile, device=device)
    else:
        out = bench.bench(profile, device=device)
    results.write_json(out, path)
    return out


def method_costs(profile: str, root: Path | None = None, device: str | None = None) -> dict:
    """The stored per-method cost benchmark of ``profile`` (:func:`kdsrc.bench.method_costs`),
    measured and stored first when none exists (an error under ``stored_only``)."""
    return _stored_bench(profile, "method_costs", root, device)


def teacher_cache_cost(profile: str, root: Path | None = None, device: str | None = None) -> dict:
    """The stored teacher-cache benchmark of ``profile`` (:func:`kdsrc.bench.bench`), measured and
    stored first when none exists (an error under ``stored_only``)."""
    return _stored_bench(profile, "teacher_cache", root, device)


__all__ = ["run", "run_seeds", "use", "dataset_for", "checkpoint_path", "stored_run", "run_state", "load_weights",
           "load_teacher", "ensemble_run", "ensemble_path", "predict", "predict_features", "build_distiller",
           "method_costs", "teacher_cache_cost", "record_stored_teachers", "MissingRun"]
