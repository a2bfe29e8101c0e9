"""Paired differences and t-intervals, against values computed by hand and from tables."""
import math

import pandas as pd
import pytest

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
