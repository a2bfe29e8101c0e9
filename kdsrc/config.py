"""Run configuration: one flat, validated dataclass, and the profiles that fill it in.

A profile (``smoke``, ``cpu``, ``paper``) is a set of defaults; any field can be overridden by a
papermill parameter or ``--set name=value`` on the command line. A run is identified by the hash
of its whole configuration (the teacher's included), so a changed parameter trains anew. A teacher
read from ``teacher_checkpoint`` enters the hash by its file's sha256, not by its path.
"""
import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .data import DATASETS
from .distillers import METHODS
from .mixing import MIXINGS
from .models.ensemble import ENSEMBLE_MODES
from .models import MODELS
from .numerics import PRECISIONS
from .provenance import sha256

SCHEDULES = ("cosine", "step")
NOT_HASHED = ("data_root",)  # where the data lives does not change the experiment
# Fields added after runs were stored, with their defaults: hashed only when set to something
# else, so the stored runs keep their ids.
ADDED_FIELDS = {"mixing": "none", "mixing_alpha": 1.0, "teacher_ensemble": 1, "ensemble": "logits",
                "precision": "auto", "compile": False, "teacher_checkpoint": None}
# Method parameters added after runs were stored, with their defaults: hashed only when set to
# something else, so the stored runs keep their ids.
ADDED_METHOD_PARAMS = {"ab": {"connector": "official"}}
# What trains a teacher: meaningless, so not hashed, when the teacher is read from a checkpoint.
TRAINED_TEACHER_FIELDS = ("teacher_epochs", "teacher_train_subset", "teacher_seed")


class ConfigError(ValueError):
    """A parameter outside what is allowed; the message names the parameter."""


@dataclass(frozen=True)
class RunConfig:
    profile: str
    method: str
    model: str
    dataset: str = "fashion_mnist"
    data_root: str | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    val_size: int = 0
    subset_seed: int = 12345
    crop_padding: int = 2
    flip: bool = True
    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()
    lr_decay: float = 0.1
    channels_last: bool = True
    precision: str = "auto"
    compile: bool = False
    teacher_cache: bool = True
    mixing: str = "none"
    mixing_alpha: float = 1.0
    teacher_ensemble: int = 1
    ensemble: str = "logits"
    seed: int = 0
    teacher: str | None = None
    teacher_epochs: int | None = None
    teacher_train_subset: int | None = None
    teacher_seed: int = 0
    teacher_checkpoint: str | None = None
    method_params: dict = field(default_factory=dict)

    def __post_init__(self):
        _as_floats(self)
        _check_choice("profile", self.profile, PROFILES)
        _check_choice("method", self.method, METHODS)
        _check_choice("model", self.model, MODELS)
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("mixing", self.mixing, MIXINGS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_number("mixing_alpha", self.mixing_alpha, low=0, low_open=True)
        _check_int("teacher_ensemble", self.teacher_ensemble, minimum=1)
        _check_choice("ensemble", self.ensemble, ENSEMBLE_MODES)
        for name in ("epochs", "batch_size"):
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("val_size", "crop_padding", "seed", "teacher_seed", "subset_seed"):
            _check_int(name, getattr(self, name), minimum=0)
        for name in ("train_subset", "test_subset", "teacher_train_subset", "teacher_epochs"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), minimum=1)
        _check_number("lr", self.lr, low=0, low_open=True)
        _check_number("momentum", self.momentum, low=0, high=1)
        _check_number("weight_decay", self.weight_decay, low=0)
        _check_number("lr_decay", self.lr_decay, low=0, high=1, low_open=True)
        for name in ("flip", "channels_last", "compile", "teacher_cache"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: must be True or False, got {getattr(self, name)!r}")
        if any(not isinstance(m, int) or not 0 < m <= self.epochs for m in self.milestones):
            raise ConfigError(f"milestones: must be epochs in 1..{self.epochs}, got {list(self.milestones)}")
        distiller = METHODS[self.method]
        if distiller.needs_teacher:
            if self.teacher is None:
                raise ConfigError(f"teacher: method {self.method!r} needs a teacher model, one of {sorted(MODELS)}")
            _check_choice("teacher", self.teacher, MODELS)
        if self.teacher_checkpoint is not None:
            _check_teacher_checkpoint(self)
        try:
            params = distiller.Config(**self.method_params)
            object.__setattr__(self, "method_params", dataclasses.asdict(_as_floats(params)))
        except TypeError:
            allowed = [f.name for f in fields(distiller.Config)]
            raise ConfigError(f"method_params: method {self.method!r} takes {allowed}, "
                              f"got {sorted(self.method_params)}") from None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def teacher_config(self) -> "RunConfig | None":
        """The configuration that trains this run's teacher (itself a cached run): the student's
        data, and the profile's training recipe (:data:`TEACHER_RECIPE`, the lr of :data:`MODEL_LR`
        for the teacher's model) whatever the student overrides, so that changing, say, the
        student's learning rate never retrains its teacher. A teacher trained for other than the
        profile's epochs (``teacher_epochs``) keeps the shape of a step schedule: its milestones
        are the profile's scaled to its epochs (at least epoch 1). None when no teacher trains: a
        method without one, or a teacher read from ``teacher_checkpoint``."""
        if self.teacher is None or not METHODS[self.method].needs_teacher or self.teacher_checkpoint:
            return None
        recipe = {name: value for name, value in profile_defaults(self.profile).items() if name in TEACHER_RECIPE}
        epochs = self.teacher_epochs or recipe["epochs"]
        recipe["milestones"] = tuple(max(1, round(m * epochs / recipe["epochs"])) for m in recipe["milestones"])
        recipe["epochs"] = epochs
        recipe["lr"] = MODEL_LR.get(self.teacher, recipe["lr"])
        return replace(self, **recipe, method="vanilla", model=self.teacher, method_params={},
                       train_subset=self.teacher_train_subset,
                       seed=self.teacher_seed, teacher=None, teacher_epochs=None,
                       teacher_train_subset=None, teacher_seed=0, teacher_ensemble=1, ensemble="logits")

    def teacher_configs(self) -> list["RunConfig"]:
        """The configurations of the teacher's networks: one, or the ``teacher_ensemble`` members
        of an ensemble teacher, the same recipe with seeds ``teacher_seed``, ``teacher_seed + 1``, ..."""
        first = self.teacher_config()
        if first is None:
            return []
        return [replace(first, seed=self.teacher_seed + k) for k in range(self.teacher_ensemble)]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["milestones"] = list(self.milestones)
        return out

    def run_id(self) -> str:
        """Hash of everything that changes the experiment, the teacher's configuration (or its
        checkpoint file's sha256) included."""
        content = {k: v for k, v in self.to_dict().items()
                   if k not in NOT_HASHED and not (k in ADDED_FIELDS and v == ADDED_FIELDS[k])}
        added = ADDED_METHOD_PARAMS.get(self.method, {})
        content["method_params"] = {k: v for k, v in self.method_params.items() if not (k in added and v == added[k])}
        if self.teacher_checkpoint:
            content["teacher_checkpoint"] = "sha256:" + sha256(self.teacher_checkpoint)
            for name in TRAINED_TEACHER_FIELDS:
                del content[name]
        teacher = self.teacher_config()
        content["teacher_config"] = teacher.run_id() if teacher else None
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def _as_floats(config):
    """Store whole numbers given for float fields as floats, so ``temperature=4`` and
    ``temperature=4.0`` are the same configuration (and the same run hash)."""
    for f in fields(config):
        value = getattr(config, f.name)
        if f.type in (float, "float") and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(config, f.name, float(value))
    return config


def _check_teacher_checkpoint(cfg):
    path = cfg.teacher_checkpoint
    if isinstance(path, os.PathLike):
        object.__setattr__(cfg, "teacher_checkpoint", path := os.fspath(path))
    if not isinstance(path, str) or not path:
        raise ConfigError(f"teacher_checkpoint: must be a file path or None, got {path!r}")
    if not METHODS[cfg.method].needs_teacher:
        raise ConfigError(f"teacher_checkpoint: method {cfg.method!r} uses no teacher")
    if cfg.teacher_ensemble != 1:
        raise ConfigError(f"teacher_checkpoint: a checkpoint is one teacher, so teacher_ensemble must be 1, "
                          f"got {cfg.teacher_ensemble}")
    if not os.path.isfile(path):
        raise ConfigError(f"teacher_checkpoint: no file at {path}")


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {sorted(allowed)}, got {value!r}")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: must be an integer >= {minimum}, got {value!r}")


def _check_number(name, value, low=None, high=None, low_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low)) and (high is None or value <= high)
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise ConfigError(f"{name}: must be a number {bounds}, got {value!r}")


PROFILES: dict[str, dict[str, Any]] = {
    # CI and nbval: seconds a run on 2 cores. One run per teacher, so no logit cache.
    "smoke": dict(dataset="fashion_mnist", train_subset=1000, test_subset=500, epochs=3, batch_size=64,
                  model="resnet8", teacher="resnet14", teacher_epochs=3, teacher_train_subset=2000,
                  teacher_cache=False),
    # The published book (book/reproduce.py says why): the teacher trained once on all 60k
    # Fashion-MNIST images, the student on a 5k class-balanced subset, the full 10k test set.
    "cpu": dict(dataset="fashion_mnist", train_subset=5000, epochs=10, model="resnet8",
                teacher="resnet14", teacher_epochs=3, teacher_train_subset=None),
    # RepDistiller's CIFAR-100 recipe (CRD paper, Tian et al. 2020): 240 epochs, batch 64,
    # lr 0.05 decayed x0.1 at 150/180/210, SGD momentum 0.9, weight decay 5e-4, crop pad 4 + flip.
    # Trained on the fast path (channels-last, bf16 autocast on a GPU). No teacher-logit cache:
    # with pad 4 and flip an image has 162 views, 3.2 GB of logits and 162 teacher epochs to fill.
    "paper": dict(dataset="cifar100", epochs=240, batch_size=64, lr=0.05, schedule="step",
                  milestones=(150, 180, 210), lr_decay=0.1, crop_padding=4, flip=True,
                  model="resnet20", teacher="resnet56", teacher_epochs=240, teacher_cache=False),
}
# Method parameters a profile sets apart from the method's own (paper-recipe) defaults. The
# two-stage methods' first stage is 30 epochs in RepDistiller's 240-epoch recipe (1/8 of the
# main training); the cpu profile keeps a similar share of its 10 epochs (book/reproduce.py).
METHOD_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {"fsp": dict(init_epochs=1), "ab": dict(init_epochs=1)},
    "cpu": {"fsp": dict(init_epochs=2), "ab": dict(init_epochs=2)},
    # RepDistiller's AB and AT, which produced the CRD tables' numbers (kdsrc.distillers.ab, .at):
    # every stage after the stem, whatever the network.
    "paper": {"ab": dict(connector="repdistiller", layers="all", ce_weight=1.0, kd_weight=0.0),
              "at": dict(layers="all")},
}
RUN_FIELDS = {f.name for f in fields(RunConfig)} - {"method_params", "method", "profile"}
# What a teacher trains with: always its profile's values, never the student's overrides (the
# student's speed settings, such as reading the teacher's outputs from a cache, included).
TEACHER_RECIPE = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "milestones", "lr_decay",
                  "crop_padding", "flip", "mixing", "mixing_alpha", "channels_last", "precision", "compile",
                  "teacher_cache")

# Base learning rates of the models RepDistiller trains at 0.01 instead of the profile's lr, as
# student (train_student.py) or teacher (train_teacher.py): MobileNetV2 and the ShuffleNets. An
# explicit ``lr`` override still wins for a student; a teacher always gets its model's lr.
MODEL_LR = {"MobileNetV2": 0.01, "ShuffleV1": 0.01, "ShuffleV2": 0.01}


def profile_defaults(profile: str) -> dict[str, Any]:
    """Every run field's value in ``profile`` before any override."""
    defaults = {f.name: f.default for f in fields(RunConfig) if f.name in RUN_FIELDS}
    return {**defaults, **PROFILES[profile]}


def make_config(method: str, profile: str = "cpu", **overrides) -> RunConfig:
    """A run configuration: the profile's defaults (:data:`METHOD_DEFAULTS` included, the lr of
    :data:`MODEL_LR` for the model), then ``overrides``.

    Overrides may name any RunConfig field or any parameter of the method's Config (for KD:
    ``temperature``, ``ce_weight``, ``kd_weight``).
    """
    _check_choice("profile", profile, PROFILES)
    _check_choice("method", method, METHODS)
    method_fields = {f.name for f in fields(METHODS[method].Config)}
    unknown = set(overrides) - RUN_FIELDS - method_fields
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: not a parameter; run fields are {sorted(RUN_FIELDS)}, "
                          f"method {method!r} takes {sorted(method_fields)}")
    run = {**PROFILES[profile], **{k: v for k, v in overrides.items() if k in RUN_FIELDS}}
    if "lr" not in overrides and run.get("model") in MODEL_LR:
        run["lr"] = MODEL_LR[run["model"]]
    if "milestones" in run:
        run["milestones"] = _milestones(run["milestones"])
    params = {**METHOD_DEFAULTS[profile].get(method, {}),
              **{k: v for k, v in overrides.items() if k in method_fields}}
    return RunConfig(profile=profile, method=method, method_params=params, **run)


def from_dict(data: dict) -> RunConfig:
    """Rebuild a RunConfig from its stored dictionary (as written by ``to_dict``)."""
    data = dict(data)
    data["milestones"] = _milestones(data.get("milestones", ()))
    return RunConfig(**data)


def _milestones(value) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"milestones: must be a list of epochs, got {value!r}")
    return tuple(value)
