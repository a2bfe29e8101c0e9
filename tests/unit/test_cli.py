"""``python -m kdsrc``: help, list, a real training run, and one-line errors that leave no files."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kdsrc import results
from kdsrc.config import make_config
from kdsrc.distillers import METHODS

ROOT = Path(__file__).resolve().parents[2]
TINY_SETS = ["--set", "epochs=1", "--set", "train_subset=100", "--set", "test_subset=100"]


def kdsrc(*args):
    return subprocess.run([sys.executable, "-m", "kdsrc", *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def files_under(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else []


def assert_one_line_error(proc, name):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"kdsrc: error: {name}:"), lines[0]


def test_help_exits_zero():
    proc = kdsrc("--help")
    assert proc.returncode == 0 and "train" in proc.stdout and "list" in proc.stdout


def test_list_prints_methods_models_and_profiles():
    proc = kdsrc("list")
    assert proc.returncode == 0
    lines = dict(line.split(": ", 1) for line in proc.stdout.strip().splitlines())
    assert lines["methods"].split(", ") == list(METHODS)
    assert {"resnet8", "resnet32x4", "wrn_40_2"} <= set(lines["models"].split(", "))
    assert lines["profiles"].split(", ") == ["smoke", "cpu", "paper"]


@pytest.mark.parametrize("args,name", [
    (["--method", "nope"], "method"),
    (["--method", "kd", "--set", "model=foo"], "model"),
    (["--method", "kd", "--profile", "nope"], "profile"),
    (["--method", "kd", "--set", "temperature=-1"], "temperature"),
    (["--method", "kd", "--set", "kd_weight=-0.5"], "kd_weight"),
    (["--method", "kd", "--set", "nope=1"], "nope"),
    (["--method", "kd", "--set", "epochs"], "--set"),
    (["--method", "dhkd", "--set", "aux_head=mlp"], "aux_head"),
    (["--method", "dhkd", "--set", "temperature=0"], "temperature"),
    (["--method", "dhkd", "--set", "kd_weight=-1"], "kd_weight"),
    (["--method", "ce_binary_kl", "--set", "temperature=-2"], "temperature"),
    (["--method", "srrl", "--set", "sr_weight=-1"], "sr_weight"),
    (["--method", "srrl", "--set", "form=kl"], "form"),
    (["--method", "kd", "--set", "mixing=mosaic"], "mixing"),
    (["--method", "kd", "--set", "teacher_ensemble=0"], "teacher_ensemble"),
    (["--method", "fitnets", "--set", "teacher_ensemble=2"], "teacher"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_parameter_exits_with_one_line_naming_it_and_writes_nothing(tmp_path, args, name):
    proc = kdsrc("train", "--profile", "smoke", *args, "--results", tmp_path / "results")
    assert_one_line_error(proc, name)
    assert files_under(tmp_path / "results") == []


@pytest.mark.parametrize("pair", ["seed=3", "method=vanilla"])
def test_set_of_a_flag_parameter_is_not_a_traceback(tmp_path, pair):
    proc = kdsrc("train", "--method", "kd", "--profile", "smoke", "--set", pair, "--set", "epochs=0",
                 "--results", tmp_path)
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("kdsrc: error:")


TINY_VANILLA = make_config("vanilla", "smoke", epochs=1, train_subset=100, test_subset=100)


def test_corrupt_stored_run_is_a_one_line_error_and_is_left_alone(tmp_path):
    path = results.run_path(TINY_VANILLA, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    proc = kdsrc("train", "--method", "vanilla", "--profile", "smoke", *TINY_SETS, "--results", tmp_path)
    assert_one_line_error(proc, "stored run")
    assert str(path) in proc.stderr
    assert files_under(tmp_path) == [path] and path.read_text() == "{ not json"


def _truncated_checkpoint(path):
    torch.save({"model": {"w": torch.zeros(1000)}, "history": []}, path)
    path.write_bytes(path.read_bytes()[:500])


def _garbage_checkpoint(path):
    path.write_bytes(b"not a checkpoint\n" * 10)


@pytest.mark.parametrize("corrupt", [
    _truncated_checkpoint,
    _garbage_checkpoint,
], ids=["truncated", "garbage"])
def test_corrupt_checkpoint_is_a_one_line_error(tmp_path, corrupt):
    path = tmp_path / "checkpoints" / results.run_path(TINY_VANILLA, tmp_path).relative_to(tmp_path / "runs")
    path = path.with_suffix(".ckpt")
    path.parent.mkdir(parents=True)
    corrupt(path)
    proc = kdsrc("train", "--method", "vanilla", "--profile", "smoke", *TINY_SETS, "--results", tmp_path)
    assert_one_line_error(proc, "checkpoint")
    assert str(path) in proc.stderr
    assert files_under(tmp_path) == [path]


def test_train_kd_prints_a_json_line_and_stores_the_run(tmp_path):
    proc = kdsrc("train", "--method", "kd", "--profile", "smoke", *TINY_SETS, "--set", "teacher_epochs=1",
                 "--set", "teacher_train_subset=100", "--results", tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 <= line["last_test_acc"] <= 100 and line["best_epoch"] == 1
    stored = json.loads(Path(line["run"]).read_text())
    assert Path(line["run"]).parent == tmp_path / "runs" / "smoke" / "kd"
    assert stored["last_test_acc"] == line["last_test_acc"] and stored["config"]["method"] == "kd"


@pytest.mark.parametrize("args,name", [
    (["method", "--method", "nope"], "method"), (["costs", "--profile", "nope"], "profile"),
    (["costs", "--epochs", "0"], "epochs"), (["pairs", "--steps", "0"], "steps"), (["nope"], "kind"),
    (["costs", "--steps", "5"], "unrecognized arguments"), (["costs", "--costs"], "unrecognized arguments")],
    ids=["method", "profile", "epochs", "steps", "kind", "other-kinds-option", "old-flag"])
def test_bench_bad_parameter_is_one_line_naming_it_and_writes_nothing(tmp_path, args, name):
    """Each kind of benchmark is a sub-command with its own options, so no flag silently wins over another."""
    proc = kdsrc("bench", *args, "--results", tmp_path / "results")
    assert_one_line_error(proc, name)
    assert files_under(tmp_path / "results") == []


REPRODUCE_SMALL = ["reproduce", "--pairs", "resnet56:resnet20", "--methods", "vanilla,kd", "--seeds", "1"]


@pytest.mark.parametrize("how", ["flag", "set"])
def test_reproduce_dry_run_without_cifar_shows_the_plan_then_one_line_naming_data_root(tmp_path, how):
    empty = tmp_path / "no-cifar"
    empty.mkdir()
    root = ["--data-root", empty] if how == "flag" else ["--set", f"data_root={empty}"]
    proc = kdsrc(*REPRODUCE_SMALL, *root, "--dry-run", "--results", tmp_path / "results")
    assert proc.returncode == 2
    assert_one_line_error(proc, "--data-root")
    assert f"{empty} holds no cifar-100-python/train" in proc.stderr
    assert proc.stdout.startswith("plan: 3 runs of the paper profile") and "run_id" in proc.stdout
    assert files_under(tmp_path) == []


def test_reproduce_without_cifar_fails_in_one_line_before_printing_or_writing(tmp_path):
    empty = tmp_path / "no-cifar"
    empty.mkdir()
    proc = kdsrc(*REPRODUCE_SMALL, "--data-root", empty, "--device", "cpu", "--results", tmp_path / "results")
    assert proc.returncode == 2
    assert_one_line_error(proc, "--data-root")
    assert "cifar-100-python/train" in proc.stderr and proc.stdout == ""
    assert files_under(tmp_path) == []


def test_reproduce_dry_run_with_a_cifar_root_exits_zero(cifar_root, tmp_path):
    proc = kdsrc(*REPRODUCE_SMALL, "--data-root", cifar_root, "--dry-run", "--results", tmp_path / "results")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout.startswith("plan: 3 runs")
    assert not (tmp_path / "results").exists()


def test_an_interrupted_training_says_so_in_one_line_and_resumes_when_run_again(tmp_path):
    """Ctrl-C during training: no traceback, exit 130, and the same command then finishes the run
    from its checkpoint."""
    import signal
    import time
    command = [sys.executable, "-m", "kdsrc", "train", "--method", "vanilla", "--profile", "smoke", "--set", "epochs=30",
               "--results", str(tmp_path)]
    # a shell's background job (CI's, say) starts with SIGINT ignored, which Python keeps: restore it
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(tmp_path.rglob("*.ckpt")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # until the first epoch's checkpoint is written: training is under way
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["kdsrc: interrupted; the same command resumes from the last stored epoch"]
    assert not list(tmp_path.rglob("*.json"))  # no run is stored half-trained
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["best_epoch"] >= 1
