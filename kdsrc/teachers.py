"""A run's teacher: its network, its weights, ensembles of several, the cache of its logits, and
the manifest of every teacher a profile's runs used. Nothing here trains: a trained teacher is
itself a run (:meth:`kdsrc.config.RunConfig.teacher_config`), trained by :func:`kdsrc.experiment.run`,
whose stored weights are loaded here; an imported one is a RepDistiller or mdistiller checkpoint
(:mod:`kdsrc.checkpoints`).

The logit cache. With crop-with-padding p and flip, an image has only (2p+1)^2 * 2 views (50 for
Fashion-MNIST's p=2). A frozen teacher in eval mode gives each view the same logits every time, so
methods that read only the teacher's logits can look them up instead of running the teacher on
every batch: the cost is one pass over all views, shared by every seed and every run that uses the
same teacher and data.

The manifest, ``<results>/teachers/<profile>/manifest.json``, has one entry per teacher a run
used: a trained teacher (source ``run:<run_id>``) or an imported checkpoint (source: its path),
with the sha256 of its weights file and its test accuracy. Re-recording a teacher replaces its
entry.
"""
import contextlib
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from . import augment, store
from .checkpoints import checkpoint_id, import_checkpoint
from .config import RunConfig, from_dict, make_config
from .data import Dataset, dataset_for, to_model_input
from .distillers import ALONE
from .engine import distributed, evaluate, numerics, provenance
from .engine.numerics import resolve_precision
from .models import build_model
from .models.ensemble import TeacherEnsemble


# ------------------------------------------------------------------------------------ networks
def ensemble_temperature(cfg: RunConfig) -> float | None:
    """The temperature at which a probability ensemble averages its members' softened
    probabilities: the distilling method's own (1 for a method without one); None for logits."""
    return float(cfg.method_params.get("temperature", 1.0)) if cfg.ensemble == "probs" else None


def network(cfg: RunConfig, data: Dataset) -> torch.nn.Module:
    """The teacher's architecture, untrained: one network, or a :class:`TeacherEnsemble` of members."""
    if cfg.teacher_checkpoint:
        return build_model(cfg.teacher, data.num_classes, data.in_channels)
    members = [build_model(member.model, data.num_classes, data.in_channels) for member in cfg.teacher_configs()]
    if cfg.teacher_ensemble == 1:
        return members[0]
    return TeacherEnsemble(members, cfg.ensemble, ensemble_temperature(cfg) or 1.0)


def load_weights(cfg: RunConfig, root: Path | None = None, model: torch.nn.Module | None = None) -> torch.nn.Module:
    """The trained network of a stored vanilla run (used as a teacher), loaded into ``model`` if given."""
    if model is None:
        data = dataset_for(cfg)
        model = build_model(cfg.model, data.num_classes, data.in_channels)
    path = store.weights_path(cfg, root)
    if not path.exists():
        raise ValueError(f"teacher: the stored run {path.with_suffix('.json')} has no weights file {path.name}; "
                         "delete the run's JSON to train it again")
    model.load_state_dict(store.load_tensors(path))
    return model


def load_teacher(cfg: RunConfig, root: Path | None = None, net: torch.nn.Module | None = None) -> torch.nn.Module:
    """``cfg``'s trained teacher (one network or an ensemble), from stored runs or its
    ``teacher_checkpoint``, loaded into ``net`` if given."""
    net = net or network(cfg, dataset_for(cfg))
    if cfg.teacher_checkpoint:
        return import_checkpoint(cfg.teacher_checkpoint, cfg.teacher, model=net)
    members = net.members if isinstance(net, TeacherEnsemble) else [net]
    for member_cfg, member in zip(cfg.teacher_configs(), members):
        load_weights(member_cfg, root, member)
    return net


def baseline_networks(cfg: RunConfig, root: Path | None = None) -> dict[str, torch.nn.Module]:
    """The two trained networks a distilled run of ``cfg`` is set beside, loaded from their stored
    runs: ``"teacher"``, its teacher (:meth:`~kdsrc.config.RunConfig.teacher_config`), and
    ``"student alone"``, its student model trained alone with the profile's defaults."""
    return {"teacher": load_weights(cfg.teacher_config(), root),
            "student alone": load_weights(make_config(ALONE, cfg.profile, model=cfg.model), root)}


def teacher_id(cfg: RunConfig) -> str:
    """How a run records its teacher: the trained teacher's run id, or the checkpoint's id."""
    return checkpoint_id(cfg.teacher_checkpoint) if cfg.teacher_checkpoint else cfg.teacher_config().run_id()


# ------------------------------------------------------------------------------------ ensembles
def _ensemble_identity(cfg: RunConfig) -> dict:
    identity = {"members": [member.run_id() for member in cfg.teacher_configs()], "ensemble": cfg.ensemble}
    if cfg.ensemble == "probs":
        identity["temperature"] = ensemble_temperature(cfg)
    return identity


def ensemble_id(cfg: RunConfig) -> str:
    return hashlib.sha256(json.dumps(_ensemble_identity(cfg)).encode()).hexdigest()[:16]


def ensemble_path(cfg: RunConfig, root: Path | None = None) -> Path:
    """Where the accuracy record of ``cfg``'s ensemble teacher is stored."""
    return store.ensemble_path(cfg.profile, f"{cfg.teacher}_x{cfg.teacher_ensemble}_{cfg.ensemble}_{ensemble_id(cfg)}",
                               root)


def ensemble_record(cfg: RunConfig, members: list[dict], root: Path | None, device) -> dict:
    """The stored record of ``cfg``'s ensemble teacher, given its members' stored runs: read, or
    measured (the ensemble's test accuracy) and stored by process 0."""
    path = ensemble_path(cfg, root)
    if path.exists():
        return store.read_run(path)
    data = dataset_for(cfg)
    acc = evaluate(load_teacher(cfg, root).to(device), data.test, data, cfg.teacher_config(), device)
    record = {"run_id": ensemble_id(cfg),
              "config": {"profile": cfg.profile, "teacher": cfg.teacher, "members": cfg.teacher_ensemble,
                         "seeds": [m["config"]["seed"] for m in members], "ensemble": cfg.ensemble,
                         "temperature": ensemble_temperature(cfg)},
              "member_run_ids": [m["run_id"] for m in members],
              "member_test_acc": [m["last_test_acc"] for m in members],
              "last_test_acc": acc, "code": provenance.code_version(), "libraries": provenance.libraries(),
              "hardware": provenance.hardware(device),
              "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if distributed.is_main():
        store.write_json(record, path)
    distributed.barrier()
    return record


# ---------------------------------------------------------------------------------- logit cache
@torch.inference_mode()
def build_logit_cache(teacher: torch.nn.Module, data: Dataset, cfg, device, batch_size: int = 256) -> torch.Tensor:
    """Teacher logits for all views, shaped (images * views) x classes, row = image * views + view:
    computed on ``device`` in batches of ``batch_size`` images, one view at a time, in the run's
    precision ``cfg.precision``, and stored on the CPU as ``cfg.teacher_cache_dtype``
    (:data:`kdsrc.engine.numerics.CACHE_DTYPES`; float32 keeps the logits exactly as computed)."""
    teacher.eval()
    images = data.train.images
    views = augment.num_views(cfg.crop_padding, cfg.flip)
    out = torch.empty(len(images), views, data.num_classes, dtype=numerics.CACHE_DTYPES[cfg.teacher_cache_dtype])
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size].to(device)
        for view in range(views):
            ids = torch.full((len(chunk),), view, device=device) if views > 1 else None
            x = to_model_input(chunk, data.mean, data.std, ids, cfg.crop_padding, cfg.flip)
            with numerics.autocast(cfg.precision, device):
                logits = teacher(numerics.memory_format(x, cfg.channels_last))
            out[start:start + len(chunk), view] = logits.float().to(out.dtype).cpu()
    return out.reshape(-1, data.num_classes)


def _network_cache(name: str, net, cfg: RunConfig, root: Path | None, device) -> torch.Tensor:
    data_key = f"{cfg.dataset}-{cfg.train_subset}-{cfg.val_size}-{cfg.subset_seed}-p{cfg.crop_padding}-f{int(cfg.flip)}"
    numerics_key = f"cl{int(cfg.channels_last)}" + ("_bf16" if resolve_precision(cfg.precision, device) == "bf16" else "") \
        + ("" if cfg.teacher_cache_dtype == "float32" else f"_{cfg.teacher_cache_dtype}")
    path = store.logit_cache_path(f"{name}_{data_key}_{numerics_key}", root)
    with distributed.main_first():  # built and stored by process 0, read by the others
        if path.exists():
            return store.load_tensors(path)
        with contextlib.nullcontext() if distributed.launched() else store.exclusive(path):
            if path.exists():  # built meanwhile by another process on the same results folder
                return store.load_tensors(path)
            logits = build_logit_cache(net.to(device), dataset_for(cfg), cfg, device)
            store.save_tensors(logits, path)
            return logits


def logit_cache(cfg: RunConfig, teacher, root: Path | None, device) -> torch.Tensor:
    """The teacher's logits on every view of the training images, built once per network and data
    and stored; an ensemble's is the combination of its members' caches, each stored as a single
    teacher's would be (so ensembles of any size share them)."""
    if isinstance(teacher, TeacherEnsemble):
        members = [_network_cache(member.run_id(), net, cfg, root, device)
                   for member, net in zip(cfg.teacher_configs(), teacher.members)]
        return teacher.combine(torch.stack(members))
    return _network_cache(teacher_id(cfg).replace(":", "-"), teacher, cfg, root, device)


# ------------------------------------------------------------------------------------- manifest
def _entries(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"teacher manifest: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "delete it and it is rebuilt as runs use their teachers") from None


def _record(profile: str, key: str, entry: dict, root: str | Path | None) -> dict:
    path = store.manifest_path(profile, root)
    with store.exclusive(path):  # read, change, write: one process at a time
        entries = _entries(path)
        entries[key] = entry
        store.write_json(entries, path)
    return entry


def record_trained(run: dict, weights: Path, root: str | Path | None = None) -> dict:
    """Record the trained teacher of stored vanilla ``run`` (its weights file ``weights``) in its
    profile's manifest; the entry."""
    cfg = run["config"]
    entry = {"model": cfg["model"], "source": f"run:{run['run_id']}", "sha256": provenance.sha256(weights),
             "dataset": cfg["dataset"], "test_subset": cfg["test_subset"],
             "last_test_acc": run["last_test_acc"], "best_test_acc": run["best_test_acc"],
             "epochs": cfg["epochs"], "seed": cfg["seed"], "code": run["code"]["git_commit"],
             "code_dirty": run["code"]["kdsrc_dirty"], "date": run["finished_utc"]}
    return _record(cfg["profile"], entry["source"], entry, root)


def record_imported(cfg, test_acc: float, root: str | Path | None = None) -> dict:
    """Record the teacher that run configuration ``cfg`` reads from ``cfg.teacher_checkpoint``,
    with the test accuracy we measured, in the profile's manifest; the entry."""
    code = provenance.code_version()
    entry = {"model": cfg.teacher, "source": str(cfg.teacher_checkpoint),
             "sha256": provenance.sha256(cfg.teacher_checkpoint),
             "dataset": cfg.dataset, "test_subset": cfg.test_subset,
             "last_test_acc": test_acc, "best_test_acc": test_acc, "epochs": None, "seed": None,
             "code": code["git_commit"], "code_dirty": code["kdsrc_dirty"],
             "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return _record(cfg.profile, checkpoint_id(cfg.teacher_checkpoint), entry, root)


def imported(cfg: RunConfig, net: torch.nn.Module, root: Path | None, device) -> tuple[str, float]:
    """Load ``cfg``'s teacher checkpoint into ``net``, measure its test accuracy once, before the
    student trains (as RepDistiller does), and record it in the manifest; its id and accuracy."""
    load_teacher(cfg, root, net)
    data = dataset_for(cfg)
    acc = evaluate(net.to(device), data.test, data, cfg, device)
    if distributed.is_main():
        record_imported(cfg, acc, root)
    return checkpoint_id(cfg.teacher_checkpoint), acc


def record_members(cfg: RunConfig, members: list[dict], root: Path | None) -> None:
    """Record the stored runs of ``cfg``'s trained teacher (its members) in the manifest (process 0)."""
    for member_cfg, member in zip(cfg.teacher_configs(), members) if distributed.is_main() else ():
        record_trained(member, store.weights_path(member_cfg, root), root)


def record_stored_teachers(profile: str, root: Path | None = None) -> list[dict]:
    """Record in ``profile``'s teacher manifest every trained teacher its stored student runs used
    (runs stored before the manifest existed never passed through :func:`record_members`); the
    entries, one per teacher, read from the teachers' own stored runs and weights."""
    used = {}
    for path in store.run_files(profile, root):
        cfg = from_dict(store.read_run(path)["config"])
        if not cfg.teacher_checkpoint:
            used.update((member.run_id(), member) for member in cfg.teacher_configs())
    entries = []
    for member in used.values():
        path = store.run_path(member, root)
        if not path.exists():
            raise store.MissingRun(f"teacher manifest: the teacher run {path} is not stored")
        entries.append(record_trained(store.read_run(path), store.weights_path(member, root), root))
    return entries


def manifest(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """The teachers recorded for ``profile``, one row each (``id``: ``run:...`` or ``checkpoint:...``)."""
    entries = _entries(store.manifest_path(profile, root))
    return pd.DataFrame([{"id": key, **entry} for key, entry in sorted(entries.items())])


__all__ = ["network", "load_weights", "load_teacher", "baseline_networks", "teacher_id", "ensemble_temperature",
           "ensemble_id", "ensemble_path", "ensemble_record", "build_logit_cache", "logit_cache", "record_trained",
           "record_imported", "imported", "record_members", "record_stored_teachers", "manifest"]
