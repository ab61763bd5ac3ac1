"""Percentiles and latency summaries: the one definition tests and benchmarks share."""

import math
import statistics


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (fraction 0.5 for the median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def summary(seconds):
    """{count, p50, p95, p99, max} of durations in seconds, reported in milliseconds."""

    def ms(value):
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(seconds),
        "p50": ms(percentile(seconds, 0.50)),
        "p95": ms(percentile(seconds, 0.95)),
        "p99": ms(percentile(seconds, 0.99)),
        "max": ms(max(seconds) if seconds else None),
    }


def median(values):
    return statistics.median(values) if values else None
