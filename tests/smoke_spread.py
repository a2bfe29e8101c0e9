"""How far the smoke runs move between machine settings: the largest difference of each kind between
any two recordings of the same runs (``KDSRC_RECORD_SMOKE`` files, one per setting), as JSON.

    python tests/smoke_spread.py native.json avx2.json sse41-1-threads.json ... > smoke_spread.json

``tests/test_smoke_chapters.py`` chooses its bands from these (`make smoke-spread` runs it all).
"""
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_smoke_chapters import chapter_accuracy, differences  # noqa: E402


def _keep(largest: dict, kind: str, value: float, where: dict) -> None:
    if value > largest.get(kind, {"value": -1.0})["value"]:
        largest[kind] = {"value": value, **where}


def spread(recordings: dict[str, dict]) -> dict:
    largest = {}
    for (a, one), (b, other) in itertools.combinations(recordings.items(), 2):
        for chapter, runs in one["chapters"].items():
            shared = runs.keys() & other["chapters"].get(chapter, {}).keys()
            for key in shared:
                for kind, value in differences(runs[key], other["chapters"][chapter][key]).items():
                    _keep(largest, kind, value, {"run": runs[key]["run"], "file": key, "between": [a, b]})
            if shared:
                mean = abs(chapter_accuracy({k: runs[k] for k in shared})
                           - chapter_accuracy({k: other["chapters"][chapter][k] for k in shared}))
                _keep(largest, "chapter_accuracy", mean, {"chapter": chapter, "runs": len(shared), "between": [a, b]})
    runs = {label: {k for chapter in r["chapters"].values() for k in chapter} for label, r in recordings.items()}
    return {"settings": {label: {"recorded_on": r["recorded_on"], "runs": len(runs[label])}
                         for label, r in recordings.items()}, "largest": largest}


if __name__ == "__main__":
    recordings = {Path(p).stem: json.loads(Path(p).read_text()) for p in sys.argv[1:]}
    print(json.dumps(spread(recordings), indent=1, sort_keys=True))
