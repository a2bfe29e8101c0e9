"""The book's experimental designs, as the run configurations each one trains.

A study is a function of the profile that returns its configurations, every seed included, in the
order they are best trained: the cheap ones first, so that a study stopped early has answered its
question at the smaller scales. The chapters read the studies' stored runs; ``python -m kdsrc
study NAME`` trains what a study lacks (resumable, like every run).
"""
import itertools
from dataclasses import replace
from pathlib import Path

from . import store
from .config import RunConfig, make_config
from .distillers import ALONE, KD_METHOD, METHODS
from .validate import require_choice

# The student's training lengths the convergence study compares (chapter 1): each is twice the
# one before, so "does doubling the epochs still move the result?" is read off neighbours. At the
# cpu profile 80 epochs still moved both methods by more than their seed spread, and 160 moved KD
# (not the student alone), so 320 was added; chapter 1 says why the profile trains 160.
CONVERGENCE_EPOCHS = (10, 20, 40, 80, 160, 320)
CONVERGENCE_SEEDS = 3


def convergence(profile: str) -> list[RunConfig]:
    """The student alone and KD at each of :data:`CONVERGENCE_EPOCHS`, seeds 0..2, shortest first:
    the study that picks the profile's epochs (the shortest E at which doubling moves neither
    method by more than its seed spread)."""
    return [replace(make_config(method, profile, epochs=epochs), seed=seed)
            for epochs in CONVERGENCE_EPOCHS for seed in range(CONVERGENCE_SEEDS) for method in (ALONE, KD_METHOD)]


# The teachers of the capacity-gap study (chapter 12), each trained from TEACHER_SEEDS seeds, and
# the members of chapter 11's ensemble teacher: all on the profile's teacher recipe.
CAPACITY_TEACHERS = ("resnet8", "resnet14", "resnet20")
TEACHER_SEEDS = 2
ENSEMBLE_MEMBERS = 4
ENSEMBLE_MODEL = CAPACITY_TEACHERS[0]


def teachers(profile: str) -> list[RunConfig]:
    """Every teacher network the chapters distil from, smallest first: the capacity-gap teachers
    (:data:`CAPACITY_TEACHERS`, seeds 0 and 1) and the ensemble's members."""
    students = [make_config(KD_METHOD, profile, teacher=model, teacher_seed=seed)
                for model in CAPACITY_TEACHERS for seed in range(TEACHER_SEEDS)]
    students.insert(TEACHER_SEEDS, make_config(KD_METHOD, profile, teacher=ENSEMBLE_MODEL,
                                               teacher_ensemble=ENSEMBLE_MEMBERS))
    return teachers_of(students)


# The headline comparison (chapter 10): every method, at its official values and at its
# validation-tuned ones, against the student alone and the label-smoothing control.
HEADLINE_METHODS = tuple(METHODS)
HEADLINE_SEEDS = 5
TUNED_SEEDS = 3
TUNING_SEED = 0


def _scaled(value, scale: float):
    return max(1, round(value * scale)) if isinstance(value, int) else value * scale


def grid(method: str, profile: str, **overrides) -> list[RunConfig]:
    """The configurations validation tuning tries for ``method``: the product of its ``tuning``
    scales (:class:`kdsrc.distillers.base.Distiller`) applied to the profile's values, the
    official setting first. A method with nothing to tune has that setting alone."""
    base = make_config(method, profile, **overrides)
    axes = []
    for names, scales in METHODS[method].tuning.items():
        names = (names,) if isinstance(names, str) else names
        ordered = sorted(scales, key=lambda s: s != 1.0)  # the official value first
        axes.append([{name: _scaled(base.method_params[name], s) for name in names} for s in ordered])
    return [make_config(method, profile, **overrides, **{k: v for part in combo for k, v in part.items()})
            for combo in itertools.product(*axes)]


def tuned(method: str, profile: str, root: Path | None = None, **overrides) -> RunConfig:
    """The setting of ``method``'s grid with the best final validation accuracy (seed
    :data:`TUNING_SEED`; a tie goes to the setting listed first, the official one). The test set
    plays no part. Refused until every setting of the grid is stored."""
    settings = [replace(cfg, seed=TUNING_SEED) for cfg in grid(method, profile, **overrides)]
    paths = [store.run_path(cfg, root) for cfg in settings]
    missing = [path for path in paths if not path.exists()]
    if missing:
        raise store.MissingRun(f"tuned: {len(missing)} of the {len(settings)} {method} settings of the tuning "
                               f"grid are not stored yet (first: {missing[0]}); train the study `tuning` first")
    scores = [store.read_run(path)["last_val_acc"] for path in paths]
    return settings[scores.index(max(scores))]


def tuning(profile: str) -> list[RunConfig]:
    """Every method's tuning grid at seed :data:`TUNING_SEED`."""
    return [replace(cfg, seed=TUNING_SEED) for method in HEADLINE_METHODS for cfg in grid(method, profile)]


def headline(profile: str) -> list[RunConfig]:
    """Every method at its official setting, seeds 0..4."""
    return [replace(make_config(method, profile), seed=seed)
            for seed in range(HEADLINE_SEEDS) for method in HEADLINE_METHODS]


def headline_tuned(profile: str) -> list[RunConfig]:
    """Every method at its validation-tuned setting, seeds 0..2 (needs the study ``tuning``)."""
    return [replace(tuned(method, profile), seed=seed)
            for method in HEADLINE_METHODS for seed in range(TUNED_SEEDS)]


def _seeds(cfg: RunConfig, seeds: int = TUNED_SEEDS) -> list[RunConfig]:
    return [replace(cfg, seed=seed) for seed in range(seeds)]


def capacity(profile: str) -> list[RunConfig]:
    """KD from each capacity-gap teacher, trained from each of its seeds, and from the ensemble of
    :data:`ENSEMBLE_MEMBERS`; student seeds 0..2 (chapter 12)."""
    return [cfg for model in CAPACITY_TEACHERS for teacher_seed in range(TEACHER_SEEDS)
            for cfg in _seeds(make_config(KD_METHOD, profile, teacher=model, teacher_seed=teacher_seed))] \
        + _seeds(make_config(KD_METHOD, profile, teacher=ENSEMBLE_MODEL, teacher_ensemble=ENSEMBLE_MEMBERS))


# Chapter 11: ensembles of 2 and 4 members, averaging logits or probabilities, and image mixing.
ENSEMBLE_SIZES = (2, ENSEMBLE_MEMBERS)
ENSEMBLE_MODES = ("logits", "probs")
MIXINGS = ("mixup", "cutmix")


def ensembles(profile: str) -> list[RunConfig]:
    """KD from the single member network, from its ensembles, and with mixed images (chapter 11)."""
    single = make_config(KD_METHOD, profile, teacher=ENSEMBLE_MODEL)
    grouped = [make_config(KD_METHOD, profile, teacher=ENSEMBLE_MODEL, teacher_ensemble=k, ensemble=mode)
               for mode in ENSEMBLE_MODES for k in ENSEMBLE_SIZES]
    mixed = [make_config(KD_METHOD, profile, mixing=kind) for kind in MIXINGS]
    return [cfg for base in (single, *grouped, *mixed) for cfg in _seeds(base)]


# Chapter 7: where the intermediate-layer methods tap the networks.
HINT_STAGES = (1, 2, 3)
AT_STAGE_SETS = ((1,), (2,), (3,), (2, 3), (1, 2, 3))


def layers(profile: str) -> list[RunConfig]:
    """FitNets with its hint at each stage, AT on each stage alone and on the deeper ones."""
    fitnets = [make_config("fitnets", profile, hint_layer=stage) for stage in HINT_STAGES]
    at = [make_config("at", profile, layers=stages) for stages in AT_STAGE_SETS]
    return [cfg for base in (*fitnets, *at) for cfg in _seeds(base)]


# Chapter 8: SRRL's two terms apart and together, at its official weights and at the authors'
# other CIFAR-100 setting (alpha, beta) = (10, 1), where feature matching's term is no longer
# the far smaller one.
SRRL_WEIGHTS = ((1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (10.0, 1.0), (10.0, 0.0))


def srrl_terms(profile: str) -> list[RunConfig]:
    """SRRL at each (fm_weight, sr_weight) of :data:`SRRL_WEIGHTS`, seeds 0..2."""
    return [cfg for fm, sr in SRRL_WEIGHTS
            for cfg in _seeds(make_config("srrl", profile, fm_weight=fm, sr_weight=sr))]


# Chapter 9: DHKD's claim where it lives, the terminal phase of training (no augmentation, twice
# the profile's epochs, so the transfer set is fitted), on the 10 classes and on 100 (pairs of
# items, whose teacher trains on 20,000 of them); the gradient cosines recorded.
TERMINAL = dict(crop_padding=0, flip=False)
PAIRS = dict(dataset="fashion_pairs", flip=False, teacher_train_subset=20_000)


def terminal_phase(profile: str) -> list[RunConfig]:
    """CE + BinaryKL on one head against DHKD's two heads, trained into the terminal phase on the
    10-class task and on the 100-class pairs, with each loss alone as the controls the paper's
    claim names (it says the pair does worse than either): cross-entropy alone (the student
    alone) and BinaryKL alone (no cross-entropy)."""
    runs = []
    for task in ({}, PAIRS):
        epochs = 2 * make_config(ALONE, profile).epochs
        common = {**TERMINAL, **task, "epochs": epochs}
        for method, params in ((ALONE, {}), ("ce_binary_kl", {"ce_weight": 0.0}),
                               ("ce_binary_kl", {"measure_gradients": True}), ("dhkd", {"measure_gradients": True})):
            runs += _seeds(make_config(method, profile, **common, **params))
    return runs


# The headline table's full-training-set column: the student alone and KD on every training
# image (55,000 at the cpu profile), for about the steps of the convergence study's longest runs
# on the transfer set (15 epochs of 55,000 images are 6,450 steps of 128; 160 epochs of 5,000
# are 6,400). KD runs its teacher on every batch: a view cache of 55,000 images would cost more
# teacher passes than it saves.
FULL_SET_EPOCHS = 15


def full_set(profile: str) -> list[RunConfig]:
    """The student alone and KD trained on the whole training set, seeds 0..2."""
    full = dict(train_subset=None, epochs=FULL_SET_EPOCHS, teacher_cache=False)
    return [cfg for method in (ALONE, KD_METHOD) for cfg in _seeds(make_config(method, profile, **full))]


STUDIES = {"teachers": teachers, "convergence": convergence, "tuning": tuning, "headline": headline, "headline_tuned": headline_tuned,
           "capacity": capacity, "ensembles": ensembles, "layers": layers, "srrl_terms": srrl_terms,
           "terminal_phase": terminal_phase, "full_set": full_set}


def study(name: str, profile: str) -> list[RunConfig]:
    """The configurations of the study called ``name`` at ``profile``."""
    require_choice("study", name, STUDIES)
    return STUDIES[name](profile)


def _epochs(cfg: RunConfig) -> int:
    return cfg.epochs + int(cfg.method_params.get("init_epochs", 0) or 0)


def _key(cfg) -> tuple:
    return cfg.model, cfg.dataset, cfg.train_subset is None


def estimated_hours(runs: list[RunConfig], root: Path | None = None) -> tuple[float, int]:
    """Hours the missing ``runs`` would take here, from the stored runs of their profile: each at
    the median wall seconds per epoch (first-stage epochs counted) of the stored runs of its
    method, model, dataset and training-set kind, else of its model, dataset and kind; and how
    many runs no stored run could estimate."""
    stored: dict[tuple, list[float]] = {}
    profiles = {cfg.profile for cfg in runs}
    for path in (p for profile in profiles for p in store.run_files(profile, root)):
        record = store.read_run(path)
        cfg = record["config"]
        first = (record.get("first_stage") or {}).get("epochs", 0)
        per_epoch = record["wall_seconds_this_session"] / (cfg["epochs"] + first)
        kind = (cfg["model"], cfg["dataset"], cfg["train_subset"] is None)
        stored.setdefault((cfg["method"], *kind), []).append(per_epoch)
        stored.setdefault(kind, []).append(per_epoch)
    seconds, unknown = 0.0, 0
    for cfg in runs:
        if store.run_path(cfg, root).exists():
            continue
        rates = stored.get((cfg.method, *_key(cfg))) or stored.get(_key(cfg))
        if rates:
            seconds += sorted(rates)[len(rates) // 2] * _epochs(cfg)
        else:
            unknown += 1
    return seconds / 3600, unknown


def teachers_of(runs: list[RunConfig]) -> list[RunConfig]:
    """The distinct teacher runs the configurations need, in order of first use."""
    seen: dict[str, RunConfig] = {}
    for cfg in runs:
        for teacher in cfg.teacher_configs():
            seen.setdefault(teacher.run_id(), teacher)
    return list(seen.values())
