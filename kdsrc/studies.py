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
# one before, so "does doubling the epochs still move the result?" is read off neighbours.
CONVERGENCE_EPOCHS = (10, 20, 40, 80, 160)
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


STUDIES = {"teachers": teachers, "convergence": convergence, "tuning": tuning, "headline": headline, "headline_tuned": headline_tuned}


def study(name: str, profile: str) -> list[RunConfig]:
    """The configurations of the study called ``name`` at ``profile``."""
    require_choice("study", name, STUDIES)
    return STUDIES[name](profile)


def teachers_of(runs: list[RunConfig]) -> list[RunConfig]:
    """The distinct teacher runs the configurations need, in order of first use."""
    seen: dict[str, RunConfig] = {}
    for cfg in runs:
        for teacher in cfg.teacher_configs():
            seen.setdefault(teacher.run_id(), teacher)
    return list(seen.values())
