"""How far the smoke runs move between machine settings: the largest difference of each kind between
any two recordings of the same run (``KDSRC_RECORD_SMOKE`` files, one per setting), as JSON.

    python tests/smoke_spread.py native.json avx2.json sse41-1-threads.json ... > smoke_spread.json

``tests/test_smoke_chapters.py`` chooses its bands from these (`make smoke-spread` runs it all).
"""
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_smoke_chapters import differences  # noqa: E402


def spread(recordings: dict[str, dict]) -> dict:
    runs = {label: {k: v for chapter in r["chapters"].values() for k, v in chapter.items()}
            for label, r in recordings.items()}
    largest = {}
    for (a, runs_a), (b, runs_b) in itertools.combinations(runs.items(), 2):
        for key in runs_a.keys() & runs_b.keys():
            for kind, value in differences(runs_a[key], runs_b[key]).items():
                if value > largest.get(kind, {"value": -1})["value"]:
                    largest[kind] = {"value": value, "run": runs_a[key]["run"], "file": key, "between": [a, b]}
    return {"settings": {label: r["recorded_on"] for label, r in recordings.items()},
            "runs": len(set.intersection(*(set(r) for r in runs.values()))), "largest": largest}


if __name__ == "__main__":
    recordings = {Path(p).stem: json.loads(Path(p).read_text()) for p in sys.argv[1:]}
    print(json.dumps(spread(recordings), indent=1, sort_keys=True))
