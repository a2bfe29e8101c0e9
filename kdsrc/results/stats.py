"""Paired differences over seeds and their confidence intervals: what a claim that one setting
"beats" another must stand on."""
import math

import pandas as pd


def _t_density(x: float, df: int) -> float:
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))


def _t_cdf_above_half(x: float, df: int, steps: int = 2000) -> float:
    """P(T <= x) for x >= 0: one half plus the density's integral over [0, x] (Simpson's rule)."""
    h = x / steps
    inner = sum((4 if k % 2 else 2) * _t_density(k * h, df) for k in range(1, steps))
    return 0.5 + h / 3 * (_t_density(0.0, df) + inner + _t_density(x, df))


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (``p`` in [0.5, 1)) of Student's t distribution with ``df`` degrees of
    freedom, by bisection on its distribution function."""
    if not 0.5 <= p < 1 or df < 1:
        raise ValueError(f"t_quantile: needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    low, high = 0.0, 1.0
    while _t_cdf_above_half(high, df) < p:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_cdf_above_half(mid, df) < p else (low, mid)
    return (low + high) / 2


def paired_difference(values: pd.Series, baseline: pd.Series, level: float = 0.95) -> dict[str, float]:
    """The difference ``values - baseline`` paired by index (the seed), over the seeds both have:
    its mean, sample standard deviation, number of pairs, and the ``level`` t-interval of the
    mean (NaN with fewer than two pairs)."""
    diff = (values - baseline).dropna()
    n = len(diff)
    mean, std = diff.mean(), diff.std()
    half = t_quantile((1 + level) / 2, n - 1) * std / math.sqrt(n) if n > 1 else math.nan
    return {"mean": mean, "std": std, "n": n, "low": mean - half, "high": mean + half}


def verdict(difference: dict[str, float]) -> str:
    """What a paired difference supports: ``higher`` or ``lower`` when its interval excludes zero,
    else ``within noise``."""
    if difference["low"] > 0:
        return "higher"
    if difference["high"] < 0:
        return "lower"
    return "within noise"


def paired_gains(frame: pd.DataFrame, baseline: str, metric: str = "last_acc", level: float = 0.95) -> pd.DataFrame:
    """Every labelled group of ``frame`` (its ``run`` column, as :func:`kdsrc.results.compare`
    makes it) against the ``baseline`` group, seed by seed: the number of pairs, the mean paired
    difference of ``metric`` ± its sample std, its ``level`` t-interval and :func:`verdict`."""
    wide = frame.pivot_table(index="seed", columns="run", values=metric, sort=False)
    rows = []
    for run in wide.columns.drop(baseline):
        d = paired_difference(wide[run], wide[baseline], level)
        rows.append({"run": run, "pairs": d["n"], "paired gain": f"{d['mean']:+.2f} ± {d['std']:.2f}",
                     f"{level:.0%} CI": f"[{d['low']:+.2f}, {d['high']:+.2f}]", "verdict": verdict(d),
                     "mean": d["mean"], "low": d["low"], "high": d["high"]})
    return pd.DataFrame(rows)
