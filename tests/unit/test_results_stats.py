"""Paired differences and t-intervals, against values computed by hand and from tables."""
import math

import pandas as pd
import pytest

from kdsrc import results
from kdsrc.results import stats


@pytest.mark.parametrize("df, quantile", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)])
def test_t_quantiles_match_the_printed_table(df, quantile):
    assert stats.t_quantile(0.975, df) == pytest.approx(quantile, abs=2e-4)


def test_the_t_distribution_with_one_degree_of_freedom_is_cauchy():
    assert stats.t_quantile(0.75, 1) == pytest.approx(math.tan(math.pi / 4), abs=1e-6)


def test_a_paired_difference_pairs_by_seed_and_gives_the_t_interval():
    a = pd.Series({0: 81.0, 1: 82.0, 2: 81.5, 3: 99.0})
    b = pd.Series({0: 80.0, 1: 80.0, 2: 80.0})  # seed 3 has no pair
    d = stats.paired_difference(a, b)
    diffs = [1.0, 2.0, 1.5]
    mean, std = sum(diffs) / 3, math.sqrt(sum((x - 1.5) ** 2 for x in diffs) / 2)
    assert (d["n"], d["mean"], d["std"]) == (3, pytest.approx(mean), pytest.approx(std))
    assert d["high"] - d["mean"] == pytest.approx(4.3027 * std / math.sqrt(3), rel=1e-4)
    assert stats.verdict(d) == "higher" and stats.verdict({**d, "low": -0.1}) == "within noise"
    assert stats.verdict(stats.paired_difference(b, a)) == "lower"


def test_one_pair_has_no_interval_and_bad_quantiles_are_refused():
    d = stats.paired_difference(pd.Series({0: 1.0}), pd.Series({0: 0.0}))
    assert math.isnan(d["low"]) and stats.verdict(d) == "within noise"
    with pytest.raises(ValueError, match="t_quantile: needs 0.5 <= p < 1"):
        stats.t_quantile(1.0, 3)


def test_paired_gains_set_every_group_against_the_baseline_seed_by_seed():
    frame = pd.DataFrame([{"run": r, "seed": s, "last_acc": v} for r, vals in
                          {"alone": [80.0, 81.0, 79.0], "kd": [82.0, 83.5, 80.5], "same": [80.5, 80.0, 79.5]}.items()
                          for s, v in enumerate(vals)])
    table = results.paired_gains(frame, baseline="alone").set_index("run")
    assert list(table.index) == ["kd", "same"] and table.at["kd", "pairs"] == 3
    assert table.at["kd", "paired gain"] == "+2.00 ± 0.50" and table.at["kd", "verdict"] == "higher"
    assert table.at["same", "verdict"] == "within noise"
    assert table.at["kd", "95% CI"] == f"[{2 - 4.3027 * 0.5 / 3 ** 0.5:+.2f}, {2 + 4.3027 * 0.5 / 3 ** 0.5:+.2f}]"
