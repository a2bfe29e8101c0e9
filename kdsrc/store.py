"""The results folder: where it is, whether it may be written, every path in it, atomic writes.

Everything kdsrc stores lives under one root (default ``$KDSRC_RESULTS``, else the repository's
``results/``; :func:`use` chooses another for the process, or a fresh scratch folder)::

    runs/<profile>/<method>/<model>_seed<S>_<run id>.json   a run record (RunRecord)
    runs/<profile>/vanilla/<model>_seed<S>_<run id>.pt      a vanilla run's weights (it may teach)
    checkpoints/<profile>/<method>/<...>.ckpt               an unfinished run (+ .stage1.ckpt/.pt)
    ensembles/<profile>/<teacher>_x<N>_<mode>_<id>.json     an ensemble teacher's accuracy record
    cache/logits_<teacher id>_<data>_<numerics>.pt          a teacher's logits on every view
    teachers/<profile>/manifest.json                        every teacher the profile's runs used
    bench/<profile>/<kind>.json                             a stored benchmark
    machines/<profile>/<method>/<run stem>.<label>.json     a stored run trained on other numerics
    reference/*.csv                                         papers' numbers (cited data; in the repository)

Files are written to a temporary name beside their path and renamed, so an interruption never
leaves half a file. Nothing here trains.
"""
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

import torch

from . import retraining
from .validate import require_choice

REPO_RESULTS = Path(__file__).resolve().parent.parent / "results"


class MissingRun(RuntimeError):
    """A stored result was required (``stored_only``) but none exists."""


class RunRecord(TypedDict, total=False):
    """What a run's JSON holds (runs stored before a field existed lack it)."""
    run_id: str
    config: dict  # RunConfig.to_dict()
    training_revision: int  # kdsrc.engine.TRAINING_REVISION when it trained; absent: revision 1
    teacher_run_id: str | None  # a trained teacher's run id, an ensemble's id or "checkpoint:<sha>"
    teacher_test_acc: float | None
    history: list[dict]  # per epoch: epoch, lr_last, train_loss{term: value, total}, train_acc,
    # test_acc, val_acc (None after an epoch that does not evaluate), epoch_seconds (and
    # measurements, when the distiller measures)
    first_stage: dict | None  # name, epochs, history, seconds_per_epoch of a two-stage method
    last_test_acc: float
    best_test_acc: float
    best_epoch: int
    last_val_acc: float | None
    seconds_per_epoch: float
    wall_seconds_this_session: float
    peak_memory_mb: float
    memory_before_training_mb: float
    peak_memory_kind: str  # cuda_max_allocated or process_peak_rss
    numerics: dict  # precision, channels_last, compile
    parameters: int
    extra_parameters: int
    code: dict  # git_commit, kdsrc_dirty
    libraries: dict
    hardware: dict
    distributed: dict  # world_size, backend; only for runs of several processes
    finished_utc: str


_SESSION: dict[str, Any] = {"root": None, "stored_only": False}


def results_dir() -> Path:
    """``$KDSRC_RESULTS`` if set (and not empty), else the repository's ``results/`` (its
    ``retraining/`` folder while :mod:`kdsrc.retraining` is active)."""
    return Path(os.environ.get("KDSRC_RESULTS") or (retraining.RESULTS if retraining.ACTIVE else REPO_RESULTS))


def use(results_root: str | Path | None = None, fresh: bool = False, stored_only: bool = False) -> Path:
    """Set where this process's results are read and written; return that folder.

    ``fresh=True`` uses a new temporary folder, so everything trains anew without touching the
    stored runs (or the scratch folder named by ``$KDSRC_FRESH_RESULTS``: the test suite shares
    one between the chapters it re-executes at smoke scale, so a run they have in common trains
    once); ``stored_only=True`` makes a missing run an error instead of training it (the book's
    regression tests use it: re-executing a chapter must never train).
    """
    folder = _fresh_root() if fresh else (Path(results_root) if results_root else None)
    _SESSION.update(root=folder, stored_only=stored_only)
    return root()


def _fresh_root() -> Path:
    shared = os.environ.get("KDSRC_FRESH_RESULTS")
    if not shared:
        return Path(tempfile.mkdtemp(prefix="kdsrc-"))
    Path(shared).mkdir(parents=True, exist_ok=True)
    return Path(shared)


def root(folder: str | Path | None = None) -> Path:
    """The results folder: ``folder`` if given, else the one chosen by :func:`use`, else :func:`results_dir`."""
    return Path(folder or _SESSION["root"] or results_dir())


def stored_only() -> bool:
    """Whether a missing result is an error (:func:`use`) instead of something to compute."""
    return _SESSION["stored_only"]


def require_computable(what: str, path: Path, remedy: str = "run without stored_only to train it") -> None:
    """Raise :class:`MissingRun` for the missing ``what`` at ``path`` when only stored results may be read."""
    if stored_only():
        raise MissingRun(f"{what}: none (expected {path}); {remedy}")


# ---------------------------------------------------------------------------------------- paths
def run_path(cfg, folder: str | Path | None = None) -> Path:
    return root(folder) / "runs" / cfg.profile / cfg.method / f"{cfg.model}_seed{cfg.seed}_{cfg.run_id()}.json"


def weights_path(cfg, folder: str | Path | None = None) -> Path:
    """A stored vanilla run's trained network."""
    return run_path(cfg, folder).with_suffix(".pt")


def predictions_path(cfg, folder: str | Path | None = None) -> Path:
    """A stored run's top-1 predictions on the test and validation images
    (:func:`kdsrc.experiment.predictions`)."""
    return run_path(cfg, folder).with_suffix(".predictions.pt")


def checkpoint_path(cfg, folder: str | Path | None = None) -> Path:
    """Where an unfinished run of ``cfg`` keeps its checkpoint (its first stage's files sit beside it)."""
    base = root(folder)
    return base / "checkpoints" / run_path(cfg, base).relative_to(base / "runs").with_suffix(".ckpt")


def stage_paths(cfg, folder: str | Path | None = None) -> tuple[Path, Path]:
    """A two-stage run's first stage: its own checkpoint, and its finished state (so it never runs twice)."""
    checkpoint = checkpoint_path(cfg, folder)
    return checkpoint.with_suffix(".stage1.ckpt"), checkpoint.with_suffix(".stage1.pt")


def ensemble_path(profile: str, name: str, folder: str | Path | None = None) -> Path:
    return root(folder) / "ensembles" / profile / f"{name}.json"


def logit_cache_path(name: str, folder: str | Path | None = None) -> Path:
    return root(folder) / "cache" / f"logits_{name}.pt"


def manifest_path(profile: str, folder: str | Path | None = None) -> Path:
    """Where ``profile``'s teacher manifest lives."""
    return root(folder) / "teachers" / profile / "manifest.json"


BENCHES = ("method_costs", "teacher_cache", "pairs", "reference_loop")


def bench_path(profile: str, folder: str | Path | None = None, kind: str = "method_costs") -> Path:
    """Where a profile's benchmark of ``kind`` (:data:`BENCHES`, :mod:`kdsrc.bench`) is stored."""
    require_choice("kind", kind, BENCHES)
    return root(folder) / "bench" / profile / f"{kind}.json"


def machine_path(cfg, label: str, folder: str | Path | None = None) -> Path:
    """Where the retraining of ``cfg``'s stored run under the setting ``label`` is kept."""
    return root(folder) / "machines" / cfg.profile / cfg.method / f"{run_path(cfg, folder).stem}.{label}.json"


def reference_path(name: str, folder: str | Path | None = None) -> Path:
    """A cited-data table (papers' numbers), by default the repository's."""
    return Path(folder or REPO_RESULTS) / "reference" / f"{name}.csv"


# --------------------------------------------------------------------------------- reading, writing
def _partial(path: Path) -> Path:
    """A temporary name beside ``path``, this process's own (two processes may write one file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def _lock(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def held(path: Path) -> bool:
    """Whether a live process holds ``path``'s lock (:func:`exclusive`)."""
    lock = _lock(path)
    try:
        text, age = lock.read_text().strip(), time.time() - lock.stat().st_mtime
    except OSError:  # no lock, or it went away meanwhile
        return False
    if not text.isdigit():  # being written, or its writer died before writing its pid
        return age < 60
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        return True
    return True


@contextlib.contextmanager
def exclusive(path: Path, poll_seconds: float = 2.0):
    """Hold ``path``'s lock (``<path>.lock``, holding the owner's pid) for the block, waiting while
    another live process holds it: one process at a time computes what ``path`` will store, so
    several processes can train from one results folder. A dead process's lock is taken over."""
    lock = _lock(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if held(path):
                time.sleep(poll_seconds)
            else:
                lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def write_json(obj, path: Path) -> None:
    """Write JSON to a temporary file beside ``path``, then rename: never a half-written file."""
    tmp = _partial(path)
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def save_tensors(obj, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written file."""
    tmp = _partial(path)
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_tensors(path: Path) -> dict:
    """A checkpoint, weights or cache file, loaded with ``weights_only=True``; a clear error if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"checkpoint: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "delete it to start the run afresh") from None


def read_json(path: Path, what: str = "stored run") -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what}: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "delete it to compute it again") from None


def read_run(path: Path) -> RunRecord:
    """A stored run (or ensemble record); a clear error naming the file if it is unreadable.
    Every read is noted in the read log (:func:`log_read`)."""
    try:
        run = json.loads(Path(path).read_text())
        run["last_test_acc"], run["config"]  # noqa: B018 - the fields every record has
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"stored run: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "delete it to train the run again") from None
    log_read(Path(path))
    return run


READ_LOG = "KDSRC_READ_LOG"


def log_read(path: Path) -> None:
    """Append ``path``, a stored record this process read, to the file ``$KDSRC_READ_LOG`` names
    (nothing when it is unset). ``make notebooks`` gives every page its own log, from which the
    book's reproducibility report lists the runs each chapter reads (:func:`read_log`)."""
    log = os.environ.get(READ_LOG)
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf8") as out:
            out.write(f"{Path(path).resolve()}\n")


def read_log(log: Path) -> list[Path]:
    """The records a read log (:func:`log_read`) names, each once, in the order first read."""
    return [Path(line) for line in dict.fromkeys(Path(log).read_text(encoding="utf8").splitlines()) if line]


def stored_bench(profile: str, kind: str, folder: str | Path | None = None) -> dict | None:
    """A stored benchmark (:func:`bench_path`), or None when none was measured; never measures."""
    path = bench_path(profile, folder, kind)
    return read_json(path, "stored benchmark") if path.exists() else None


def run_files(profile: str | None = None, folder: str | Path | None = None) -> list[Path]:
    """The stored run records (of one profile, if given), sorted."""
    return sorted((root(folder) / "runs").glob(f"{profile}/*/*.json" if profile else "*/*/*.json"))


__all__ = ["use", "root", "stored_only", "results_dir", "MissingRun", "RunRecord", "run_path", "weights_path", "predictions_path",
           "checkpoint_path", "stage_paths", "ensemble_path", "logit_cache_path", "manifest_path", "bench_path",
           "machine_path", "reference_path", "write_json", "save_tensors", "load_tensors", "read_json",
           "read_run", "log_read", "read_log", "READ_LOG", "stored_bench", "run_files", "BENCHES", "exclusive", "held"]
