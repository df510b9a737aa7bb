"""Timing helpers shared by the benchmark scripts."""
import statistics
import time

import numpy as np


def rounds(functions, repeats, rounds=3):
    """Median seconds of each function, and all its times.

    ``rounds`` rounds; in each, every function is timed in a run of consecutive calls
    (after one untimed warm-up call: as in training, the same graph again and again,
    caches warm), the rounds alternating between the functions, so slow drifts of the
    machine hit all of them alike.
    """
    times = {name: [] for name in functions}
    per_round = max(1, -(-repeats // rounds))
    for _ in range(rounds):
        for name, function in functions.items():
            function()
            for _ in range(per_round):
                start = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, times


def spread(times):
    """Interquartile range over median, a noise indicator."""
    q = np.percentile(times, [25, 50, 75])
    return (q[2] - q[0]) / q[1]
