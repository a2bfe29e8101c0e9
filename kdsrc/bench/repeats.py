"""Benchmarks on a shared, noisy machine: the compared modes measured in turns, round after round,
each comparison a ratio within one round, reported as median and range.

A machine's speed drifts while a benchmark runs (other jobs, clocks, caches), so one mode timed
after another can differ by the drift alone. Measuring every mode once per round, in an order
that rotates from round to round, and dividing within the round keeps the drift out of the
ratios; the spread over rounds says how far a ratio can be trusted.
"""
import statistics
import sys
from collections.abc import Callable
from typing import Any

from ..validate import require_int

REPEATS = 3
# A ratio whose range over the rounds, (max - min) / median, is wider than this is flagged unsteady.
STEADY_BAND = 0.10


def interleaved(modes: dict[str, Callable[[], Any]], repeats: int = REPEATS) -> list[dict[str, Any]]:
    """One dict per round of every mode's measurement (a rate, say), in the modes' order: the
    modes run in turns, the order rotated by one each round so that no mode is always first or last."""
    require_int("repeats", repeats, minimum=1)
    names = list(modes)
    rounds = []
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        measured = {name: modes[name]() for name in order}
        rounds.append({name: measured[name] for name in names})
    return rounds


def spread(values: list[float], band: float = STEADY_BAND) -> dict:
    """Median, minimum, maximum and every value of a repeated measurement; ``unsteady`` when the
    range is wider than ``band`` of the median."""
    median = statistics.median(values)
    relative = (max(values) - min(values)) / median if median else float("inf")
    return {"median": median, "min": min(values), "max": max(values), "values": list(values),
            "relative_range": relative, "unsteady": relative > band}


def round_ratios(rounds: list[dict[str, float]], numerator: str, denominator: str) -> dict:
    """:func:`spread` of ``numerator / denominator`` taken within each round."""
    return spread([r[numerator] / r[denominator] for r in rounds])


def medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each mode's median over the rounds."""
    return {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}


def warn_unsteady(label: str, summaries: dict[str, dict], stream=None) -> list[str]:
    """Print one line per unsteady summary (to stderr) and return the lines."""
    lines = [f"warning: {label}: {name} is unsteady: ranges {s['min']:.3g} to {s['max']:.3g} around "
             f"{s['median']:.3g} ({s['relative_range']:.0%} > {STEADY_BAND:.0%}); measure again on a quieter machine"
             for name, s in summaries.items() if s["unsteady"]]
    for line in lines:
        print(line, file=stream or sys.stderr)
    return lines
