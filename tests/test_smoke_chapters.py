"""Every chapter retrained at smoke scale, its runs compared with stored references within measured bands.

Retrained numbers depend on the machine: another vector instruction set (AVX2, AVX-512, ARM's
NEON) or thread count sums in another order, and training amplifies those last bits. So these runs
are not compared exactly (that is nbval's job for what no machine changes: the chapters rebuilt
from stored runs, and their loss cells). Each chapter is executed with papermill at the smoke
profile (one scratch folder shared by the chapters, as `make book` shares results/); then every run
it leaves there must be one the reference knows (same configuration, so the same run id), and each
run's numbers must lie within these bands of the reference:

- the mean loss of every term in the first epoch (and in a first stage's first epoch), relative,
  one band per method and term: the trajectories have drifted least there (the teacher, itself
  trained at smoke scale, has drifted already), so these bands are the tightest and catch a
  changed loss on any machine (KD's term ×1.5, or T instead of T², moves it by half or more,
  beyond its band);
- the final training loss, relative, and the last- and best-epoch test accuracy, in points (500
  test images: one image is 0.2 points): one smoke run (1000 images, 3 epochs) is chaotic, and
  these drift by as much as a seed change moves them, so their bands only catch a broken run;
- the mean last-epoch accuracy of each chapter's runs, in points: the drift of single runs
  averages out somewhat in the chapters of many runs, so a change that moves every run shows.

Measured (`make smoke-spread`: the recordings in `tests/notebooks/smoke_spread/`, their largest
differences in `tests/notebooks/smoke_spread.json`): the same code under three settings of one
machine (an AMD EPYC with AVX-512) — its default AVX-512 kernels with 2 threads; AVX2 kernels with 2
threads (`ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`, the kernels of an AVX2-only CPU); and
the plain kernels with oneDNN capped at SSE4.1 and 1 thread, for chapters 01-06 (several times
slower) — and on a second machine, an Intel Xeon with AVX-512 and AMX, with its default kernels and
2 threads (`intel-amx-native.json`: its AB and SRRL runs fell outside the bands set from the first
machine alone, by up to 16 % in SRRL's first-epoch `sr` term). Between two of them, a single smoke run's last-epoch accuracy moved by more than ten
points: these short runs decorrelate completely, as a change of seed would, so the differences
measured are those of any other machine too. Each band is the largest difference measured, times
``MARGIN``, never below ``FLOOR``. `make regression-notebooks` re-records the reference
(``KDSRC_RECORD_SMOKE=tests/notebooks/smoke_runs.json``) after an intended change of results.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py"))
PARAMETERS = ROOT / "tests" / "notebooks" / "smoke.yaml"
REFERENCE = ROOT / "tests" / "notebooks" / "smoke_runs.json"
SPREAD = ROOT / "tests" / "notebooks" / "smoke_spread.json"
RECORD = os.environ.get("KDSRC_RECORD_SMOKE")  # a path: write the runs there instead of comparing

# the measured spreads (largest difference between two settings; see the module docstring) ...
MEASURED = {
    "first_epoch_loss": {
        "ab:ab": 0.0406, "ab:ce": 0.0156, "ab:kd": 0.1235, "ab:total": 0.1235, "at:at": 0.413, "at:ce": 0.0568,
        "at:total": 0.2911, "ce_binary_kl:ce": 0.0305, "ce_binary_kl:kd": 0.0979, "ce_binary_kl:total": 0.0796,
        "dhkd:ce": 0.0343, "dhkd:kd": 0.1596, "dhkd:total": 0.1215, "fitnets:ce": 0.036, "fitnets:hint": 0.1264,
        "fitnets:total": 0.1247, "fsp:ce": 0.0525, "fsp:fsp": 0.3725, "fsp:total": 0.3725, "kd:ce": 0.0399,
        "kd:kd": 0.1355, "kd:total": 0.1327, "srrl:ce": 0.0175, "srrl:fm": 0.1645, "srrl:sr": 0.166,
        "srrl:total": 0.131, "vanilla:ce": 0.0137, "vanilla:total": 0.0137},
    "final_loss": 0.3538, "accuracy": 13.6, "chapter_accuracy": 8.6,
}
# ... and the bands chosen from them
MARGIN = 1.5
FLOOR = {"first_epoch_loss": 0.01, "final_loss": 0.05, "accuracy": 2.0, "chapter_accuracy": 1.0}


def band(kind: str) -> float:
    """The band of ``kind``: ``first_epoch_loss:<method>:<term>`` (a loss term of a method's first
    epoch; one never measured gets the widest of that term, else the widest of all), ``final_loss``,
    ``accuracy`` or ``chapter_accuracy``."""
    if kind.startswith("first_epoch_loss:"):
        terms, term = MEASURED["first_epoch_loss"], kind.rsplit(":", 1)[1]
        same_term = [v for k, v in terms.items() if k.rsplit(":", 1)[1] == term]
        measured = terms.get(kind.split(":", 1)[1], max(same_term or terms.values(), default=0.0))
        return max(FLOOR["first_epoch_loss"], MARGIN * measured)
    return max(FLOOR[kind], MARGIN * (MEASURED[kind] or 0.0))


def summary(record: dict) -> dict:
    """The numbers of a stored run that this test compares."""
    stage = record.get("first_stage")
    config = record["config"]
    return {"run": f"{config['method']}/{config['model']} seed {config['seed']}",
            "first_epoch_loss": record["history"][0]["train_loss"],
            "stage_first_epoch_loss": stage["history"][0]["train_loss"] if stage else None,
            "final_loss": record["history"][-1]["train_loss"]["total"],
            "last_acc": record["last_test_acc"], "best_acc": record["best_test_acc"]}


def ensemble_summary(record: dict) -> dict:
    return {"run": f"ensemble of {record['config']['members']} {record['config']['teacher']}",
            "last_acc": record["last_test_acc"]}


def scratch_results(scratch: Path) -> dict[str, dict]:
    """Every run and ensemble record in a scratch results folder, by path (the run id is in the name)."""
    found = {str(p.relative_to(scratch)): summary(json.loads(p.read_text()))
             for p in sorted((scratch / "runs").glob("*/*/*.json"))}
    found.update({str(p.relative_to(scratch)): ensemble_summary(json.loads(p.read_text()))
                  for p in sorted((scratch / "ensembles").glob("*/*.json"))})
    return found


def differences(reference: dict, other: dict) -> dict[str, float]:
    """The difference of each kind between two summaries of the same run: accuracy in points (the
    larger of last and best epoch), losses relative, first-epoch losses per method and term."""
    out = {"accuracy": max(abs(reference[k] - other[k]) for k in ("last_acc", "best_acc") if k in reference)}
    if "final_loss" in reference:
        out["final_loss"] = abs(other["final_loss"] - reference["final_loss"]) / abs(reference["final_loss"])
        for field in ("first_epoch_loss", "stage_first_epoch_loss"):
            for term, value in (reference[field] or {}).items():
                kind = f"first_epoch_loss:{reference['run'].split('/')[0]}:{term}"
                difference = abs(other[field][term] - value) / max(abs(value), 1e-12)
                out[kind] = max(out.get(kind, 0.0), difference)
    return out


def chapter_accuracy(runs: dict[str, dict]) -> float:
    """The mean last-epoch test accuracy of a chapter's runs: one run is chaotic, their mean much less."""
    return sum(run["last_acc"] for run in runs.values()) / len(runs)


def execute(chapter: str, scratch: Path, out: Path) -> None:
    """Run ``chapter`` at the smoke profile with papermill; its results go to ``scratch``."""
    args = [sys.executable, "-m", "papermill", "--no-progress-bar", "-k", "python3",
            str(ROOT / "notebooks" / f"{chapter}.ipynb"), str(out), "-f", str(PARAMETERS), "-p", "fresh_results", "True"]
    env = {**os.environ, "KDSRC_FRESH_RESULTS": str(scratch)}
    done = subprocess.run(args, capture_output=True, text=True, cwd=out.parent, env=env)
    errors = [o for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"] if out.exists() else []
    assert done.returncode == 0 and not errors, \
        f"{chapter} failed at smoke scale:\n{done.stderr[-3000:]}\n" + "\n".join(e.evalue for e in errors)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke-results")


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text()) if REFERENCE.exists() and not RECORD else {"chapters": {}}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_retrains_at_smoke_scale_within_the_measured_bands(chapter, scratch, reference, tmp_path):
    before = set(scratch_results(scratch))
    execute(chapter, scratch, tmp_path / f"{chapter}.ipynb")
    found = scratch_results(scratch)
    if RECORD:
        reference["chapters"][chapter] = {k: v for k, v in found.items() if k not in before}
        reference["recorded_on"] = _machine()
        Path(RECORD).write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n")
        return
    known = {k: v for runs in reference["chapters"].values() for k, v in runs.items()}
    unexpected = sorted(set(found) - set(known))
    assert not unexpected, f"{chapter} trained runs the reference does not know (a changed configuration?): " \
                           f"{unexpected}; re-record with `make regression-notebooks` if intended"
    missing = sorted(set(reference["chapters"][chapter]) - set(found))
    assert not missing, f"{chapter} no longer trains {missing}"
    outside = [f"{known[k]['run']} ({k}): {kind} differs by {value:.4g} > {band(kind):.4g}"
               for k in found for kind, value in differences(known[k], found[k]).items() if value > band(kind)]
    recorded = reference["chapters"][chapter]
    if recorded:
        mean = abs(chapter_accuracy({k: found[k] for k in recorded}) - chapter_accuracy(recorded))
        if mean > band("chapter_accuracy"):
            outside.append(f"the mean last-epoch accuracy of its {len(recorded)} runs differs by {mean:.4g} "
                           f"> {band('chapter_accuracy'):.4g}")
    assert not outside, f"{chapter}: retrained numbers outside the bands:\n" + "\n".join(outside)


def test_the_measured_spreads_written_here_are_the_stored_measurement():
    largest = json.loads(SPREAD.read_text())["largest"]
    stored = {"first_epoch_loss": {kind.split(":", 1)[1]: round(v["value"], 4) for kind, v in largest.items()
                                   if kind.startswith("first_epoch_loss:")},
              **{kind: round(largest[kind]["value"], 4) for kind in ("final_loss", "accuracy", "chapter_accuracy")}}
    assert stored == MEASURED, "copy tests/notebooks/smoke_spread.json's largest differences into MEASURED"


def _machine() -> dict:
    import torch

    from kdsrc.engine import provenance
    return {**provenance.hardware("cpu"), "torch": torch.__version__}
