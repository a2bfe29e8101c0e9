"""The book's experimental designs, as the run configurations each one trains.

A study is a function of the profile that returns its configurations, every seed included, in the
order they are best trained: the cheap ones first, so that a study stopped early has answered its
question at the smaller scales. The chapters read the studies' stored runs; ``python -m kdsrc
study NAME`` trains what a study lacks (resumable, like every run).
"""
from dataclasses import replace

from .config import RunConfig, make_config
from .distillers import ALONE, KD_METHOD
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


STUDIES = {"convergence": convergence}


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
