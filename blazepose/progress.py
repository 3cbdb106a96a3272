"""A dependency-free progress line for long loops (evaluation, video, feature extraction)."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressBar:
    """``label 120/500 (24%) 31.5 examples/s ETA 12s`` on ``stream`` (default stderr).

    On a terminal the line is redrawn in place at most every ``min_interval`` seconds; in a log
    file (not a TTY) a line is written at most every ``log_interval`` seconds, so logs stay
    short. ``total`` may be None (unknown): then no percentage or ETA. ``close()`` writes the
    final line.
    """

    def __init__(self, total: int | None, label: str = "", unit: str = "examples", stream=None,
                 min_interval: float = 0.2, log_interval: float = 10.0, clock=time.monotonic):
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self._clock = clock
        self._start = clock()
        self._last_shown = -float("inf")
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = min_interval if self._interactive else log_interval
        self._closed = False

    def text(self) -> str:
        """The current progress line."""
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.count / elapsed
        parts = [f"{self.label} {self.count}".strip()]
        if self.total:
            parts[0] += f"/{self.total} ({100.0 * self.count / self.total:.0f}%)"
        parts.append(f"{rate:.1f} {self.unit}/s")
        if self.total and rate > 0 and self.count < self.total:
            parts.append(f"ETA {_duration((self.total - self.count) / rate)}")
        else:
            parts.append(f"in {_duration(elapsed)}")
        return " ".join(parts)

    def update(self, count: int = 1) -> None:
        """Adds ``count`` done items and redraws when due."""
        self.count += count
        now = self._clock()
        if now - self._last_shown >= self._interval:
            self._show()
            self._last_shown = now

    def _show(self, final: bool = False) -> None:
        if self._interactive:
            self.stream.write("\r\033[K" + self.text() + ("\n" if final else ""))
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Writes the final line (once)."""
        if not self._closed:
            self._closed = True
            self._show(final=True)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


__all__ = ["ProgressBar"]
