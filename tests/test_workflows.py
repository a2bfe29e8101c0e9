"""The GitHub Actions workflows pass actionlint, and the book's staged ``_config.yml`` takes its
repository from ``GITHUB_REPOSITORY`` (and names none without it)."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
BIN = Path(sys.executable).parent  # the test extra installs actionlint and shellcheck beside python


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} not found: install the test extra (pip install -e '.[test]')"
    return found


def actionlint(*paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """actionlint on ``paths``, with the shellcheck of the test extra on the ``run:`` scripts (the same
    findings here and on a GitHub runner, which has its own shellcheck). No pyflakes: no step runs Python."""
    return subprocess.run([_tool("actionlint"), "-no-color", "-oneline", f"-shellcheck={_tool('shellcheck')}",
                           "-pyflakes=", *map(str, paths)], cwd=cwd, capture_output=True, text=True)


def test_the_workflows_are_there():
    assert {path.name for path in WORKFLOWS} >= {"test.yml", "book.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_has_no_actionlint_finding(workflow):
    proc = actionlint(workflow)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


BROKEN = """\
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    needs: [nowhere]
    steps:
      - uses: actions/setup-python@v6
        with:
          pyhton-version: "3.11"
      - run: echo ${{ github.no_such_context }}
      - run: cd $DIR && ls
"""


def test_actionlint_reports_each_mistake_of_a_broken_workflow(tmp_path):
    workflow = tmp_path / ".github" / "workflows" / "broken.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(BROKEN)
    proc = actionlint(workflow, cwd=tmp_path)
    findings = proc.stdout.strip().splitlines()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rules = {line.rsplit("[", 1)[-1].rstrip("]") for line in findings}
    assert {"job-needs", "action", "expression", "shellcheck"} <= rules, findings
    assert any('"pyhton-version" is not defined' in line for line in findings)
    assert any("SC2086" in line for line in findings)  # shellcheck did run on the run: scripts


# --- the staged _config.yml ------------------------------------------------------------------

def _stage(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    (tmp_path / "_toc.yml").write_text((ROOT / "_toc.yml").read_text())
    return subprocess.run([sys.executable, str(ROOT / ".ci" / "book_config.py"), str(ROOT / "_config.yml"),
                           str(tmp_path / "_config.yml")], env={**clean, **env}, capture_output=True, text=True)


def _theme_options(stage: Path) -> str:
    """The html_theme_options line of the conf.py jupyter-book derives from the staged config."""
    subprocess.run([str(BIN / "jupyter-book"), "config", "sphinx", str(stage)], check=True, capture_output=True)
    return next(line for line in (stage / "conf.py").read_text().splitlines() if line.startswith("html_theme_options"))


def test_config_names_no_repository():
    text = (ROOT / "_config.yml").read_text()
    assert "github.com" not in text and "repository" not in yaml.safe_load(text)


def test_staged_config_takes_the_repository_from_GITHUB_REPOSITORY(tmp_path):
    proc = _stage(tmp_path, GITHUB_REPOSITORY="someone/kd-fork", GITHUB_REF_NAME="main", GITHUB_HEAD_REF="")
    assert proc.returncode == 0, proc.stderr
    source, staged = (yaml.safe_load(path.read_text()) for path in (ROOT / "_config.yml", tmp_path / "_config.yml"))
    assert staged["repository"] == {"url": "https://github.com/someone/kd-fork", "path_to_book": "", "branch": "main"}
    assert staged["html"]["use_repository_button"] and staged["html"]["use_issues_button"]
    assert staged["parse"]["myst_substitutions"]["clone_url"] == "https://github.com/someone/kd-fork.git"
    assert {**staged["parse"], "myst_substitutions": source["parse"]["myst_substitutions"]} == source["parse"]
    assert {k: v for k, v in staged.items() if k not in ("repository", "html", "parse", "sphinx")} == \
        {k: v for k, v in source.items() if k not in ("parse", "sphinx")}
    assert staged["sphinx"] == _with_served_mathjax(source)["sphinx"]
    options = _theme_options(tmp_path)
    assert "'repository_url': 'https://github.com/someone/kd-fork'" in options
    assert "'use_repository_button': True" in options and "'use_issues_button': True" in options


def test_staged_config_of_a_pull_request_links_its_branch(tmp_path):
    assert _stage(tmp_path, GITHUB_REPOSITORY="someone/kd-fork", GITHUB_REF_NAME="7/merge",
                  GITHUB_HEAD_REF="fix-typo").returncode == 0
    assert yaml.safe_load((tmp_path / "_config.yml").read_text())["repository"]["branch"] == "fix-typo"


def _book_config():
    spec = importlib.util.spec_from_file_location("book_config", ROOT / ".ci" / "book_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_served_mathjax(config: dict) -> dict:
    """``config`` as staged where the test set-up's MathJax package is installed (it is: the book extra)."""
    sphinx = config["sphinx"]
    return {**config, "sphinx": {**sphinx, "config": {**sphinx["config"], "html_extra_path": ["_mathjax"],
                                                      "mathjax_path": "mathjax/tex-mml-chtml.js"}}}


def test_staged_config_without_GITHUB_REPOSITORY_is_the_config_and_has_no_buttons(tmp_path):
    assert _stage(tmp_path).returncode == 0
    source = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert yaml.safe_load((tmp_path / "_config.yml").read_text()) == _with_served_mathjax(source)
    options = _theme_options(tmp_path)
    assert "use_repository_button': True" not in options and "use_issues_button': True" not in options


def test_the_staged_book_serves_mathjax_and_its_fonts_itself(tmp_path):
    assert _stage(tmp_path).returncode == 0
    served = tmp_path / "_mathjax" / "_static" / "mathjax"
    assert (served / "tex-mml-chtml.js").stat().st_size > 500_000
    assert list((served / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_Main-Regular.woff"))
    assert (served / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()


def test_without_the_mathjax_package_the_book_keeps_the_cdn(tmp_path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert _book_config().served_mathjax(config, tmp_path, None) is config
    assert not (tmp_path / "_mathjax").exists()


def test_staged_config_refuses_a_malformed_GITHUB_REPOSITORY_in_one_line(tmp_path):
    proc = _stage(tmp_path, GITHUB_REPOSITORY="not a repository")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "GITHUB_REPOSITORY" in proc.stderr
    assert not (tmp_path / "_config.yml").exists()


def test_make_book_stages_the_config_through_the_script():
    proc = subprocess.run(["make", "-n", "book"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ".ci/book_config.py _config.yml _build/book/_config.yml" in proc.stdout
    assert "cp -r _config.yml" not in proc.stdout


# --- what the workflows do -------------------------------------------------------------------

def _workflow(name: str) -> dict:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def _runs(job: dict) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def _setup_python(job: dict) -> dict:
    return next(step["with"] for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@"))


def test_pull_requests_run_make_test_with_pip_cached():
    workflow = _workflow("test.yml")
    assert "pull_request" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert _runs(job)[-1] == "make test"
    assert _setup_python(job) == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "pyproject.toml\nMakefile\n"}
    assert "--index-url https://download.pytorch.org/whl/cpu" in job["env"]["TORCH_PINS"]


def test_pushes_to_main_build_the_book_and_deploy_it_to_pages():
    workflow = _workflow("book.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow["concurrency"]["group"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "make book" in _runs(build)
    assert _setup_python(build)["cache"] == "pip"
    upload = next(step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/book/_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["environment"]["url"] == "${{ steps.deployment.outputs.page_url }}"
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]


@pytest.mark.parametrize("name", ["test.yml", "book.yml"])
def test_workflows_install_debians_fashion_mnist(name):
    (job, *_) = _workflow(name)["jobs"].values()
    assert any("sudo apt-get install -y -qq dataset-fashion-mnist" in run for run in _runs(job))


# --- the executed pages ---------------------------------------------------------------------------

def test_book_pages_hides_the_cell_papermill_injects_and_keeps_it(tmp_path):
    import nbformat
    page = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile = "paper"', metadata={"tags": ["parameters", "remove-cell"]}),
        nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(profile)")])
    path = tmp_path / "page.ipynb"
    nbformat.write(page, path)
    proc = subprocess.run([sys.executable, str(ROOT / ".ci" / "book_pages.py"), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    cells = nbformat.read(path, as_version=4).cells
    assert [c.metadata.get("tags", []) for c in cells] == [["parameters", "remove-cell"],
                                                           ["injected-parameters", "remove-cell"], []]
    assert cells[1].source == 'profile = "cpu"'


def test_make_notebooks_hides_each_executed_pages_injected_cell():
    proc = subprocess.run(["make", "-n", "notebooks"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(".ci/book_pages.py") == 2  # after the chapters' papermill, and the book pages'


def test_gpu_check_without_a_gpu_skips_the_cuda_parts_says_so_and_writes_only_its_own_folder(tmp_path):
    """`.ci/gpu-check` on a CPU machine: its CUDA tests are collected and skipped, no benchmark
    runs, and what it stores goes to its own folder, not over the book's stored benchmarks."""
    book_bench = sorted((ROOT / "results" / "bench").rglob("*.json"))
    before = {p: p.read_bytes() for p in book_bench}
    env = {**os.environ, "GPU_CHECK_OUT": str(tmp_path / "out"), "GPU_CHECK_PYTHON": sys.executable,
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(ROOT / ".ci" / "gpu-check")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no CUDA device here" in done.stdout and "skipped" in done.stdout
    assert (tmp_path / "out" / "cuda-tests.xml").exists() and not (tmp_path / "out" / "bench").exists()
    assert {p: p.read_bytes() for p in book_bench} == before


def test_gpu_train_packs_only_the_runs_it_stored_and_leaves_the_results_folder_alone(tmp_path):
    """`.ci/gpu-train` (here on a CPU, where it falls back to it): it trains a study in a scratch
    copy of the results folder without its checkpoints, packs every run it stored whole (record,
    weights, predictions) and nothing that was there before, and changes nothing it was given."""
    import tarfile
    results, out = tmp_path / "results", tmp_path / "out"
    old = results / "runs" / "cpu" / "vanilla" / "old.json"  # another profile's: the smoke study never reads it
    checkpoint = results / "checkpoints" / "smoke" / "vanilla" / "x.ckpt"
    for path, text in ((old, "{}"), (checkpoint, "partial")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    env = {**os.environ, "KDSRC_RESULTS": str(results), "GPU_TRAIN_OUT": str(out), "WORKERS": "2",
           "GPU_CHECK_PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(ROOT / ".ci" / "gpu-train"), "--profile", "smoke", "teachers"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.splitlines()[-1].startswith("gpu-train: 8 runs stored in "), done.stdout[-2000:]
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before
    parts = sorted(out.glob("runs.tar.gz.*"))
    with open(tmp_path / "runs.tar.gz", "wb") as whole:
        for part in parts:
            whole.write(part.read_bytes())
    with tarfile.open(tmp_path / "runs.tar.gz") as archive:
        names = sorted(n for n in archive.getnames() if not archive.getmember(n).isdir())
        archive.extractall(tmp_path / "unpacked", filter="data")
    records = [n for n in names if n.endswith(".json")]
    assert len(records) == 8 and all(n.startswith("runs/smoke/vanilla/") for n in names)
    assert names == sorted(r[:-len(".json")] + suffix for r in records for suffix in (".json", ".predictions.pt", ".pt"))
    assert all(json.loads((tmp_path / "unpacked" / r).read_text())["config"]["profile"] == "smoke" for r in records)


def test_gpu_train_without_a_study_says_what_to_give():
    done = subprocess.run([str(ROOT / ".ci" / "gpu-train")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "gpu-train: name at least one study (kdsrc.studies), e.g. .ci/gpu-train tuning"


def test_gpu_train_says_which_worker_failed_and_exits_non_zero(tmp_path):
    results = tmp_path / "results"
    (results / "runs" / "smoke" / "vanilla").mkdir(parents=True)
    (results / "runs" / "smoke" / "vanilla" / "broken.json").write_text("{}")  # a record the study cannot read
    env = {**os.environ, "KDSRC_RESULTS": str(results), "GPU_TRAIN_OUT": str(tmp_path / "out"), "WORKERS": "1",
           "GPU_CHECK_PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(ROOT / ".ci" / "gpu-train"), "--profile", "smoke", "teachers"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("gpu-train: failed: teachers worker 1 (exit 2: kdsrc: error: stored run: cannot read")
