"""The CRD paper's CIFAR-100 tables as a plan of runs, and running it.

Tian et al. 2020 (CRD), Tables 1 and 2 (as RepDistiller's README prints them): thirteen
teacher-student pairs in our zoo's names. :func:`plan` lists the runs that reproduce them for the
book's methods and the student alone, every teacher first; :func:`reproduce` runs them in order
through :func:`kdsrc.experiment.run`, so every run is cached, resumes from its checkpoint and is
stored with its full provenance; :func:`status` says which are stored, in progress or missing.
"""
import functools
from pathlib import Path
from typing import Iterable, NamedTuple

import pandas as pd
from torchvision import datasets

from . import augment, distillers, experiment, results
from .config import MethodParams, RunConfig, make_config
from .distillers import ALONE, METHODS
from .models import MODELS, build_model
from .validate import ConfigError

TABLES = {
    "Table 1": (("wrn_40_2", "wrn_16_2"), ("wrn_40_2", "wrn_40_1"), ("resnet56", "resnet20"),
                ("resnet110", "resnet20"), ("resnet110", "resnet32"), ("resnet32x4", "resnet8x4"), ("vgg13", "vgg8")),
    "Table 2": (("vgg13", "MobileNetV2"), ("ResNet50", "MobileNetV2"), ("ResNet50", "vgg8"),
                ("resnet32x4", "ShuffleV1"), ("resnet32x4", "ShuffleV2"), ("wrn_40_2", "ShuffleV1")),
}
PAIR_SETS = {"table1": ("Table 1",), "table2": ("Table 2",), "all": ("Table 1", "Table 2")}
BASELINE = ALONE  # the student alone
# The methods a plan runs by default, named here so that a method added to the registry never
# silently adds its runs (39 runs of 240 epochs a method for both tables at 3 seeds): the book's
# methods of Parts I-III, Part IV's rows of the CRD tables, then Part V's: CRD and CRD+KD on every
# pair, and the later methods on the pairs their sources report (:data:`REPORTED_ONLY`).
DEFAULT_METHODS = ("vanilla", "kd", "fitnets", "at", "fsp", "ab", "srrl", "dhkd", "ce_binary_kl",
                   "sp", "cc", "vid", "rkd", "pkt", "ft", "nst", "crd", "crd_kd",
                   "dkd", "reviewkd", "dist", "standardized_kd")
# Methods the CRD paper did not run: a plan runs each on the CRD pairs its cited source reports
# (``results/reference/logits.csv``: mdistiller's DKD pairs, the same eleven for ReviewKD, DIST's
# and logit standardisation's own), so that every run has a published number beside it.
REPORTED_ONLY = ("dkd", "reviewkd", "dist", "standardized_kd")
# The per-pair recipes of the methods' own code where they differ from the method's defaults:
# mdistiller's configs/cifar100/dkd/*.yaml (beta), dvlab-research/ReviewKD's CIFAR-100/script/
# reviewKD.sh (the loss weight; its vgg and MobileNetV2 pairs are not in the script and keep 5),
# and the base temperature and KD weight in the names of logit-standardization-KD's logs.
PAIR_PARAMS = {
    ("dkd", "resnet56", "resnet20"): {"beta": 2.0}, ("dkd", "resnet110", "resnet32"): {"beta": 2.0},
    ("dkd", "vgg13", "vgg8"): {"beta": 6.0}, ("dkd", "vgg13", "MobileNetV2"): {"beta": 6.0},
    ("dkd", "wrn_40_2", "wrn_16_2"): {"beta": 6.0}, ("dkd", "wrn_40_2", "wrn_40_1"): {"beta": 6.0},
    ("reviewkd", "resnet56", "resnet20"): {"review_weight": 0.6},
    ("reviewkd", "resnet110", "resnet32"): {"review_weight": 1.0},
    ("reviewkd", "resnet32x4", "ShuffleV2"): {"review_weight": 8.0},
    ("standardized_kd", "vgg13", "vgg8"): {"temperature": 3.0},
    ("standardized_kd", "resnet110", "resnet20"): {"temperature": 4.0, "kd_weight": 12.0},
    ("standardized_kd", "vgg13", "MobileNetV2"): {"temperature": 3.0},
    ("standardized_kd", "ResNet50", "MobileNetV2"): {"temperature": 3.0, "kd_weight": 1.0},
}
# The cells the CRD paper prints as N/A (a method it ran on the table, but not on this pair).
CRD_NOT_AVAILABLE = {("wrn_40_2", "wrn_40_1", "fsp")}
FIXED_BY_THE_PLAN = ("model", "teacher", "seed")


class Pair(NamedTuple):
    table: str  # "Table 1", "Table 2" or "custom"
    teacher: str
    student: str


def table_of(teacher: str, student: str) -> str:
    """The CRD table that has the pair, or ``custom``."""
    return next((name for name, pairs in TABLES.items() if (teacher, student) in pairs), "custom")


def pairs_from(spec: str | Iterable) -> list[Pair]:
    """The pairs of ``spec``: a comma-separated string (or a list) of ``table1``, ``table2``, ``all``
    and ``teacher:student`` items (or (teacher, student) tuples)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    pairs = []
    for item in items:
        if isinstance(item, str) and item.strip() in PAIR_SETS:
            pairs += [Pair(name, t, s) for name in PAIR_SETS[item.strip()] for t, s in TABLES[name]]
            continue
        names = [name.strip() for name in item.split(":")] if isinstance(item, str) else list(item)
        if len(names) != 2 or not all(name in MODELS for name in names):
            raise ConfigError(f"pairs: must be {', '.join(PAIR_SETS)} or teacher:student items with models of "
                              f"{sorted(MODELS)}, got {spec!r}")
        pairs.append(Pair(table_of(*names), *names))
    if not pairs or len(set(pairs)) != len(pairs):
        raise ConfigError(f"pairs: must name each pair once, got {spec!r}")
    return pairs


def methods_from(spec: str | Iterable[str]) -> list[str]:
    """The methods of ``spec``: ``all`` (:data:`DEFAULT_METHODS`), ``"kd,at,..."`` or a list;
    ``vanilla`` is the student alone."""
    if spec == "all":
        return list(DEFAULT_METHODS)
    methods = [m.strip() for m in spec.split(",")] if isinstance(spec, str) else list(spec)
    if not methods or len(set(methods)) != len(methods) or any(m not in METHODS for m in methods):
        raise ConfigError(f"methods: must be 'all' or distinct methods of {list(METHODS)}, got {spec!r}")
    return methods


def check(teacher: str, student: str, method: str, params=None) -> str | None:
    """Why ``method`` (with ``params``) cannot distil ``teacher`` into ``student``, found by building
    it for CIFAR-100 on a 32x32 example (:func:`kdsrc.distillers.build`); None when it can."""
    return _check(teacher, student, method, MethodParams(params or {}))


@functools.lru_cache(maxsize=None)
def _network(name: str):
    """A CIFAR-100 network of the zoo, built once per process for the checks (they only size connectors)."""
    return build_model(name, 100)


@functools.lru_cache(maxsize=None)
def _check(teacher: str, student: str, method: str, params: MethodParams) -> str | None:
    try:
        distillers.build(method, params, _network(student), _network(teacher), distillers.example_summary(num_classes=100))
    except ConfigError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=None)
def reported_pairs(method: str) -> dict[tuple[str, str], str]:
    """The (teacher, student) pairs the cited source of a :data:`REPORTED_ONLY` method reports, to
    the name of its paper."""
    cited = results.reference("logits")
    rows = cited[cited.method == method]
    return {(t, s): paper for t, s, paper in zip(rows.teacher, rows.student, rows.paper)}


def _skip_reason(pair: Pair, cfg: RunConfig) -> str | None:
    """Why ``cfg`` cannot run on ``pair``, or None: a :data:`REPORTED_ONLY` method on a pair its
    source does not report; else, on a CRD table's pair with the profile's own parameters, the
    method's requirement and what the paper prints there instead of the error."""
    if cfg.method in REPORTED_ONLY and pair.table != "custom" and (pair.teacher, pair.student) not in reported_pairs(cfg.method):
        papers = sorted(set(reported_pairs(cfg.method).values()))
        return f"{' and '.join(papers)} reports no {METHODS[cfg.method].__name__} number for this pair"
    reason = check(pair.teacher, pair.student, cfg.method, cfg.method_params)
    requirement = METHODS[cfg.method].pair_requirement
    if reason is None or pair.table == "custom" or requirement is None \
            or cfg.method_params != make_config(cfg.method, cfg.profile, **_pair_params(pair, cfg.method)).method_params:
        return reason
    if (pair.teacher, pair.student, cfg.method) in CRD_NOT_AVAILABLE:
        return f"{requirement} (the CRD paper prints N/A for this pair)"
    return f"{requirement} (the CRD paper's {pair.table} has no {METHODS[cfg.method].__name__} row)"


def _pair_params(pair: Pair, method: str) -> dict:
    """The method's own per-pair recipe on ``pair`` (:data:`PAIR_PARAMS`), or nothing."""
    return PAIR_PARAMS.get((method, pair.teacher, pair.student), {})


def _configs(pairs, methods, seeds: int, profile: str, overrides: dict):
    """Every (pair, method) of the plan: its configuration for each seed, or the reason it cannot run."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds: must be an integer >= 1, got {seeds!r}")
    fixed = sorted(set(overrides) & set(FIXED_BY_THE_PLAN))
    if fixed:
        raise ConfigError(f"{fixed[0]}: set by the plan's pairs and seeds, not an override")
    cells = []
    for pair in pairs_from(pairs):
        for method in methods_from(methods):
            # The student alone keeps the profile's teacher field: one run per student, whatever its pair.
            teacher = {} if method == BASELINE else {"teacher": pair.teacher}
            # A method whose loss reads only the teacher's logits reads them from the exact (float32)
            # view cache, shared by every such run of the teacher (kdsrc.teachers.logit_cache).
            cache = {"teacher_cache": True} if METHODS[method].reads_only_teacher_logits else {}
            params = {**cache, **_pair_params(pair, method), **overrides}
            configs = [make_config(method, profile, model=pair.student, seed=seed, **teacher, **params)
                       for seed in range(seeds)]
            cells.append((pair, method, configs, _skip_reason(pair, configs[0])))
    return cells


def plan(pairs="all", methods="all", seeds: int = 3, profile: str = "paper", **overrides) -> list[RunConfig]:
    """The runs that reproduce ``pairs`` (:func:`pairs_from`) with ``methods`` (:func:`methods_from`)
    over seeds 0 .. ``seeds``-1: every teacher first, then, seed by seed, each pair's student alone
    and distilled runs; a run shared by several pairs (a teacher, a student alone) appears once, a
    method that cannot apply to a pair (:func:`skipped`) not at all. ``overrides`` go to
    :func:`kdsrc.config.make_config` (``data_root``, or any field, for every run)."""
    cells = _configs(pairs, methods, seeds, profile, overrides)
    by_seed = sorted(((cfg.seed, k, cfg) for k, (_, _, configs, reason) in enumerate(cells) if reason is None
                      for cfg in configs), key=lambda item: item[:2])
    students = [cfg for _, _, cfg in by_seed]
    teachers = [teacher for cfg in students for teacher in cfg.teacher_configs()]
    return list({cfg.run_id(): cfg for cfg in teachers + students}.values())


def skipped(pairs="all", methods="all", profile: str = "paper", **overrides) -> pd.DataFrame:
    """The (pair, method) combinations :func:`plan` leaves out, and why."""
    rows = [{"table": pair.table, "teacher": pair.teacher, "student": pair.student, "method": method, "reason": reason}
            for pair, method, _, reason in _configs(pairs, methods, 1, profile, overrides) if reason is not None]
    return pd.DataFrame(rows, columns=["table", "teacher", "student", "method", "reason"])


CIFAR = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}


def missing_data(runs: list[RunConfig]) -> str | None:
    """What a plan's CIFAR runs look for under their ``data_root`` and do not find (a torchvision root
    holding ``cifar-100-python/train``, for CIFAR-100), in one sentence; None when it is there, when
    no root is given, or when the runs need none (Fashion-MNIST). Only the file's presence is checked:
    its checksum is torchvision's to verify when a run loads it."""
    for cfg in runs:
        if cfg.dataset in CIFAR and cfg.data_root is not None:
            cls = CIFAR[cfg.dataset]
            wanted = Path(cls.base_folder) / cls.train_list[0][0]
            if not (Path(cfg.data_root) / wanted).is_file():
                return (f"{cfg.data_root} holds no {wanted.as_posix()}; looked for a torchvision root holding "
                        f"{cls.base_folder}/ ({cfg.dataset}'s python archive, unpacked)")
    return None


def _teacher_ids(runs: list[RunConfig]) -> set[str]:
    """The run ids of the teachers a plan's runs distil from."""
    return {t.run_id() for cfg in runs for t in cfg.teacher_configs()}


def _plan_pairs(runs: list[RunConfig]) -> list[Pair]:
    distilled = dict.fromkeys((cfg.teacher, cfg.model) for cfg in runs if cfg.teacher_configs())
    return [Pair(table_of(t, s), t, s) for t, s in distilled]


def _row(cfg: RunConfig, teacher_ids: set, pairs: list[Pair]) -> dict:
    if cfg.run_id() in teacher_ids:
        role, teacher = "teacher", ""
        table = next((p.table for p in pairs if p.teacher == cfg.model), "custom")
    elif cfg.method == BASELINE:
        role, teacher = "student alone", ""
        table = next((p.table for p in pairs if p.student == cfg.model),
                     next((name for name, known in TABLES.items() if any(s == cfg.model for _, s in known)), "custom"))
    else:
        role, teacher, table = "distilled", cfg.teacher, table_of(cfg.teacher, cfg.model)
    reads_cache = role == "distilled" and cfg.teacher_cache and METHODS[cfg.method].reads_only_teacher_logits
    return {"table": table, "role": role, "teacher": teacher, "model": cfg.model, "method": cfg.method,
            "seed": cfg.seed, "epochs": cfg.epochs, "init_epochs": cfg.method_params.get("init_epochs", 0),
            "teacher_cache": reads_cache, "views": augment.num_views(cfg.crop_padding, cfg.flip)}


def status(runs: list[RunConfig], root=None) -> pd.DataFrame:
    """One row per run of a plan, in its order: its table (the first of the plan's tables that
    needs it), role (teacher, student alone, distilled), networks, method, seed, epochs (and
    first-stage epochs), whether it reads the teacher-logit cache and how many views an image
    has, whether it is stored, in progress (a checkpoint exists) or missing, its
    last-epoch test accuracy when stored, and its run id."""
    teacher_ids = _teacher_ids(runs)
    pairs = _plan_pairs(runs)
    rows = []
    for cfg in runs:
        stored = experiment.stored_run(cfg, root)
        rows.append({**_row(cfg, teacher_ids, pairs), "state": experiment.run_state(cfg, root),
                     "last acc (%)": stored["last_test_acc"] if stored else None, "run_id": cfg.run_id()})
    return pd.DataFrame(rows)


def progress(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs of a :func:`status` frame per table and role, and how many are stored, in progress, missing."""
    counts = pd.crosstab([frame.table, frame.role], frame.state)
    counts = counts.reindex(columns=["stored", "in progress", "missing"], fill_value=0)
    counts.insert(0, "runs", counts.sum(axis=1))
    order = {role: k for k, role in enumerate(results.PLAN_ROLES)}
    return counts.sort_index(key=lambda index: index.map(order) if index.name == "role" else index)


def stored_runs(runs: list[RunConfig], root=None) -> tuple[list[dict], list[dict]]:
    """The stored runs of a plan, never training: (its teachers', everything else's)."""
    teacher_ids = _teacher_ids(runs)
    found = [(cfg.run_id() in teacher_ids, experiment.stored_run(cfg, root)) for cfg in runs]
    return ([run for is_teacher, run in found if run and is_teacher],
            [run for is_teacher, run in found if run and not is_teacher])


def reproduce(runs: list[RunConfig], device: str | None = None, root=None) -> list[dict]:
    """Run a plan in order (:func:`kdsrc.experiment.run`: a stored run is read, an interrupted one
    resumes, a missing one trains), printing one line a run; the stored results."""
    teacher_ids, out = _teacher_ids(runs), []
    doing = {"stored": "stored", "in progress": "resuming", "missing": "training"}
    for k, cfg in enumerate(runs, start=1):
        state = experiment.run_state(cfg, root)
        label = (f"teacher {cfg.model}" if cfg.run_id() in teacher_ids else f"{cfg.model} alone"
                 if cfg.method == BASELINE else f"{cfg.method} {cfg.teacher} -> {cfg.model}")
        print(f"[{k}/{len(runs)}] {label}, seed {cfg.seed}: {doing[state]}", flush=True)
        run = experiment.run(cfg, root, device)
        if state != "stored":
            print(f"[{k}/{len(runs)}] done: last {run['last_test_acc']:.2f} %, best {run['best_test_acc']:.2f} % "
                  f"(epoch {run['best_epoch']})", flush=True)
        out.append(run)
    return out
