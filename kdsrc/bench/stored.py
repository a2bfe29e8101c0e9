"""The stored benchmarks the book reads: looked up, or measured and stored when missing."""
from pathlib import Path

from .. import store
from ..distillers import METHODS
from ..engine.numerics import default_device
from .cache import teacher_cache
from .costs import DEFAULT_EPOCHS, measure_method_costs
from .repeats import REPEATS

_LABELS = {"method_costs": "cost benchmark", "teacher_cache": "teacher-cache benchmark"}


def _stored_or_measured(profile: str, kind: str, measure, root: Path | None) -> dict:
    stored = store.stored_bench(profile, kind, root)
    if stored is not None:
        return stored
    path = store.bench_path(profile, root, kind)
    store.require_computable(f"stored {_LABELS[kind]} for profile {profile!r}", path,
                             "run without stored_only to measure it")
    out = measure()
    store.write_json(out, path)
    return out


def _rounds(profile: str) -> int:
    # The smoke profile tests the pipeline (CI measures it afresh on every run) and its figures are
    # never read as measurements: one round. Every other profile gets the interleaved rounds.
    return 1 if profile == "smoke" else REPEATS


def _epochs(profile: str) -> int:
    # The fewest a cost measures (a warm-up epoch, then a timed one) at the smoke profile, for the
    # same reason; every other profile gets measure_method_costs' default.
    return 2 if profile == "smoke" else DEFAULT_EPOCHS


def method_costs(profile: str, root: Path | None = None, device: str | None = None) -> dict:
    """The stored per-method cost benchmark of ``profile`` (:func:`kdsrc.bench.measure_method_costs`
    over every registered method), measured and stored first when none exists (an error under
    ``stored_only``); one round of two epochs at the smoke profile."""
    return _stored_or_measured(profile, "method_costs", lambda: measure_method_costs(
        METHODS, profile, epochs=_epochs(profile), device=device or default_device(), repeats=_rounds(profile)), root)


def teacher_cache_cost(profile: str, root: Path | None = None, device: str | None = None) -> dict:
    """The stored teacher-cache benchmark of ``profile`` (:func:`kdsrc.bench.teacher_cache`),
    measured and stored first when none exists (an error under ``stored_only``); one round at the
    smoke profile."""
    return _stored_or_measured(profile, "teacher_cache", lambda: teacher_cache(
        profile, device=device or default_device(), repeats=_rounds(profile)), root)
