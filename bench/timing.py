"""Timing shared by the PyTorch comparison scripts in bench/."""
import statistics
import time


def median_time(fn, min_seconds=0.2, reps=5):
    """Median over `reps` samples of fn's time, each sample averaging enough
    calls to last min_seconds / reps, after one warm-up call."""
    fn()
    samples = []
    for _ in range(reps):
        runs, start = 0, time.perf_counter()
        while True:
            fn()
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / reps:
                break
        samples.append(elapsed / runs)
    return statistics.median(samples)
