"""The chapters' comparison table and cost table, on hand-made runs."""
from kdsrc import results
from kdsrc.results import compare, cost


def _run(method, model, seed, acc, sec):
    return {"config": {"method": method, "model": model, "teacher": None, "seed": seed, "method_params": {},
                       "epochs": 2},
            "last_test_acc": acc, "best_test_acc": acc, "best_epoch": 2, "seconds_per_epoch": sec,
            "peak_memory_mb": 1.0, "parameters": 1, "run_id": f"{method}{seed}",
            "history": [{"train_loss": {"total": 0.5}}]}


def test_compare_gives_paired_gains_for_the_students_only():
    teacher = [_run("vanilla", "big", 0, 90.0, 10.0)]
    alone = [_run("vanilla", "small", s, acc, 2.0) for s, acc in enumerate([70.0, 72.0])]
    kd = [_run("kd", "small", s, acc, 3.0) for s, acc in enumerate([73.0, 74.0])]
    frame, table = compare({"teacher": teacher, "student alone": alone, "student + KD": kd})
    assert list(frame.run) == ["teacher", "student alone", "student alone", "student + KD", "student + KD"]
    assert list(table["paired gain over alone"]) == ["", "", "2.50 ± 0.71"]
    assert list(table["last acc (%)"]) == ["90.00", "71.00 ± 1.41", "73.50 ± 0.71"]
    ratios = cost(frame)
    assert list(ratios.index) == ["student alone", "student + KD"] and list(ratios["ratio to alone"]) == [1.0, 1.5]


def test_cited_ild_rows_name_the_same_pairs_as_the_cited_kd_rows():
    """A cited method row joins its pair's teacher and student rows only if the names agree."""
    kd, ild = results.reference("kd"), results.reference("ild")
    crd = lambda frame: set(map(tuple, frame[frame.paper.str.contains("CRD")][["table", "teacher", "student"]].values))  # noqa: E731
    assert crd(ild) <= crd(kd), sorted(crd(ild) - crd(kd))
