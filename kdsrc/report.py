"""The book's reproducibility report: for every page, the stored runs it read when the book was
built (the read logs ``make notebooks`` keeps, :func:`kdsrc.store.log_read`), and where each of
them comes from: training revision, code version, hardware, libraries, seeds, training time."""
from pathlib import Path

import pandas as pd

from . import store

REPOSITORY = store.REPO_RESULTS.parent
# Where `make notebooks` keeps one read log per page (the Makefile's $(STAGE)/reads).
READ_LOGS = REPOSITORY / "_build" / "book" / "reads"


def _folder(page: str) -> str:
    """Where a page's source lives: a chapter (``NN_name``) in notebooks/, any other page in book/."""
    return "notebooks" if page[:1].isdigit() else "book"


def page_title(page: str) -> str:
    """A page's title as the book shows it (the first heading of its source), a chapter's with its
    number: ``"2. Vanilla knowledge distillation"``."""
    source = REPOSITORY / _folder(page) / f"{page}.py"
    heading = next((line.removeprefix("# # ") for line in source.read_text(encoding="utf8").splitlines()
                    if line.startswith("# # ")), page) if source.exists() else page
    heading = page if "{glue" in heading else heading  # a title computed when the page runs
    return f"{int(page[:2])}. {heading}" if page[:2].isdigit() else heading


def page_reads(folder: Path | None = None, profile: str | None = None) -> dict[str, list[dict]]:
    """Per page (its log's name), the run records (of ``profile``, if given) it read, each once,
    in the order first read; ensemble records (an average of member runs, logged with them) are
    left out."""
    folder = Path(folder or READ_LOGS)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_logs: no folder {folder}; `make book` writes the pages' read logs there")
    reads = {}
    for log in sorted(folder.glob("*.txt")):
        records = [store.read_run(path) for path in store.read_log(log) if path.exists()]
        reads[log.stem] = [r for r in records if "member_run_ids" not in r
                           and (profile is None or r["config"]["profile"] == profile)]
    return reads


def _revision(record: dict) -> int:
    return record.get("training_revision", 1)


def _hardware(record: dict) -> str:
    hw = record.get("hardware", {})
    return f"{hw.get('cpu', '?')} ({hw.get('device', '?')}, {hw.get('torch_threads', '?')} threads)"


def _joined(values) -> str:
    return ", ".join(str(v) for v in sorted(set(values)))


def provenance_table(reads: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per page (:func:`page_title`): how many runs it read, their seeds, training
    revisions, code versions (distinct commits, and whether any was trained from uncommitted
    code), hardware, PyTorch versions, training hours (the sessions' wall time, summed), and the
    command that retrains them all in a fresh folder; a last row for the book, each run counted once."""
    rows = []
    everything = {r["run_id"]: r for records in reads.values() for r in records}
    for page, records in [*reads.items(), ("the whole book", list(everything.values()))]:
        commits = {r.get("code", {}).get("git_commit", "unknown")[:10] for r in records}
        dirty = any(r.get("code", {}).get("kdsrc_dirty") for r in records)
        rows.append({
            "page": page if page == "the whole book" else page_title(page), "runs": len(records), "seeds": _joined(r["config"]["seed"] for r in records),
            "training revision": _joined(_revision(r) for r in records),
            "code versions": f"{len(commits)} commit{'s' if len(commits) != 1 else ''}"
                             + (" (one with uncommitted changes)" if dirty else ""),
            "hardware": _joined(_hardware(r) for r in records),
            "PyTorch": _joined(r.get("libraries", {}).get("torch", "?") for r in records),
            "training hours": round(sum(r.get("wall_seconds_this_session", 0.0) for r in records) / 3600, 2),
            "retrain": "" if page == "the whole book" else retrain_command(page)})
    return pd.DataFrame(rows)


def retrain_command(page: str) -> str:
    """The command that trains every run of a chapter anew, in a temporary folder."""
    return f"papermill {_folder(page)}/{page}.ipynb out.ipynb -p fresh_results True"


def run_table(reads: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per page and run it read: the run's method, networks, seed, id, training revision,
    code commit, hardware and when it finished."""
    return pd.DataFrame([{"page": page, "method": r["config"]["method"], "model": r["config"]["model"],
                          "teacher": r["config"].get("teacher") or "", "seed": r["config"]["seed"],
                          "run id": r["run_id"], "training revision": _revision(r),
                          "code": r.get("code", {}).get("git_commit", "unknown")[:10], "hardware": _hardware(r),
                          "finished (UTC)": r.get("finished_utc", "")}
                         for page, records in reads.items() for r in records])
