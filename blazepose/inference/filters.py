"""Temporal filters of MediaPipe's pose tracking: low-pass and one-euro, vectorised over arrays.

Each element of the filtered array has its own filter state (MediaPipe keeps one filter per
landmark and axis); all elements share the timestamps. Times are seconds (floats).

One-euro filter (Casiez, Roussel and Vogel, CHI 2012), as MediaPipe's ``OneEuroFilter``:

* ``alpha(cutoff) = 1 / (1 + tau / te)`` with ``tau = 1 / (2 pi cutoff)`` and ``te = 1 / f``;
* ``f`` is 1 / (time since the previous sample), or ``frequency`` for the first sample;
* derivative ``dx = (x - previous raw x) * value_scale * f`` (0 for the first sample),
  low-passed with ``alpha(derivative_cutoff)``;
* ``cutoff = min_cutoff + beta * |smoothed dx|``; output = low-pass of x with ``alpha(cutoff)``.

``value_scale`` makes the speed relative to the object's size (MediaPipe: 1 / object scale in
pixels), so the same parameters work for near and far people.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


class LowPassFilter:
    """Exponential smoothing ``y = alpha x + (1 - alpha) y_prev``; the first value passes."""

    def __init__(self, alpha: float):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha
        self._raw: np.ndarray | None = None
        self._stored: np.ndarray | None = None

    @property
    def last_raw_value(self) -> np.ndarray | None:
        return self._raw

    def reset(self) -> None:
        self._raw = None
        self._stored = None

    def apply(self, value, alpha=None) -> np.ndarray:
        """Filters ``value`` (any shape, fixed across calls); ``alpha`` overrides, per element
        when an array."""
        value = np.asarray(value, np.float64)
        alpha = self.alpha if alpha is None else alpha
        if self._stored is None:
            stored = value.copy()
        else:
            if self._stored.shape != value.shape:
                raise ValueError(f"value shape {value.shape} changed from {self._stored.shape}; "
                                 "reset() the filter first")
            stored = alpha * value + (1.0 - alpha) * self._stored
        self._raw = value.copy()
        self._stored = stored
        return stored.copy()


@dataclasses.dataclass(frozen=True)
class OneEuroConfig:
    """Parameters of a one-euro filter (MediaPipe's ``OneEuroFilter`` options).

    Attributes:
      min_cutoff: Hz, the cutoff of a still signal (lower: smoother, more lag).
      beta: how fast the cutoff grows with the (scaled) speed (higher: less lag when moving).
      derivative_cutoff: Hz, the cutoff of the speed estimate.
      frequency: Hz, assumed for the first sample.
      scale_by_object: divide speeds by the object's size (off for metric world landmarks).
      min_object_scale: below this object size (pixels) values pass unfiltered.
    """

    min_cutoff: float
    beta: float
    derivative_cutoff: float = 1.0
    frequency: float = 30.0
    scale_by_object: bool = True
    min_object_scale: float = 1e-6

    def __post_init__(self):
        for name in ("min_cutoff", "derivative_cutoff", "frequency"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")


# MediaPipe's pose_landmark_filtering.pbtxt.
LANDMARKS_FILTER = OneEuroConfig(min_cutoff=0.05, beta=80.0, derivative_cutoff=1.0)
WORLD_LANDMARKS_FILTER = OneEuroConfig(min_cutoff=0.1, beta=40.0, derivative_cutoff=1.0,
                                       scale_by_object=False)
AUXILIARY_LANDMARKS_FILTER = OneEuroConfig(min_cutoff=0.01, beta=10.0, derivative_cutoff=1.0)
VISIBILITY_ALPHA = 0.1


def smoothing_alpha(cutoff, frequency: float):
    """``1 / (1 + tau / te)``, ``tau = 1 / (2 pi cutoff)``, ``te = 1 / frequency``."""
    te = 1.0 / frequency
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / te)


class OneEuroFilter:
    """MediaPipe's one-euro filter over an array of independent values sharing timestamps."""

    def __init__(self, config: OneEuroConfig):
        self.config = config
        self._frequency = config.frequency
        self._last_time: float | None = None
        self._x = LowPassFilter(smoothing_alpha(config.min_cutoff, config.frequency))
        self._dx = LowPassFilter(smoothing_alpha(config.derivative_cutoff, config.frequency))

    @property
    def frequency(self) -> float:
        """Hz, from the last two timestamps (``config.frequency`` before that)."""
        return self._frequency

    def reset(self) -> None:
        self._frequency = self.config.frequency
        self._last_time = None
        self._x.reset()
        self._dx.reset()

    def apply(self, value, timestamp_s: float, object_scale: float | None = None) -> np.ndarray:
        """Filters ``value`` (float array, fixed shape) observed at ``timestamp_s`` seconds.

        Args:
          object_scale: the object's size in the values' unit (pixels), used when
            ``config.scale_by_object``: speeds are divided by it. None: no scaling.
        Returns:
          float64 array of ``value``'s shape. A timestamp not after the previous one returns
          ``value`` unfiltered and leaves the state unchanged (as MediaPipe does).
        """
        value = np.asarray(value, np.float64)
        value_scale = 1.0
        if self.config.scale_by_object and object_scale is not None:
            if object_scale < self.config.min_object_scale:
                return value.copy()
            value_scale = 1.0 / object_scale
        if self._last_time is not None:
            if timestamp_s <= self._last_time:
                return value.copy()
            self._frequency = 1.0 / (timestamp_s - self._last_time)
        self._last_time = timestamp_s
        previous = self._x.last_raw_value
        speed = (np.zeros_like(value) if previous is None
                 else (value - previous) * value_scale * self._frequency)
        smoothed_speed = self._dx.apply(
            speed, smoothing_alpha(self.config.derivative_cutoff, self._frequency))
        cutoff = self.config.min_cutoff + self.config.beta * np.abs(smoothed_speed)
        return self._x.apply(value, smoothing_alpha(cutoff, self._frequency))
