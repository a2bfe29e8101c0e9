"""Run configuration: one flat, validated dataclass, and the profiles that fill it in.

A profile (``smoke``, ``cpu``, ``paper``) is a set of defaults; any field can be overridden by a
papermill parameter or ``--set name=value`` on the command line. A run is identified by the hash
of its whole configuration (the teacher's included), so a changed parameter trains anew. A teacher
read from ``teacher_checkpoint`` enters the hash by its file's sha256, not by its path.
"""
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .data import DATASETS, NO_FLIP
from .distillers.registry import ALONE, METHODS
from .engine.fit import TRAINING_REVISION
from .engine.numerics import CACHE_DTYPES, PRECISIONS
from .engine.provenance import sha256
from .mixing import MIXINGS
from .models import MODELS
from .models.ensemble import ENSEMBLE_MODES
from .profiles import MODEL_LR, PROFILES, TEACHER_RECIPE, TEACHER_SCHEDULES
from .validate import (ConfigError, require_bool, require_choice, require_int, require_number,
                       require_optional_int)

SCHEDULES = ("cosine", "step")
NOT_HASHED = ("data_root",)  # where the data lives does not change the experiment
# Fields added after runs were stored, with their defaults: hashed only when set to something
# else, so the stored runs keep their ids. (A method's own such parameters are its
# ``unhashed_defaults``.) These lists may go once the store is retrained at a new revision.
ADDED_FIELDS = {"mixing": "none", "mixing_alpha": 1.0, "teacher_ensemble": 1, "ensemble": "logits", "evaluations": 0,
                "precision": "auto", "compile": False, "teacher_checkpoint": None, "teacher_cache_dtype": "float32"}
# What trains a teacher: meaningless, so not hashed, when the teacher is read from a checkpoint.
TRAINED_TEACHER_FIELDS = ("teacher_epochs", "teacher_train_subset", "teacher_seed")
# The training revision the runs stored before it existed were trained at: hashed as absent.
FIRST_REVISION = 1


class MethodParams(Mapping):
    """A method's parameters as a run configuration holds them: read-only and hashable (lists
    become tuples), compared equal to a dict of the same items."""

    __slots__ = ("_items",)

    def __init__(self, items=()):
        self._items = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(items).items()}

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __repr__(self) -> str:
        return repr(self._items)


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
    evaluations: int = 0  # evenly spaced epochs that evaluate test and validation accuracy (0: every epoch)
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
    teacher_cache_dtype: str = "float32"  # how the cache stores logits: float32 (exact) or float16 (half the memory)
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
    method_params: MethodParams = field(default_factory=MethodParams)

    def __post_init__(self):
        _as_floats(self)
        require_choice("profile", self.profile, PROFILES)
        require_choice("method", self.method, METHODS)
        require_choice("model", self.model, MODELS)
        require_choice("dataset", self.dataset, DATASETS)
        require_choice("schedule", self.schedule, SCHEDULES)
        require_choice("mixing", self.mixing, MIXINGS)
        require_choice("precision", self.precision, PRECISIONS)
        require_choice("teacher_cache_dtype", self.teacher_cache_dtype, CACHE_DTYPES)
        require_number("mixing_alpha", self.mixing_alpha, low=0, low_open=True)
        require_int("teacher_ensemble", self.teacher_ensemble, minimum=1)
        require_choice("ensemble", self.ensemble, ENSEMBLE_MODES)
        for name in ("epochs", "batch_size"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("val_size", "crop_padding", "seed", "teacher_seed", "subset_seed", "evaluations"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("train_subset", "test_subset", "teacher_train_subset", "teacher_epochs"):
            require_optional_int(name, getattr(self, name), minimum=1)
        require_number("lr", self.lr, low=0, low_open=True)
        require_number("momentum", self.momentum, low=0, high=1)
        require_number("weight_decay", self.weight_decay, low=0)
        require_number("lr_decay", self.lr_decay, low=0, high=1, low_open=True)
        for name in ("flip", "channels_last", "compile", "teacher_cache"):
            require_bool(name, getattr(self, name))
        if self.flip and self.dataset in NO_FLIP:
            raise ConfigError(f"flip: a flip changes the class of a {self.dataset} image (it swaps the two items); "
                              "set flip=False")
        if any(not isinstance(m, int) or not 0 < m <= self.epochs for m in self.milestones):
            raise ConfigError(f"milestones: must be epochs in 1..{self.epochs}, got {list(self.milestones)}")
        distiller = METHODS[self.method]
        if distiller.needs_teacher:
            if self.teacher is None:
                raise ConfigError(f"teacher: method {self.method!r} needs a teacher model, one of {sorted(MODELS)}")
            require_choice("teacher", self.teacher, MODELS)
        if distiller.needs_hard_labels and self.mixing != "none":
            raise ConfigError(f"mixing: method {self.method!r} needs hard labels, which {self.mixing} mixes; "
                              "set mixing='none'")
        if self.teacher_checkpoint is not None:
            _check_teacher_checkpoint(self)
        if not isinstance(self.method_params, Mapping):
            raise ConfigError(f"method_params: must be a mapping of parameter names to values, got {self.method_params!r}")
        try:
            params = distiller.Config(**self.method_params)
        except TypeError:
            allowed = [f.name for f in fields(distiller.Config)]
            raise ConfigError(f"method_params: method {self.method!r} takes {allowed}, "
                              f"got {sorted(self.method_params)}") from None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        limit = distiller.batch_limit(params)
        if limit is not None and self.batch_size > limit[0]:
            raise ConfigError(f"batch_size: method {self.method!r} allows at most {limit[0]} ({limit[1]}), "
                              f"got {self.batch_size}")
        object.__setattr__(self, "method_params", MethodParams(dataclasses.asdict(_as_floats(params))))

    def teacher_config(self) -> "RunConfig | None":
        """The configuration that trains this run's teacher (itself a cached run): the student's
        data, and the profile's training recipe (:data:`TEACHER_RECIPE`, the lr of :data:`MODEL_LR`
        for the teacher's model) whatever the student overrides, so that changing, say, the
        student's learning rate never retrains its teacher. A teacher is evaluated every epoch (its
        plateau is read off its curve). A teacher trained for other than the
        profile's epochs (``teacher_epochs``) keeps the shape of a step schedule: its milestones
        are the profile's scaled to its epochs (at least epoch 1). A profile with its own teacher
        schedule (:data:`~kdsrc.profiles.TEACHER_SCHEDULES`) scales that one, from its
        ``teacher_epochs``. None when no teacher trains: a
        method without one, or a teacher read from ``teacher_checkpoint``."""
        if self.teacher is None or not METHODS[self.method].needs_teacher or self.teacher_checkpoint:
            return None
        defaults = profile_defaults(self.profile)
        recipe = {name: value for name, value in defaults.items() if name in TEACHER_RECIPE}
        if self.profile in TEACHER_SCHEDULES:
            recipe.update(TEACHER_SCHEDULES[self.profile], epochs=defaults["teacher_epochs"])
        epochs = self.teacher_epochs or recipe["epochs"]
        recipe["milestones"] = tuple(max(1, round(m * epochs / recipe["epochs"])) for m in recipe["milestones"])
        recipe["epochs"] = epochs
        recipe["lr"] = MODEL_LR.get(self.teacher, recipe["lr"])
        if self.dataset in NO_FLIP:  # the student's data, whose class a flip would change
            recipe["flip"] = False
        return replace(self, **recipe, method=ALONE, model=self.teacher, method_params=MethodParams(), evaluations=0,
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
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["milestones"] = list(self.milestones)
        out["method_params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.method_params.items()}
        return out

    def run_id(self) -> str:
        """Hash of everything that changes the experiment: the configuration, the teacher's
        configuration (or its checkpoint file's sha256) and the training revision
        (:data:`kdsrc.engine.TRAINING_REVISION`; the first revision is hashed as absent, so the
        runs stored before it existed keep their ids)."""
        content = {k: v for k, v in self.to_dict().items()
                   if k not in NOT_HASHED and not (k in ADDED_FIELDS and v == ADDED_FIELDS[k])}
        added = METHODS[self.method].unhashed_defaults
        content["method_params"] = {k: v for k, v in content["method_params"].items()
                                    if not (k in added and v == added[k])}
        if TRAINING_REVISION != FIRST_REVISION:
            content["training_revision"] = TRAINING_REVISION
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


RUN_FIELDS = {f.name for f in fields(RunConfig)} - {"method_params", "method", "profile"}

def profile_defaults(profile: str) -> dict[str, Any]:
    """Every run field's value in ``profile`` before any override."""
    defaults = {f.name: f.default for f in fields(RunConfig) if f.name in RUN_FIELDS}
    return {**defaults, **PROFILES[profile]}


def make_config(method: str, profile: str = "cpu", **overrides) -> RunConfig:
    """A run configuration: the profile's defaults (the method's ``profile_defaults`` included, the
    lr of :data:`~kdsrc.profiles.MODEL_LR` for the model), then ``overrides``.

    Overrides may name any RunConfig field or any parameter of the method's Config (for KD:
    ``temperature``, ``ce_weight``, ``kd_weight``).
    """
    require_choice("profile", profile, PROFILES)
    require_choice("method", method, METHODS)
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
    params = {**METHODS[method].profile_defaults.get(profile, {}),
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
