"""The convergence table and the training length it supports, on frames made by hand."""
import pandas as pd
import pytest
import torch

from kdsrc import results


def _frame(values):
    """values: {(method, epochs): [val acc of seeds 0, 1, 2]}; test accuracy = val + 1."""
    return pd.DataFrame([{"method": m, "epochs": e, "seed": s, "val_acc": v, "last_acc": v + 1}
                         for (m, e), vals in values.items() for s, v in enumerate(vals)])


def test_the_change_at_double_length_is_held_against_the_larger_seed_spread():
    table = results.convergence_table(_frame({
        ("kd", 10): [80.0, 81.0, 82.0], ("kd", 20): [84.0, 84.5, 85.0], ("kd", 40): [84.3, 84.8, 85.3],
        ("vanilla", 10): [78.0, 78.0, 78.0], ("vanilla", 20): [79.0, 79.0, 79.0], ("vanilla", 40): [79.2, 79.3, 79.4]}))
    kd = table[table.method == "kd"].set_index("epochs")
    assert kd.at[10, "change at 2E"] == pytest.approx(3.5) and kd.at[10, "seed spread"] == pytest.approx(1.0)
    assert kd.at[10, "settled"] == False and kd.at[20, "settled"] == True  # noqa: E712 (pandas objects)
    assert pd.isna(kd.at[40, "change at 2E"]) and pd.isna(kd.at[40, "settled"])
    assert kd.at[20, "test_mean"] == pytest.approx(85.5)
    # the student alone at 20 -> 40 moves 0.3 against a spread of 0.1: not settled, so 20 is not the pick
    assert results.settled_epochs(table) is None
    # KD alone has settled at 20; the student alone never does within the lengths run
    assert results.settled_epochs(table, methods=["kd"]) == 20
    assert results.settled_epochs(table, methods=["vanilla"]) is None
    with pytest.raises(ValueError, match=r"settled_epochs: methods must be among the table's \['kd', 'vanilla'\], got \['dkd'\]"):
        results.settled_epochs(table, methods=["kd", "dkd"])


def test_the_profile_length_is_the_shortest_at_which_every_method_has_settled():
    table = results.convergence_table(_frame({
        ("kd", 10): [80.0, 81.0, 82.0], ("kd", 20): [84.0, 84.5, 85.0], ("kd", 40): [84.3, 84.8, 85.3],
        ("vanilla", 10): [78.0, 79.0, 80.0], ("vanilla", 20): [79.0, 79.5, 80.0], ("vanilla", 40): [79.2, 79.6, 80.0]}))
    assert results.settled_epochs(table) == 20


def test_agreement_is_the_share_of_equal_predictions():
    a, b = torch.tensor([1, 2, 3, 4], dtype=torch.uint8), torch.tensor([1, 2, 0, 4], dtype=torch.uint8)
    assert results.agreement(a, b) == 75.0 and results.agreement(a, a) == 100.0
    with pytest.raises(ValueError, match="agreement: predictions of"):
        results.agreement(a, b[:3])


def test_the_plateau_gain_is_what_the_last_fifth_of_the_epochs_added():
    run = {"history": [{"epoch": e, "val_acc": v} for e, v in enumerate([80, 85, 88, 90, 91, 91.5, 92, 92.1, 92.2, 92.3], 1)]}
    assert results.plateau_gain(run) == pytest.approx(92.3 - 92.1)  # epochs 9-10 are the last fifth; epoch 8 before
    assert results.plateau_gain(run, fraction=0.5) == pytest.approx(92.3 - 91)
    sparse = {"history": [{"epoch": e, "val_acc": v if e % 5 == 0 else None} for e, v in enumerate(range(1, 11), 1)]}
    assert results.plateau_gain(sparse) == 10 - 5
    with pytest.raises(ValueError, match="plateau_gain: no evaluated epoch before"):
        results.plateau_gain({"history": [{"epoch": 1, "val_acc": None}, {"epoch": 2, "val_acc": 3.0}]}, fraction=0.5)
