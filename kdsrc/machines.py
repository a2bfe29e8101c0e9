"""How far a run moves on another machine: a stored run trained again under this process's numerics
(CPU kernels, threads), kept beside it for the book to set against the seed spread.

The same configuration is bit-identical on one machine and only close on another: a different
vector instruction set or thread count sums in another order, and training amplifies the last bits
into a different trajectory. ``retrain`` measures that: it trains a stored configuration again in a
temporary folder (its teacher's stored weights copied in, so only the student's training is
repeated) and stores the result under ``<results>/machines/<profile>/<method>/``, named by the
stored run and a label for the setting; :func:`spread` sets each against its stored run and the
spread of the stored seeds.
"""
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from . import experiment, store
from .config import RunConfig, from_dict
from .validate import ConfigError

_LABEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def machine_path(cfg: RunConfig, label: str, root: Path | None = None) -> Path:
    """Where the retraining of ``cfg`` under the setting ``label`` is stored."""
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise ConfigError(f"label: must be 1-40 lowercase letters, digits, '-' or '_' starting with a letter "
                          f"or digit, got {label!r}")
    return store.machine_path(cfg, label, root)


def _copy_teachers(cfg: RunConfig, source: Path, target: Path) -> None:
    for member in cfg.teacher_configs():
        path = store.run_path(member, source)
        if not path.exists():
            raise ConfigError(f"retrain: the teacher's stored run {path} is missing; train the stored run first")
        destination = store.run_path(member, target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        for file in (path, path.with_suffix(".pt")):
            shutil.copy2(file, destination.with_suffix(file.suffix))


def retrain(cfg: RunConfig, label: str, root: Path | None = None) -> dict:
    """Train the stored run of ``cfg`` again under this process's numerics and store the record as
    ``label`` (:func:`machine_path`); the record."""
    root = store.root(root)
    target = machine_path(cfg, label, root)
    if experiment.stored_run(cfg, root) is None:
        raise ConfigError(f"retrain: no stored run of {cfg.method}/{cfg.model} seed {cfg.seed} under {root} "
                          "to compare with")
    with tempfile.TemporaryDirectory(prefix="kdsrc-retrain-") as scratch:
        _copy_teachers(cfg, root, Path(scratch))
        record = experiment.run(cfg, root=Path(scratch))
    record["machine_label"] = label
    store.write_json(record, target)
    return record


def spread(profile: str, root: Path | None = None) -> pd.DataFrame:
    """Every stored retraining of ``profile`` beside its stored run: the setting each ran under,
    last- and best-epoch test accuracy of both and their differences (points), and the sample std
    over the stored seeds of the same configuration."""
    root = store.root(root)
    rows = []
    for path in sorted((root / "machines" / profile).glob("*/*.json")):
        again = store.read_run(path)
        cfg = from_dict(again["config"])
        stored = experiment.stored_run(cfg, root)
        seeds = [run for run in map(store.read_run, store.run_path(cfg, root).parent.glob(f"{cfg.model}_seed*.json"))
                 if replace(from_dict(run["config"]), seed=cfg.seed).run_id() == cfg.run_id()]
        rows.append({
            "method": cfg.method, "model": cfg.model, "seed": cfg.seed, "setting": again["machine_label"],
            "stored on": _kernels(stored["hardware"]), "retrained on": _kernels(again["hardware"]),
            "stored last acc": stored["last_test_acc"], "retrained last acc": again["last_test_acc"],
            "last acc difference": again["last_test_acc"] - stored["last_test_acc"],
            "best acc difference": again["best_test_acc"] - stored["best_test_acc"],
            "identical history": _same_numbers(again["history"], stored["history"]),
            "seed std of last acc": pd.Series([run["last_test_acc"] for run in seeds]).std(),
            "seeds": len(seeds),
        })
    return pd.DataFrame(rows)


def _kernels(hardware: dict) -> str:
    capability = hardware.get("cpu_capability", "not recorded")
    caps = ", ".join(f"{k}={v}" for k, v in hardware.get("numerics_environment", {}).items())
    threads = hardware["torch_threads"]
    return f"{hardware['cpu']}, {capability}, {threads} thread{'s' * (threads != 1)}" + (f" ({caps})" if caps else "")


def _same_numbers(history: list[dict], other: list[dict]) -> bool:
    """Whether two histories agree in every measured number but time."""
    def numbers(record):
        return {k: v for k, v in record.items() if k != "epoch_seconds"}
    return [numbers(r) for r in history] == [numbers(r) for r in other]


__all__ = ["machine_path", "retrain", "spread"]
