"""Command line: ``python -m kdsrc {train,list,bench,reproduce,study,retrain,teachers}``. Bad parameters exit 2 with one line.

``train`` and ``reproduce`` also run under ``torchrun --nproc_per_node N -m kdsrc ...``, one
process per GPU (:mod:`kdsrc.engine.distributed`); process 0 alone prints and writes.
"""
import argparse
import ast
import contextlib
import json
import os
import re
import sys

from . import __version__
from .validate import ConfigError, require_choice, require_int


def _value(text: str):
    """``--set`` values: Python literals (numbers, True/False/None, lists), else the plain string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--set: expected name=value, got {pair!r}")
        out[name.strip()] = _value(value.strip())
    return out


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line naming the parameter, as every other error here."""

    def error(self, message):
        found = re.match(r"argument (?:-+)?([\w-]+)(?:/[^:]*)?: (.*)", message)
        if found:
            message = f"{found.group(1).replace('-', '_').lower()}: {found.group(2)}"
        self.exit(2, f"kdsrc: error: {' '.join(message.split())}\n")


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return int(text)


def _bench_parser(sub) -> None:
    from .bench.repeats import REPEATS
    from .config import PROFILES
    from .distillers import METHODS
    bench = sub.add_parser("bench", help="measure and store a benchmark: our loop against RepDistiller's (default), "
                                         "the teacher cache, the paper pairs, each method's cost",
                           description="Measure a benchmark and store it under <results>/bench/. Without a kind: "
                                       "`loop`.")
    bench.set_defaults(kind="loop", device="cpu", steps=10, repeats=REPEATS, results=None, store=False)
    kinds = bench.add_subparsers(dest="kind", metavar="KIND")
    options = {
        "profile": lambda p: p.add_argument("--profile", default="cpu", choices=sorted(PROFILES)),
        "epochs": lambda p: p.add_argument("--epochs", type=_at_least_one, default=4,
                                           help="epochs per measurement, the first a warm-up (default: 4)"),
        "device": lambda p: p.add_argument("--device", default="cpu"),
        "steps": lambda p: p.add_argument("--steps", type=_at_least_one, default=10,
                                          help="timed training steps per measurement (default 10, after 2 warm-up)"),
        "repeats": lambda p: p.add_argument("--repeats", type=_at_least_one, default=REPEATS,
                                            help=f"rounds of the compared modes, measured in turns (default {REPEATS}); "
                                                 "medians and ranges are stored"),
        "results": lambda p: p.add_argument("--results", default=None,
                                            help="results folder (default: $KDSRC_RESULTS or ./results)"),
        "store": lambda p: p.add_argument("--store", action="store_true",
                                          help="store it over the book's benchmark in the repository's results/bench/ "
                                               "(without it, a measurement there goes to _build/bench/ instead)"),
    }
    for kind, takes, text in (
            ("loop", ("device", "steps", "repeats", "results", "store"),
             "images/second of KD in our loop and in a loop built as RepDistiller's (per-image PIL transforms in "
             "DataLoader workers, fp32, the teacher on every batch), for resnet32x4 -> resnet8x4 on fabricated "
             "CIFAR-size data and for the cpu profile's pair, with the ratio (<results>/bench/paper/reference_loop.json)"),
            ("teacher-cache", ("profile", "epochs", "device", "repeats", "results", "store"),
             "the profile's student alone vs KD with the teacher on every batch and with its cached logits "
             "(<results>/bench/<profile>/teacher_cache.json)"),
            ("pairs", ("device", "steps", "repeats", "results", "store"),
             "images/second of every CRD pair's teacher, student and KD on fabricated CIFAR-size data, what "
             "chapter 13 projects hours from (<results>/bench/paper/pairs.json)"),
            ("costs", ("profile", "epochs", "device", "repeats", "results", "store"),
             "every method's cost, each in a fresh process (<results>/bench/<profile>/method_costs.json)"),
            ("method", ("profile", "epochs", "device"),
             "one method's cost, measured in this process and printed (what `costs` runs for each method)")):
        parser = kinds.add_parser(kind, help=text.split(" (")[0], description=text)
        for name in takes:
            options[name](parser)
        if kind == "method":
            parser.add_argument("--method", required=True, choices=list(METHODS))
            parser.add_argument("--json", action="store_true", help="print one JSON line")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m kdsrc", description="kd-companion: train, list, benchmark, reproduce.")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one run (or return its stored result)",
                           description="Train one run; a stored run with the same configuration is returned "
                                       "as it is, and an interrupted one resumes from its checkpoint.")
    train.add_argument("--method", required=True, help="a method from `list`")
    train.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="override any config field or method parameter, e.g. --set temperature=2")
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    train.add_argument("--results", default=None, help="results folder (default: $KDSRC_RESULTS or ./results)")
    sub.add_parser("list", help="methods, models and profiles")
    _bench_parser(sub)
    rep = sub.add_parser("reproduce", help="train the CRD paper's CIFAR-100 tables at the paper profile",
                         description="Run the plan of kdsrc.reproduce: every teacher first, then the student "
                                     "alone and each method, seed by seed. Stored runs are read, interrupted "
                                     "ones resume from their checkpoint; run it again to go on.")
    rep.add_argument("--data-root", default=None, help="torchvision root holding cifar-100-python/ (needed to train)")
    rep.add_argument("--pairs", default="all",
                     help="table1, table2, all (default) or teacher:student items, comma-separated")
    rep.add_argument("--methods", default="all",
                     help="all (default: the student alone and every method) or kd,at,... (vanilla: the student alone)")
    rep.add_argument("--seeds", default="3", help="seeds 0..N-1 of every student run (default 3; the book's tables "
                                                  "use at least 3)")
    rep.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="override a config field for every run, e.g. --set epochs=120")
    rep.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    rep.add_argument("--results", default=None, help="results folder (default: $KDSRC_RESULTS or ./results)")
    rep.add_argument("--dry-run", action="store_true", help="print the plan and what is stored; train nothing")
    design = sub.add_parser("study", help="train the runs of one of the book's studies (kdsrc.studies)",
                            description="Train, in order, every run of a study that is not stored yet (teachers "
                                        "first); interrupted runs resume from their checkpoint: run it again to go on. "
                                        "Several of these may run at once on one results folder: each skips the "
                                        "runs another is training and waits for them at the end.")
    design.add_argument("name", help="a study of kdsrc.studies, e.g. convergence")
    design.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    design.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    design.add_argument("--results", default=None, help="results folder (default: $KDSRC_RESULTS or ./results)")
    design.add_argument("--dry-run", action="store_true", help="print the study's runs and what is stored; train nothing")
    again = sub.add_parser("retrain", help="train a stored run again under this machine's numerics, stored beside it",
                           description="Train the stored run of a configuration again (its teacher's stored weights "
                                       "are reused) under this process's CPU kernels and threads, and store it under "
                                       "<results>/machines/<profile>/<method>/ as LABEL, for the book to compare "
                                       "with the stored run and the seed spread.")
    again.add_argument("--method", required=True, help="a method from `list`")
    again.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    again.add_argument("--seed", type=int, default=0)
    again.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="as for train")
    again.add_argument("--label", required=True, help="names the setting, e.g. sse41-1thread")
    again.add_argument("--results", default=None, help="results folder (default: $KDSRC_RESULTS or ./results)")
    manifest = sub.add_parser("teachers", help="record every teacher of a profile's stored runs in its manifest",
                              description="Rebuild <results>/teachers/<profile>/manifest.json from the stored "
                                          "student runs' teachers (their own stored runs and weights) and print it.")
    manifest.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    manifest.add_argument("--results", default=None, help="results folder (default: $KDSRC_RESULTS or ./results)")
    return parser


def _projection(status, root) -> str:
    """The plan's projected GPU hours from the stored pairs benchmark, or why there are none."""
    from . import results
    bench = results.stored_bench("paper", "pairs", root)
    if bench is None or not str(bench["device"]).startswith("cuda"):
        measured = "none is stored" if bench is None else f"the stored one was measured on {bench['device']}"
        return (f"projected GPU hours: no GPU benchmark of the pairs ({measured}; "
                "`python -m kdsrc bench pairs --device cuda` on a GPU stores one)")
    left = status[status.state != "stored"]
    hours = results.run_hours(bench, left)
    cached = results.run_hours(bench, left, cached=True).sum() + results.cache_build_hours(bench, left).sum()
    return (f"projected GPU hours: {hours.sum():.1f} for the {hours.notna().sum()} runs left "
            f"({cached:.1f} with the logit-only methods reading the teacher-logit cache, its builds included), "
            f"at the rates of {results.measured_on(bench)} ({bench['device']}); chapter 13 breaks them down"
            + ("" if hours.notna().all() else f"; {hours.isna().sum()} runs on pairs it did not measure"))


def _reproduce(args) -> None:
    from . import reproduce
    require_int("seeds", int(args.seeds) if args.seeds.isdigit() else args.seeds, minimum=1)
    overrides = _overrides(args.set)
    if args.data_root:
        overrides["data_root"] = args.data_root
    root = args.results
    runs = reproduce.plan(args.pairs, args.methods, int(args.seeds), **overrides)
    if not args.dry_run and runs and runs[0].dataset != "fashion_mnist" and runs[0].data_root is None:
        raise ValueError("--data-root: a torchvision root holding cifar-100-python/ is needed to train "
                         "(--dry-run prints the plan without it)")
    missing = reproduce.missing_data(runs)
    if missing and not args.dry_run:  # before anything is printed, trained or written
        raise ValueError(f"--data-root: {missing}")
    status = reproduce.status(runs, root)
    counts = status.state.value_counts()
    print(f"plan: {len(runs)} runs of the {runs[0].profile} profile, teachers first; "
          + ", ".join(f"{counts.get(state, 0)} {state}" for state in ("stored", "in progress", "missing")))
    print(reproduce.progress(status).to_string())
    print(_projection(status, root))
    for row in reproduce.skipped(args.pairs, args.methods, **overrides).itertuples():
        print(f"skipped: {row.method} {row.teacher} -> {row.student} ({row.table}): {row.reason}")
    if args.dry_run:
        print(status.drop(columns=["epochs", "init_epochs"]).to_string())
        if missing:  # the plan is shown all the same: a dry run is for looking
            raise ValueError(f"--data-root: {missing}")
    else:
        reproduce.reproduce(runs, args.device, root)


def _study(args) -> None:
    from . import experiment, store, studies
    from .config import PROFILES
    require_choice("profile", args.profile, PROFILES)
    runs = studies.study(args.name, args.profile)
    needed = studies.teachers_of(runs) + runs
    states = [experiment.run_state(cfg, args.results) for cfg in needed]
    left = sum(cfg.epochs for cfg, state in zip(needed, states) if state != "stored")
    hours, unknown = studies.estimated_hours(needed, args.results)
    print(f"study {args.name}: {len(runs)} runs and {len(needed) - len(runs)} teachers of the {args.profile} profile; "
          f"{states.count('stored')} stored, {states.count('in progress')} in progress, "
          f"{states.count('missing')} missing ({left} epochs to train, about {hours:.1f} h here at the stored "
          f"runs' pace" + (f", {unknown} runs not estimated)" if unknown else ")"), flush=True)
    deferred = []  # runs another process is training now: come back to them at the end
    for cfg, state in zip(needed, states):
        if state == "stored" or args.dry_run:
            print(f"  {state:11s} {cfg.method} {cfg.model} epochs={cfg.epochs} seed={cfg.seed} {cfg.run_id()}")
        elif store.held(store.run_path(cfg, args.results)):
            deferred.append(cfg)
        else:
            _report(cfg, experiment.run(cfg, args.results, args.device))
    for cfg in deferred:  # waits for the other process, then reads its result
        _report(cfg, experiment.run(cfg, args.results, args.device))


def _report(cfg, run: dict) -> None:
    print(f"  done        {cfg.method} {cfg.model} epochs={cfg.epochs} seed={cfg.seed} {cfg.run_id()}: "
          f"test {run['last_test_acc']:.2f} %, val {run['last_val_acc']}, "
          f"{run['seconds_per_epoch']:.1f} s/epoch", flush=True)


def _store(out: dict, path, replace_book: bool = False) -> None:
    """Write a benchmark to ``path``; one that would land over the book's stored benchmarks (the
    repository's ``results/bench/``) goes to ``_build/bench/`` instead unless ``replace_book``, so that a
    reader's measurement never changes what the book and its tests read."""
    from . import store
    book = (store.REPO_RESULTS / "bench").resolve()
    if not replace_book and path.resolve().is_relative_to(book):
        kept = store.REPO_RESULTS.parent / "_build" / "bench" / path.resolve().relative_to(book)
        store.write_json(out, kept)
        print(f"measured, kept at {kept}; the book's {path} is unchanged (--store replaces it)", file=sys.stderr)
        return
    store.write_json(out, path)
    print(f"stored: {path}", file=sys.stderr)


def _train(args) -> None:
    from . import experiment, store
    cfg = _config(args)
    root = args.results
    run = experiment.run(cfg, root, args.device)
    print(json.dumps({"run": str(store.run_path(cfg, root)), "last_test_acc": run["last_test_acc"],
                      "best_test_acc": run["best_test_acc"], "best_epoch": run["best_epoch"],
                      "seconds_per_epoch": round(run["seconds_per_epoch"], 2)}))


def _config(args):
    from .config import make_config
    overrides = _overrides(args.set)
    for flag in ("method", "profile"):
        if flag in overrides:
            raise ConfigError(f"{flag}: give it as --{flag}, not --set")
    return make_config(args.method, args.profile, **{"seed": args.seed, **overrides})


def _retrain(args) -> None:
    from . import machines
    cfg = _config(args)
    root = args.results
    run = machines.retrain(cfg, args.label, root)
    print(json.dumps({"run": str(machines.machine_path(cfg, args.label, root)), "last_test_acc": run["last_test_acc"],
                      "best_test_acc": run["best_test_acc"], "cpu_capability": run["hardware"]["cpu_capability"],
                      "torch_threads": run["hardware"]["torch_threads"]}))


def _teachers(args) -> None:
    from . import teachers
    from .config import PROFILES
    require_choice("profile", args.profile, PROFILES)
    root = args.results
    teachers.record_stored_teachers(args.profile, root)
    print(teachers.manifest(args.profile, root).to_string(index=False))


def _bench(args) -> None:
    from . import bench, results, store
    from .engine import distributed
    from .reproduce import TABLES
    if distributed.launched():
        raise ValueError("bench: measures one process; run it without torchrun")
    if args.kind == "method":
        out = bench.method_cost(args.method, args.profile, args.epochs, args.device)
        if args.json:
            print(json.dumps(out))
        else:
            for key, value in out.items():
                print(f"{key:28s} {value:.2f}" if isinstance(value, float) else f"{key:28s} {value}")
    elif args.kind == "costs":
        from .distillers import METHODS
        out = bench.measure_method_costs(METHODS, args.profile, args.epochs, args.device, args.repeats)
        _store(out, store.bench_path(args.profile, args.results, "method_costs"), args.store)
        print(results.method_costs_frame(out).to_string(index=False))
    elif args.kind == "teacher-cache":
        _store(bench.teacher_cache(args.profile, args.epochs, args.device, args.repeats),
               store.bench_path(args.profile, args.results, "teacher_cache"), args.store)
    elif args.kind == "pairs":
        out = bench.pairs_bench([pair for table in TABLES.values() for pair in table], args.device, args.steps,
                                repeats=args.repeats)
        _store(out, store.bench_path("paper", args.results, "pairs"), args.store)
        print(results.pair_epoch_times(out).to_string(index=False))
    else:
        out = bench.reference_comparison(args.device, args.steps, repeats=args.repeats)
        _store(out, store.bench_path("paper", args.results, "reference_loop"), args.store)
        print(results.reference_loop_table(out).to_string(index=False))
        print(f"a 240-epoch CIFAR-100 run of {out['paper_pair']['teacher']} -> {out['paper_pair']['student']} "
              f"on {args.device}, projected from these rates: "
              f"{out['paper_pair']['projected_240_epoch_minutes']:.0f} min ours, "
              f"{out['paper_pair']['projected_240_epoch_minutes_reference']:.0f} min RepDistiller-style")


def _training(args) -> None:
    """``train`` or ``reproduce``, in one process or as one of torchrun's (printing only on process 0)."""
    from .engine import distributed
    args.device = distributed.setup(args.device)
    try:
        with open(os.devnull, "w") as devnull, \
                contextlib.redirect_stdout(sys.stdout if distributed.is_main() else devnull):
            (_train if args.command == "train" else _reproduce)(args)
    finally:
        distributed.teardown()


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .config import PROFILES
    from .distillers import METHODS
    from .models import MODELS
    try:
        if args.command == "list":
            print("methods: " + ", ".join(METHODS))
            print("models: " + ", ".join(MODELS))
            print("profiles: " + ", ".join(PROFILES))
        elif args.command in ("train", "reproduce"):
            _training(args)
        elif args.command == "study":
            _study(args)
        elif args.command == "retrain":
            _retrain(args)
        elif args.command == "teachers":
            _teachers(args)
        elif args.command == "bench":
            _bench(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print("kdsrc: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback
        trains = args.command in ("train", "reproduce", "study", "retrain", "teachers")
        print("kdsrc: interrupted" + ("; the same command resumes from the last stored epoch" if trains else ""),
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
