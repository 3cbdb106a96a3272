"""Wall-clock timing of a repeated call, shared by the benchmark scripts (``import timing``:
a script's own folder is first on ``sys.path``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def call_times_ms(function: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Milliseconds taken by each of ``repeats`` calls of ``function()``, sorted ascending, after
    ``warmup`` untimed calls (tracing, allocation, caches)."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e3)
    return sorted(samples)


def median_and_p90(samples_ms: list[float]) -> tuple[float, float]:
    """The median and the 90th percentile (nearest rank below) of sorted ``samples_ms``."""
    return statistics.median(samples_ms), samples_ms[int(0.9 * (len(samples_ms) - 1))]
